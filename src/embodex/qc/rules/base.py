"""What every rule shares: its parameter model, its registry entry and the findings sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ..findings import Finding, Note, Severity, grade

__all__ = [
    "Findings",
    "Flag",
    "Graded",
    "RuleParams",
    "RuleSpec",
]


class RuleParams(BaseModel):
    """Parameters of one rule. Every rule can be switched off with ``enabled: false``.

    Subclasses declare no defaults (besides ``enabled``): the profile YAML is the one place
    thresholds are written down, so the digest of a profile says everything.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class Flag(RuleParams):
    """A yes/no rule: a finding has this severity."""

    severity: Severity


class Graded(RuleParams):
    """A measured value graded against upper thresholds: above ``fail`` fails, above ``warn``
    warns; ``null`` switches a level off."""

    warn: float | None
    fail: float | None

    @model_validator(mode="after")
    def _order(self) -> Graded:
        if self.warn is not None and self.fail is not None and self.fail < self.warn:
            raise ValueError(f"fail ({self.fail}) must not be below warn ({self.warn})")
        return self

    def grade(self, value: float) -> tuple[Severity, float] | None:
        return grade(value, self.warn, self.fail)


@dataclass(frozen=True)
class RuleSpec:
    """One rule: its id (``family.name``), parameter model, unit of its measured value,
    and a one-line summary (the report and ``embodex qc profile`` show it)."""

    id: str
    params: type[RuleParams]
    unit: str
    summary: str
    scope: Literal["dataset", "episode", "frames", "images", "batch"] = "frames"

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass
class Findings:
    """Collects findings; the unit of each comes from its rule."""

    units: dict[str, str]
    items: list[Finding] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def note(self, rule: str, message: str, subject: str | None = None) -> None:
        """A dataset-level note (once: the same note twice is kept once)."""
        n = Note(rule, message, subject)
        if n not in self.notes:
            self.notes.append(n)

    def add(
        self,
        rule: str,
        episode_id: str,
        severity: Severity,
        message: str,
        *,
        measured: float | None = None,
        threshold: float | None = None,
        frames: tuple[int, int] | None = None,
        subject: str | None = None,
    ) -> None:
        self.items.append(
            Finding(
                rule=rule,
                episode_id=episode_id,
                severity=severity,
                message=message,
                unit=self.units.get(rule, ""),
                measured=None if measured is None else float(measured),
                threshold=None if threshold is None else float(threshold),
                frame_start=None if frames is None else int(frames[0]),
                frame_end=None if frames is None else int(frames[1]),
                subject=subject,
            )
        )
