"""``transcode_dataset(..., ray=ADDRESS)``: the decode/encode of each episode on a Ray task.

One task per episode reads the source dataset (at the same path the driver sees), converts
the chosen cameras exactly as a local run does — video decoded once and stored as JPEG
frames, or frames (or video in another codec) encoded as the camera's codec — and leaves
the result in a staging folder beside the output (:mod:`.staging_area`): per camera an MP4,
or an Arrow IPC file of the JPEG frames. The driver takes the results in source order and
writes them through the same ``DatasetWriter`` (an MP4 is copied byte for byte, JPEG bytes
stored as they are), so shard boundaries, file names and the digest are a local run's.

Ray is imported only through :mod:`.cluster`, only when this module's :func:`staged_convert`
runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .cluster import worker_dataset
from .episode import Episode
from .models import Camera
from .reader import Dataset
from .staging_area import StagedFile, StagingArea
from .videostore import VideoClip, VideoEncoding, encode_frames

__all__ = ["TranscodeJob", "staged_convert", "transcode_episode"]


@dataclass(frozen=True)
class TranscodeJob:
    """What every task of one transcode shares (put in the object store once)."""

    root: str  # the source dataset, as the workers see it
    digest: str
    changes: dict[str, tuple[Camera, Camera]]  # camera → (as stored, as asked)
    fps: float
    gop: int
    staging: StagingArea


def transcode_episode(unit: tuple[int, str], job: TranscodeJob) -> dict[str, StagedFile]:
    """On a Ray worker: convert episode ``unit = (position, episode id)``'s chosen cameras
    into staged files; returns camera → the staged file."""
    from .transcode import convert_frames  # the local run's conversion, shared

    position, eid = unit
    episode = worker_dataset(job.root, job.digest).episode(eid).to_episode()
    out: dict[str, StagedFile] = {}
    for slot, (name, (old, new)) in enumerate(job.changes.items()):
        frames = convert_frames(episode.images[name], old, new)
        base = f"ep{position:07d}-cam{slot:02d}"
        if new.is_video:
            # what DatasetWriter._write_video does with raw frames, here on the worker
            rgb = frames.decode() if isinstance(frames, VideoClip) else frames
            out[name] = job.staging.stage(base + ".mp4", _video_writer(rgb, new, job))
        else:
            out[name] = job.staging.stage(base + ".arrow", _frames_writer(frames))
    return out


def _video_writer(rgb: Any, cam: Camera, job: TranscodeJob) -> Callable[[Path], object]:
    def write(path: Path) -> int:
        return encode_frames(
            rgb, path, codec=cam.encoding, fps=job.fps, width=cam.width, height=cam.height,
            encoding=VideoEncoding(gop=job.gop),
        )  # fmt: skip

    return write


def _frames_writer(frames: list[bytes]) -> Callable[[Path], object]:
    def write(path: Path) -> None:
        table = pa.table({"frame": pa.array(frames, pa.binary())})
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)

    return write


def _read_frames(path: Path) -> list[bytes]:
    with pa.OSFile(str(path), "rb") as src:
        frames: list[bytes] = pa.ipc.open_file(src).read_all().column(0).to_pylist()
    return frames


def staged_convert(
    address: str, src: Dataset, changes: dict[str, tuple[Camera, Camera]], gop: int, dest: Path
) -> tuple[Callable[[Episode], Episode], Callable[[], None]]:
    """A ``transform`` for ``copy_episodes`` over ``src``'s episodes in order, whose
    conversions run on the Ray cluster at ``address``; and the clean-up to call at the end
    (cancels what is in flight, removes the staging folder)."""
    from .cluster import ordered_map

    staging = StagingArea.beside(dest, "ray-staging")
    job = TranscodeJob(str(src.root), src.digest, changes, src.meta.fps, gop, staging)
    units = list(enumerate(src.episode_ids))
    results: Iterator[dict[str, StagedFile]] = ordered_map(
        address, transcode_episode, units, job, name="transcode"
    )
    done: list[StagedFile] = []

    def convert(episode: Episode) -> Episode:
        for staged in done:  # the previous episode is committed: its files are copied
            staging.discard(staged)
        done.clear()
        staged_files = next(results)
        images: dict[str, Any] = dict(episode.images)
        for name, staged in staged_files.items():
            path = staging.take(staged)
            new = changes[name][1]
            images[name] = VideoClip(path, verbatim=True) if new.is_video else _read_frames(path)
            done.append(staged)
        return dataclasses.replace(episode, images=images)

    def finish() -> None:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # an early stop cancels the tasks still in flight
        staging.remove()

    return convert, finish
