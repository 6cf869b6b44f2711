"""Findings and verdicts: what a rule reports about one episode, and what that makes it.

A finding names the rule, the episode, the frames (half-open ``[frame_start, frame_end)``),
the measured value, the threshold it crossed, its unit and a severity. An episode's
automatic verdict is FAIL when any finding is ``fail``, WARN when any is ``warn``, else PASS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

__all__ = [
    "FINDINGS_SCHEMA",
    "FRAMES_HEADING",
    "Finding",
    "Note",
    "Severity",
    "Verdict",
    "auto_verdict",
    "findings_from_table",
    "findings_table",
    "frame_range",
    "grade",
]

#: Column heading for :func:`frame_range` wherever findings are listed for people.
FRAMES_HEADING = "frames [from, to)"


def frame_range(start: int | None, end: int | None) -> str:
    """A finding's frames as people read them, half-open like everywhere in embodex:
    ``[98, 100)`` is frames 98 and 99; ``-`` when the finding concerns no frames."""
    if start is None or end is None:
        return "-"
    return f"[{start}, {end})"


Severity = Literal["warn", "fail"]
Verdict = Literal["PASS", "WARN", "FAIL"]

FINDINGS_SCHEMA = pa.schema(
    [
        pa.field("episode_id", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("frame_start", pa.int64()),
        pa.field("frame_end", pa.int64()),
        pa.field("measured", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("subject", pa.string()),
        pa.field("message", pa.string(), nullable=False),
    ],
    metadata={b"embodex.kind": b"embodex.qc-findings", b"embodex.version": b"1"},
)


@dataclass(frozen=True)
class Finding:
    """One problem found in one episode.

    ``frame_start``/``frame_end``: the frames concerned, half-open; ``None`` when the finding
    is about the whole episode (a missing label, a dataset-wide setting). ``subject``: the
    joint, camera or field concerned, when there is one.
    """

    rule: str
    episode_id: str
    severity: Severity
    message: str
    unit: str = ""
    measured: float | None = None
    threshold: float | None = None
    frame_start: int | None = None
    frame_end: int | None = None
    subject: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "episode_id": self.episode_id,
            "rule": self.rule,
            "severity": self.severity,
            "frame_start": self.frame_start,
            "frame_end": self.frame_end,
            "measured": self.measured,
            "threshold": self.threshold,
            "unit": self.unit,
            "subject": self.subject,
            "message": self.message,
        }


@dataclass(frozen=True)
class Note:
    """A dataset-level fact QC reports once, apart from the episodes' findings: something
    the recorder does not ship (calibration) or a rule that cannot run because a fact is
    missing (no joint limits declared). Notes never change an episode's verdict."""

    rule: str
    message: str
    subject: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "subject": self.subject, "message": self.message}


def grade(value: float, warn: float | None, fail: float | None) -> tuple[Severity, float] | None:
    """Severity and crossed threshold of ``value`` against upper thresholds (strictly above).

    ``None`` thresholds are off; NaN never crosses anything.
    """
    if fail is not None and value > fail:
        return "fail", fail
    if warn is not None and value > warn:
        return "warn", warn
    return None


def auto_verdict(findings: Iterable[Finding]) -> Verdict:
    """FAIL if any finding fails, WARN if any warns, else PASS."""
    worst: Verdict = "PASS"
    for f in findings:
        if f.severity == "fail":
            return "FAIL"
        worst = "WARN"
    return worst


def findings_table(findings: Sequence[Finding]) -> pa.Table:
    """The Arrow table stored as the QC findings file."""
    columns: dict[str, list[Any]] = {name: [] for name in FINDINGS_SCHEMA.names}
    for f in findings:
        for key, value in f.as_dict().items():
            columns[key].append(value)
    return pa.table(columns, schema=FINDINGS_SCHEMA)


def findings_from_table(table: pa.Table) -> list[Finding]:
    """Findings back from their Arrow table."""
    return [
        Finding(
            rule=r["rule"],
            episode_id=r["episode_id"],
            severity=r["severity"],
            message=r["message"],
            unit=r["unit"],
            measured=r["measured"],
            threshold=r["threshold"],
            frame_start=r["frame_start"],
            frame_end=r["frame_end"],
            subject=r["subject"],
        )
        for r in table.to_pylist()
    ]
