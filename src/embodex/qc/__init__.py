"""Quality control: rules and profiles, verdicts, the QC manifest, manual review, reports.

See specs/qc.md. The usual flow::

    from embodex.qc import run_qc, write_qc
    result = run_qc("datasets/week01")           # default profile humanoid-30fps
    manifest = write_qc("datasets/week01", result)
"""

from .findings import Finding, Severity, Verdict
from .profile import Profile, default_profile, load_profile
from .rules import RULES, RuleSpec
from .runner import EpisodeResult, QCResult, run_qc

__all__ = [
    "RULES",
    "EpisodeResult",
    "Finding",
    "Profile",
    "QCResult",
    "RuleSpec",
    "Severity",
    "Verdict",
    "default_profile",
    "load_profile",
    "run_qc",
]
