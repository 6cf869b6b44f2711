"""What every exporter shares: the report, the source dataset, an output published whole."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import DatasetExistsError, InteropError
from ...fsutil import fsync_dir
from ..models import DatasetMeta
from ..reader import Dataset, open_dataset

__all__ = ["ExportReport", "require_frame_cameras", "resolve_dataset", "staged_output"]


def require_frame_cameras(
    meta: DatasetMeta, what: str, cameras: Sequence[str] | None = None
) -> None:
    """Refuse video cameras (format 1.1) where an exporter reads stored frames only."""
    for cam in meta.cameras:
        if cam.is_video and (cameras is None or cam.name in cameras):
            raise InteropError(
                f"camera {cam.name} is stored as video; {what} reads frame cameras only for now",
                hint="Build a JPEG tier first: `transcode_dataset(src, dest, cameras='jpeg')`.",
            )


@dataclass
class ExportReport:
    """What an exporter wrote: where, how many episodes and frames, and what it left out."""

    path: Path
    episodes: int = 0
    frames: int = 0
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)
    #: where the export was uploaded (``export_hf(push=...)``), else None
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "episodes": self.episodes,
            "frames": self.frames,
            "files": self.files,
            "bytes": self.bytes,
            "notes": self.notes,
            **({"url": self.url} if self.url is not None else {}),
        }

    def count_files(self) -> None:
        files = [p for p in self.path.rglob("*") if p.is_file()]
        self.files = len(files)
        self.bytes = sum(p.stat().st_size for p in files)


def resolve_dataset(dataset: str | Path | Dataset) -> Dataset:
    """An open dataset (or view) as given, or the dataset at that path."""
    return dataset if isinstance(dataset, Dataset) else open_dataset(dataset)


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """A scratch folder beside ``out`` that becomes ``out`` only when the block succeeds.

    ``out`` must not exist or be an empty folder (``DatasetExistsError`` otherwise). A crash
    or an error leaves no half-written export under ``out``; the scratch folder is removed
    (or, after a kill, left as ``.<name>.partial-*`` beside it, never mistaken for output).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetExistsError(
            f"{out} already exists and is not empty",
            hint="Choose a new output folder, or delete the old export first.",
            path=out,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield scratch
        if out.exists():
            out.rmdir()
        os.replace(scratch, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
