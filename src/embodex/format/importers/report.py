"""What an import did: the report every importer returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImportReport"]


@dataclass
class ImportReport:
    """What an importer (such as ``import_agibot``) did.

    ``skipped`` holds ``(episode id, one-line reason)`` for every episode left out with
    ``skip_bad=True``; ``notes`` holds things worth knowing that were not errors (episode
    folders no task_info names, videos that are not imported).
    """

    dataset: Path
    episodes: int = 0
    frames: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
