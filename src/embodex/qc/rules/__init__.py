"""Every QC rule, by family. ``RULES`` maps rule id -> :class:`RuleSpec` in report order."""

from __future__ import annotations

from . import batch, episode, images, integrity, motion, numeric, timing
from .base import Findings, Flag, Graded, RuleParams, RuleSpec
from .context import Plan

__all__ = [
    "FAMILIES",
    "RULES",
    "Findings",
    "Flag",
    "Graded",
    "Plan",
    "RuleParams",
    "RuleSpec",
]

FAMILIES = ("integrity", "timing", "numeric", "motion", "episode", "images", "batch")

RULES: dict[str, RuleSpec] = {
    spec.id: spec
    for module in (integrity, timing, numeric, motion, episode, images, batch)
    for spec in module.SPECS
}
