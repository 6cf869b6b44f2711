"""``export_lerobot(..., ray=ADDRESS)``: each episode's conversion on a Ray task.

A task per episode reads the source dataset (at the path the driver sees), runs the
export's per-episode half (:class:`~.lerobot.EpisodeConverter`: feature columns, image
columns — decoding video cameras and encoding them as JPEG — and per-episode statistics)
and leaves the columns as an Arrow IPC file in a staging folder beside the output. The
driver takes them in source order and places them in LeRobot's shared parquet (and MP4)
files exactly as a local run does: task and sub-task numbering, file roll-over and global
indices depend on the episodes before, so they stay on the driver, and the export is byte
for byte a local run's. With ``video=True`` the MP4 encoding also stays on the driver
(LeRobot packs many episodes into one MP4 stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..cluster import worker_dataset
from ..reader import Dataset
from ..staging_area import StagedFile, StagingArea
from . import lerobot_stats as st
from .lerobot import EpisodeConverter, EpisodePart

__all__ = ["ExportJob", "prepare_episode", "prepared_parts"]


@dataclass(frozen=True)
class ExportJob:
    """What every task of one export shares (put in the object store once)."""

    root: str
    digest: str
    converter: EpisodeConverter
    staging: StagingArea


def prepare_episode(
    unit: tuple[int, str], job: ExportJob
) -> tuple[StagedFile, dict[str, st.Stats | None], list[str]]:
    """On a Ray worker: convert episode ``unit = (position, id)``; its columns go to the
    staging folder, its statistics and the cameras left to the driver come back."""
    position, eid = unit
    part = job.converter.prepare(worker_dataset(job.root, job.digest).episode(eid))
    table = pa.table(part.columns)

    def write(path: Path) -> None:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)

    return job.staging.stage(f"ep{position:07d}.arrow", write), part.stats, part.pending


def prepared_parts(
    address: str, ds: Dataset, converter: EpisodeConverter, out: Path
) -> Iterator[EpisodePart]:
    """The conversions of ``ds``'s episodes, in order, computed on the Ray cluster at
    ``address``. Closing the iterator early cancels the tasks in flight; the staging folder
    is removed when it ends either way."""
    from ..cluster import ordered_map  # imports Ray (only with ray=)

    staging = StagingArea.beside(out, "ray-staging")
    job = ExportJob(str(ds.root), ds.digest, converter, staging)
    units = list(enumerate(ds.episode_ids))
    results = ordered_map(address, prepare_episode, units, job, name="export")
    try:
        for staged, stats, pending in results:
            path = staging.take(staged)
            with pa.OSFile(str(path), "rb") as src:
                table = pa.ipc.open_file(src).read_all()
            staging.discard(staged)
            columns = {name: table.column(name).combine_chunks() for name in table.column_names}
            yield EpisodePart(columns, stats, pending)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        staging.remove()
