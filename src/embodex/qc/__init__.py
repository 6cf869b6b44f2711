"""Quality control: rules and profiles, verdicts, the QC manifest, manual review, reports.

See specs/qc.md. The usual flow::

    from embodex.qc import check_dataset
    from embodex.reports import write_report
    summary = check_dataset("datasets/week01")   # run_qc + write_qc; default humanoid-30fps
    summary.raise_for_gate()                     # QCFailedError when an episode FAILs
    write_report("datasets/week01", "week01-qc.html")

``run_qc`` and ``write_qc`` are the two steps on their own.

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
from .review import (
    ReviewNext,
    ReviewRecorded,
    Reviews,
    list_reviews,
    next_review,
    record_review,
    review_queue,
    review_status,
    reviews,
    set_review,
)
from .reviewlog import REASONS, ReviewEntry
from .rules import RULES, RuleSpec
from .runner import EpisodeResult, QCResult, run_qc
from .summary import QCRunSummary, check_dataset, read_known_ids, resolve_profile
from .trims import suggested_trims, trim_dataset

__all__ = [
    "REASONS",
    "RULES",
    "EpisodeResult",
    "Finding",
    "Profile",
    "QCManifest",
    "QCResult",
    "QCRunSummary",
    "ReviewEntry",
    "ReviewNext",
    "ReviewRecorded",
    "Reviews",
    "RuleSpec",
    "Severity",
    "Verdict",
    "apply_reviews",
    "check_dataset",
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
    "next_review",
    "read_known_ids",
    "record_review",
    "resolve_profile",
    "review_queue",
    "review_status",
    "reviews",
    "run_qc",
    "set_review",
    "suggested_trims",
    "trim_dataset",
    "write_qc",
]
