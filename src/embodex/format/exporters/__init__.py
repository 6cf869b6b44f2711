"""Exporters from embodex datasets to other ecosystems' formats.

``export_dataset(kind, dataset, out, **options)`` picks one from :data:`EXPORTERS`;
each module is imported only when used, so a missing optional dependency fails only the
exporter that needs it (``MissingExtraError`` naming the extra to install).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..reader import Dataset
from .common import ExportReport

__all__ = ["EXPORTERS", "ExportReport", "export_dataset"]

#: kind → (module, function, one-line description).
EXPORTERS: dict[str, tuple[str, str, str]] = {
    "lerobot": ("lerobot", "export_lerobot", "LeRobot v3.0 dataset (parquet, images or MP4)"),
    "hf": ("hf", "export_hf", "Hugging Face Hub layout (Parquet shards, card with configs)"),
}


def exporter(kind: str) -> Callable[..., ExportReport]:
    """The export function for ``kind``; ``ConfigError`` for an unknown kind."""
    if kind not in EXPORTERS:
        raise ConfigError(
            f"unknown export format {kind!r}", hint=f"Use one of {', '.join(EXPORTERS)}."
        )
    module, func, _ = EXPORTERS[kind]
    fn: Callable[..., ExportReport] = getattr(importlib.import_module(f"{__name__}.{module}"), func)
    return fn


def export_dataset(
    kind: str, dataset: str | Path | Dataset, out: str | Path, **options: Any
) -> ExportReport:
    """Export ``dataset`` to ``out`` in format ``kind`` (see :data:`EXPORTERS`).

    Example::

        export_dataset("lerobot", "datasets/week01", "exports/lerobot", video=True)
    """
    return exporter(kind)(dataset, out, **options)
