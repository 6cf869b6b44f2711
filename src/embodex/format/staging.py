"""Episodes turned into files by a worker, committed by the driver (``--ray``, issue 14).

A Ray task packaging one episode writes what the dataset will hold for it into a folder of
the staging area next to the output (``<out>/../.<name>.staging/<run key>/<episode>/``):

- ``<camera>.mp4``: each video camera's file, remuxed or encoded, fsynced, hashed;
- ``frames.arrows`` and ``stream-<name>.arrows``: the episode's record batches (Arrow IPC
  stream) exactly as :class:`~.writer.DatasetWriter` would write them, with episode index 0;
- ``row.arrow``: its episode-table row (statistics included);
- ``staged.json``: the record above (sizes, hashes, frame and sample counts, the notes
  the load raised) and the key of the inputs it was made from. Written last.

The folder is built as ``<episode>.partial-<pid>-<random>`` and renamed into place in one
step, so a killed worker leaves no half-written episode visible. Video files are fsynced
(the dataset will link them); the others are checked against their recorded sizes when
reused. The driver
(:meth:`~.writer.DatasetWriter.add_staged`) links the videos into ``videos/`` and copies the
batches into its shards with the episode's index: the same bytes and shard boundaries as a
local run. A re-run after a crashed driver finds the staged folders whose key still matches
its inputs (:func:`load_staged`) and packages nothing twice; the staging area is removed
once the dataset is published.

Transcode and LeRobot export stage single files in a per-job folder instead
(:mod:`.staging_area`): they are not resumed after a killed driver, so their folder needs no
stable name or inputs key. Both share the durable-write steps (``fsutil.fsync_path``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..canonical import sha256_file
from ..errors import CorruptDatasetError
from ..fsutil import fsync_path
from .episode import Episode
from .models import DatasetMeta
from .videostore import VideoEncoding
from .writer import EpisodeEncoder, _batch_ranges, _StoredVideo, write_video_file

__all__ = [
    "RECORD_FILE",
    "StagedEpisode",
    "load_staged",
    "read_staged_row",
    "stage_episode",
    "staged_batches",
    "staging_root",
]

RECORD_FILE = "staged.json"
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class StagedEpisode:
    """What the driver needs to commit a staged episode (small: it travels through Ray).

    ``videos``: camera -> (size, sha256) of ``<camera>.mp4``; ``streams``: stream ->
    samples; ``notes``: what loading the episode noted; ``repairs``: its
    ``extra["import_repairs"]``; ``reused``: found staged by an earlier run, not packaged
    now; ``where``: the node and worker that staged it."""

    folder: str
    episode_id: str
    frames: int
    videos: dict[str, tuple[int, str]] = field(default_factory=dict)
    streams: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    repairs: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False
    where: str = ""


def staging_root(out: Path) -> Path:
    """The staging area of output ``out``: a hidden folder beside it (so the dataset folder
    itself holds nothing until the writer opens it)."""
    return out.parent / f".{out.name}.staging"


def stage_episode(
    meta: DatasetMeta,
    episode: Episode,
    folder: Path,
    key: str,
    encoding: VideoEncoding,
    notes: list[str],
    where: str = "",
) -> StagedEpisode:
    """Write ``episode`` into ``folder`` as described in the module docstring (atomically).

    Raises ``SchemaError`` when the episode does not fit ``meta`` (as ``add_episode`` would).
    """
    enc = EpisodeEncoder(meta, encoding)
    ep = episode.validated(meta)
    n = ep.num_frames
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}{_PARTIAL}{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        stored: dict[str, _StoredVideo] = {}
        videos: dict[str, tuple[int, str]] = {}
        for cam in meta.cameras:
            if not cam.is_video:
                continue
            dst = tmp / f"{cam.name}.mp4"
            pts, key_pts = write_video_file(meta, encoding, ep, cam, n, dst)
            fsync_path(dst)
            videos[cam.name] = (dst.stat().st_size, sha256_file(dst))
            stored[cam.name] = _StoredVideo(dst.name, pts, key_pts)
        images = enc._image_arrays(ep, n, stored)
        _write_stream_file(
            tmp / "frames.arrows",
            enc._frames_schema,
            [enc._frames_batch(ep, images, 0, lo, hi) for lo, hi in _batch_ranges(images, n)],
        )
        streams: dict[str, int] = {}
        for stream in meta.streams:
            m = len(ep.streams[stream.name][0])
            streams[stream.name] = m
            if m:
                _write_stream_file(
                    tmp / f"stream-{stream.name}.arrows",
                    enc._stream_schemas[stream.name],
                    [enc._stream_batch(stream, ep, 0)],
                )
        row = enc._episode_row(ep, 0, "", 0)
        for cam in meta.cameras:
            if cam.is_video:
                row[cam.video_column] = ""
        for stream in meta.streams:
            row.update({stream.shard_column: "", stream.start_column: 0, stream.count_column: 0})
        _write_stream_file(
            tmp / "row.arrow",
            enc._episodes_schema,
            pa.Table.from_pylist([row], schema=enc._episodes_schema).to_batches(),
        )
        staged = StagedEpisode(
            folder=str(folder),
            episode_id=ep.meta.episode_id,
            frames=n,
            videos=videos,
            streams=streams,
            notes=list(notes),
            repairs=list(ep.meta.extra.get("import_repairs", [])),
            where=where,
        )
        sizes = {f.name: f.stat().st_size for f in tmp.iterdir() if f.suffix != ".mp4"}
        record = {
            "key": key,
            "sizes": sizes,
            "episode_id": staged.episode_id,
            "frames": n,
            "videos": {k: list(v) for k, v in videos.items()},
            "streams": streams,
            "notes": staged.notes,
            "repairs": staged.repairs,
        }
        (tmp / RECORD_FILE).write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        # Only the videos were fsynced (the dataset links them): the other files serve a
        # re-run after a crash, which checks their recorded sizes and stages again if short.
        try:
            os.rename(tmp, folder)  # the staged episode appears whole, or not at all
        except OSError:
            if load_staged(folder, key) is not None:
                # a retry of this task (its first worker died after renaming) got there first
                shutil.rmtree(tmp, ignore_errors=True)
                return staged
            # staged from other inputs (the recording changed since): replace it
            shutil.rmtree(folder)
            os.rename(tmp, folder)
        return staged
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_staged(folder: Path, key: str, where: str = "") -> StagedEpisode | None:
    """The episode staged in ``folder`` from the same inputs (``key``), or None (nothing
    there, another key, or a file of another size than recorded)."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        videos = {str(k): (int(v[0]), str(v[1])) for k, v in record["videos"].items()}
        for cam, (size, _sha) in videos.items():
            if (folder / f"{cam}.mp4").stat().st_size != size:
                return None
        sizes = record["sizes"]
        if "frames.arrows" not in sizes or "row.arrow" not in sizes:
            return None
        for name, size in sizes.items():
            if (folder / str(name)).stat().st_size != int(size):
                return None
        return StagedEpisode(
            folder=str(folder),
            episode_id=str(record["episode_id"]),
            frames=int(record["frames"]),
            videos=videos,
            streams={str(k): int(v) for k, v in record["streams"].items()},
            notes=[str(n) for n in record["notes"]],
            repairs=list(record["repairs"]),
            reused=True,
            where=where,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def staged_batches(folder: Path, name: str, index: int) -> Iterator[pa.RecordBatch]:
    """The record batches of ``<name>.arrows`` with column 0 (``episode_index``) set to
    ``index``; the other columns are zero-copy views of the file."""
    with pa.memory_map(str(folder / f"{name}.arrows")) as src:
        reader = pa.ipc.open_stream(src)
        for batch in reader:
            col = pa.array(np.full(batch.num_rows, index, dtype=np.int64))
            yield batch.set_column(0, batch.schema.field(0), col)


def read_staged_row(folder: Path, schema: pa.Schema) -> dict[str, Any]:
    """The staged episode-table row (as ``DatasetWriter`` keeps rows: a dict)."""
    with pa.memory_map(str(folder / "row.arrow")) as src:
        table = pa.ipc.open_stream(src).read_all()
    if table.num_rows != 1 or not table.schema.equals(schema):
        raise CorruptDatasetError(
            f"{folder / 'row.arrow'} is not one row of this dataset's episode table",
            hint="Delete the staging folder and run the job again.",
        )
    row: dict[str, Any] = table.to_pylist()[0]
    return row


def _write_stream_file(path: Path, schema: pa.Schema, batches: list[pa.RecordBatch]) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
        for batch in batches:
            w.write_batch(batch)
