"""What the runner hands to rule families: the profile's typed parameters and a sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from ..robot import RobotFacts
from .base import Findings, Graded, RuleParams

__all__ = ["ImageSampling", "Plan"]

P = TypeVar("P", bound=RuleParams)


@dataclass(frozen=True)
class ImageSampling:
    """Which frames the image rules decode: ``sample_frames`` evenly spread plus a grid that
    cannot miss an event of ``min_event_s`` (None: no grid), or every frame."""

    sample_frames: int
    all_frames: bool = False
    min_event_s: float | None = None


@dataclass
class Plan:
    """The enabled rules of a profile with their typed parameters, and where findings go."""

    params_by_rule: dict[str, RuleParams]
    out: Findings
    nominal_fps: float
    robot: RobotFacts = field(default_factory=RobotFacts)
    #: None when the run checks no images (``run_qc(images="none")``)
    images: ImageSampling | None = None

    def note(self, rule: str, message: str, subject: str | None = None) -> None:
        """Say once, for the whole dataset, what a rule could not check or what is missing."""
        self.out.note(rule, message, subject)

    def get(self, rule: str, kind: type[P]) -> P | None:
        """The rule's parameters, or None when the profile switches it off."""
        p = self.params_by_rule.get(rule)
        if p is None or not p.enabled:
            return None
        assert isinstance(p, kind), (rule, type(p), kind)
        return p

    def require(self, rule: str, kind: type[P]) -> P:
        """The rule's parameters even when it is off (a shared definition other rules use)."""
        p = self.params_by_rule[rule]
        assert isinstance(p, kind), (rule, type(p), kind)
        return p

    def grade(
        self,
        rule: str,
        p: Graded,
        episode_id: str,
        value: float,
        message: str,
        *,
        frames: tuple[int, int] | None = None,
        subject: str | None = None,
    ) -> bool:
        """Grade ``value`` with ``p``; when it crosses a threshold, add the finding with the
        measured value and the crossed threshold. True when added."""
        g = p.grade(value)
        if not g:
            return False
        self.out.add(
            rule,
            episode_id,
            g[0],
            message,
            measured=value,
            threshold=g[1],
            frames=frames,
            subject=subject,
        )
        return True
