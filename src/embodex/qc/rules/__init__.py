"""Every QC rule, by family. ``RULES`` maps rule id -> :class:`RuleSpec` in report order;
``CHUNK_CHECKS`` are the families' checks over a chunk of frames, in the order they run.

A family is a module with ``SPECS`` (its rules) and, when it reads frames, a
``check_chunk(plan, chunk)``; adding a family to ``FAMILY_MODULES`` registers both, and the
runner loops over the registry without naming families."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ..chunk import Chunk
from . import batch, episode, images, integrity, motion, numeric, timing
from .base import Findings, Flag, Graded, RuleParams, RuleSpec
from .context import ImageSampling, Plan

__all__ = [
    "CHUNK_CHECKS",
    "FAMILIES",
    "RULES",
    "Findings",
    "Flag",
    "Graded",
    "ImageSampling",
    "Plan",
    "RuleParams",
    "RuleSpec",
]

ChunkCheck = Callable[[Plan, Chunk], None]

#: The rule families in report order.
FAMILY_MODULES: tuple[ModuleType, ...] = (
    integrity,
    timing,
    numeric,
    motion,
    episode,
    images,
    batch,
)
FAMILIES = tuple(m.__name__.rsplit(".", 1)[-1] for m in FAMILY_MODULES)

RULES: dict[str, RuleSpec] = {spec.id: spec for m in FAMILY_MODULES for spec in m.SPECS}

CHUNK_CHECKS: tuple[ChunkCheck, ...] = tuple(
    m.check_chunk for m in FAMILY_MODULES if hasattr(m, "check_chunk")
)
