"""Quality control: rules and profiles, verdicts, the QC manifest, manual review, reports.

See specs/qc.md. The usual flow::

    from embodex.qc import run_qc, write_qc
    from embodex.reports import write_report
    result = run_qc("datasets/week01")           # default profile humanoid-30fps
    manifest = write_qc("datasets/week01", result)
    write_report("datasets/week01", "week01-qc.html")

Defects for tests and demos: :mod:`embodex.demo.defects`.
"""

from .findings import Finding, Severity, Verdict
from .manifest import (
    QCManifest,
    apply_reviews,
    compare_manifests,
    describe_episode,
    final_verdict,
    load_findings,
    load_metrics,
    load_qc_manifest,
    load_qc_profile,
    write_qc,
)
from .profile import Profile, default_profile, load_profile
from .review import list_reviews, record_review, review_queue, review_status
from .reviewlog import REASONS, ReviewEntry
from .rules import RULES, RuleSpec
from .runner import EpisodeResult, QCResult, run_qc
from .trims import suggested_trims, trim_dataset

__all__ = [
    "REASONS",
    "RULES",
    "EpisodeResult",
    "Finding",
    "Profile",
    "QCManifest",
    "QCResult",
    "ReviewEntry",
    "RuleSpec",
    "Severity",
    "Verdict",
    "apply_reviews",
    "compare_manifests",
    "default_profile",
    "describe_episode",
    "final_verdict",
    "list_reviews",
    "load_findings",
    "load_metrics",
    "load_profile",
    "load_qc_manifest",
    "load_qc_profile",
    "record_review",
    "review_queue",
    "review_status",
    "run_qc",
    "suggested_trims",
    "trim_dataset",
    "write_qc",
]
