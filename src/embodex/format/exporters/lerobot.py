"""Export an embodex dataset as a LeRobot v3.0 dataset (``embodex export lerobot``).

The output loads with LeRobot's own ``LeRobotDataset("any/name", root=OUT)`` (the tests
prove it with lerobot 0.4.4). What goes where (specs/interop.md has the full table):

* features: ``state`` → ``observation.state``, ``action`` → ``action``, others by role
  (:func:`embodex.format.lerobot_v3.feature_key`); joint names become ``names``;
* colour cameras → ``observation.images.<camera>``: image features holding the stored JPEG
  or PNG bytes unchanged, or, with ``video=True``, MP4 files (AV1, H.264 or MPEG-4) per
  camera and data file. Depth cameras are left out (LeRobot has no 16-bit image feature);
* ``timestamp`` is ``frame_index / fps`` as LeRobot requires; the real capture times are kept
  in ``embodex.timestamp_ns`` (and per camera ``embodex.image_timestamp_ns.<camera>`` when
  every episode has them);
* the task of an episode is its English instruction, else its skill; sub-task segments
  become LeRobot sub-tasks (``subtask_index`` and ``meta/subtasks.parquet``);
* everything else about an episode (id, scene, operator, robot serial, success, segments,
  extra...) is in ``embodex/<field>`` columns of ``meta/episodes/``, which LeRobot returns
  in ``dataset.meta.episodes``; the dataset metadata (licence, provenance, robots,
  calibrated cameras, units) is ``meta/embodex/embodex.json`` and ``info.json["embodex"]``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ...canonical import canonical_json
from ...errors import InteropError, MissingExtraError
from ...units import count
from .. import lerobot_v3 as v3
from ..images import decode_image, encode_image
from ..models import Camera, DatasetMeta, EpisodeMeta
from ..reader import Dataset, EpisodeView
from ..video import VIDEO_CODECS, VideoWriter
from ..videostore import probe_index, write_clip
from . import lerobot_stats as st
from .common import ExportReport, resolve_dataset, staged_output

__all__ = ["export_lerobot"]

_NO_TASK = "unspecified task"
_NO_SUBTASK = ""


def export_lerobot(
    dataset: str | Path | Dataset,
    out: str | Path,
    *,
    video: bool = False,
    video_codec: str = "av1",
    on_episode: Callable[[str], None] | None = None,
    ray: str | None = None,
) -> ExportReport:
    """Write ``dataset`` (a path, an open dataset or a selection) to ``out`` as LeRobot v3.0.

    ``video=True`` stores colour cameras as MP4 (``video_codec``: ``av1``, ``h264`` or
    ``mpeg4``) instead of image bytes. ``out`` must not exist (or be empty); it appears
    only once complete. ``on_episode`` is called with each episode id once written.

    ``ray``: ``"auto"`` or a Ray cluster's address: each episode's conversion (features,
    image columns, statistics; video cameras decoded and JPEG-encoded) runs as a Ray task,
    staged beside ``out``; the driver writes the files in source order, so the export is
    byte for byte a local run's. The workers must see the dataset and ``out``'s folder at
    the same paths (specs/scale.md).

    Raises ``DatasetExistsError`` (``out`` not empty), ``InteropError`` (nothing to export,
    a camera frame missing, odd frame sizes for video) and the reader's errors.

    Example::

        report = export_lerobot("datasets/week01", "exports/week01-lerobot", video=True)
        print(report.frames, report.notes)
    """
    ds = resolve_dataset(dataset)
    if len(ds) == 0:
        raise InteropError(
            f"{ds.root}: no episodes to export", hint="Select at least one episode.", path=ds.root
        )
    if video and video_codec not in VIDEO_CODECS:
        raise InteropError(
            f"unknown video codec {video_codec!r}", hint=f"Use one of {', '.join(VIDEO_CODECS)}."
        )
    out = Path(out)
    report = ExportReport(path=out)
    with staged_output(out) as root:
        writer = _Writer(root, ds, video=video, codec=video_codec, notes=report.notes)
        parts: Iterator[EpisodePart | None] = itertools.repeat(None)
        if ray is not None:
            from .lerobot_ray import prepared_parts  # imports Ray (only with ray=)

            parts = prepared_parts(ray, ds, writer.converter, out)
        try:
            for position, (view, part) in enumerate(zip(ds, parts)):  # noqa: B905 - as many
                writer.add(position, view, part)
                report.episodes += 1
                report.frames += view.frame_count
                if on_episode is not None:
                    on_episode(view.episode_id)
        finally:
            close = getattr(parts, "close", None)
            if close is not None:  # Ray: cancel what is in flight, remove the staging
                close()
        writer.finish()
        if writer.copied_videos:
            report.notes.append(
                f"{count(writer.copied_videos, 'episode video')} copied as recorded (no "
                "re-encoding)"
            )
    report.count_files()
    return report


@dataclass
class _Cams:
    colour: list[Camera]
    timed: list[Camera]  # cameras whose capture times every episode has


def _plan_cameras(ds: Dataset, notes: list[str]) -> _Cams:
    colour = [c for c in ds.meta.cameras if c.kind == "color"]
    for cam in ds.meta.cameras:
        if cam.kind != "color":
            notes.append(
                f"depth camera {cam.name} is not exported: LeRobot image features are 8-bit RGB"
            )
    shards = set(ds.episodes.column("shard").to_pylist())
    timed = []
    for cam in colour:
        complete = all(
            ds.shard_table(s).column(cam.timestamp_column).null_count == 0 for s in shards
        )
        if complete:
            timed.append(cam)
    return _Cams(colour, timed)


def _features(ds: Dataset, cams: _Cams, video: bool, codec: str, subtasks: bool) -> dict[str, Any]:
    features: dict[str, Any] = {}
    for name, feat in ds.meta.feature_items():
        key = v3.feature_key(name, feat)
        if key in features:
            raise InteropError(
                f"features map to the same LeRobot key {key!r}",
                hint="Rename one of them in the embodex dataset before exporting.",
            )
        features[key] = {"dtype": feat.dtype, "shape": list(feat.shape), "names": feat.names}
    for cam in cams.colour:
        ft: dict[str, Any] = {
            "dtype": "video" if video else "image",
            "shape": [cam.height, cam.width, 3],
            "names": ["height", "width", "channels"],
        }
        if video:
            ft["info"] = {
                "video.height": cam.height,
                "video.width": cam.width,
                "video.codec": codec,
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": _fps_value(ds.meta.fps),
                "video.channels": 3,
                "has_audio": False,
            }
        features[v3.camera_key(cam.name)] = ft
    scalar = {"shape": [1], "names": None}
    features[v3.REAL_TIME_FEATURE] = {"dtype": "int64", **scalar}
    for cam in cams.timed:
        features[v3.image_time_feature(cam.name)] = {"dtype": "int64", **scalar}
    if subtasks:
        features["subtask_index"] = {"dtype": "int64", **scalar}
    features.update(json.loads(json.dumps(v3.DEFAULT_FEATURES)))
    return features


def _fps_value(fps: float) -> int | float:
    return int(fps) if float(fps).is_integer() else float(fps)


def _task(meta: EpisodeMeta) -> str:
    return meta.instruction_en or meta.skill or _NO_TASK


@dataclass
class EpisodePart:
    """One episode converted for LeRobot, before it is placed in the export's files: the
    columns and statistics that depend on the episode alone (what a Ray task computes).
    ``stats`` keeps every key in the export's order; a camera in ``pending`` (video
    exports: encoded into MP4 files several episodes share) is written by the driver and
    has ``None`` there until then."""

    columns: dict[str, Any]
    stats: dict[str, st.Stats | None]
    pending: list[str]


@dataclass(frozen=True)
class EpisodeConverter:
    """The per-episode half of the export: features, image columns (JPEG-encoding video
    cameras), per-episode statistics. Depends on nothing but the episode and the plan, so
    it runs wherever the dataset can be read (specs/scale.md)."""

    meta: DatasetMeta
    colour: tuple[Camera, ...]
    timed: tuple[Camera, ...]
    video: bool
    image_types: dict[str, pa.DataType]

    def prepare(self, view: EpisodeView) -> EpisodePart:
        n = view.frame_count
        columns: dict[str, Any] = {}
        stats: dict[str, st.Stats | None] = {}
        for name, feat in self.meta.feature_items():
            key = v3.feature_key(name, feat)
            values = view.feature(name)
            columns[key] = pa.FixedSizeListArray.from_arrays(
                pa.array(values.reshape(-1)), feat.shape[0]
            )
            stats[key] = st.vector_stats(values)
        pending: list[str] = []
        for cam in self.colour:
            key = v3.camera_key(cam.name)
            if self.video:
                stats[key] = None  # the key keeps its place in the order
                pending.append(cam.name)
                continue
            samples = st.sample_positions(n)
            if cam.is_video:  # decoded once, stored as JPEG image features
                decoded = dict(enumerate(view.images(cam.name)))
                stats[key] = st.image_stats([decoded[i] for i in samples], n)
                columns[key] = pa.array(
                    [
                        {"bytes": encode_image(decoded[i], "jpeg"), "path": f"frame-{i:06d}.jpg"}
                        for i in range(n)
                    ],
                    type=self.image_types[key],
                )
                continue
            frames = _frame_bytes(view, cam)
            stats[key] = st.image_stats([decode_image(frames[i], cam.encoding) for i in samples], n)
            suffix = "jpg" if cam.encoding == "jpeg" else "png"
            columns[key] = pa.array(
                [{"bytes": b, "path": f"frame-{i:06d}.{suffix}"} for i, b in enumerate(frames)],
                type=self.image_types[key],
            )
        times = view.timestamp_ns
        columns[v3.REAL_TIME_FEATURE] = pa.array(times, type=pa.int64())
        stats[v3.REAL_TIME_FEATURE] = st.vector_stats(times)
        for cam in self.timed:
            cam_times = view.image_timestamps_ns(cam.name)
            key = v3.image_time_feature(cam.name)
            columns[key] = pa.array(cam_times, type=pa.int64())
            stats[key] = st.vector_stats(np.asarray(cam_times))
        return EpisodePart(columns, stats, pending)


def _frame_bytes(view: EpisodeView, cam: Camera) -> list[bytes]:
    encoded = view.images(cam.name).all_encoded()
    if any(b is None for b in encoded):
        raise InteropError(
            f"episode {view.episode_id}: camera {cam.name} has frames without an image",
            hint="LeRobot needs every frame of every camera; select complete episodes.",
        )
    return [b for b in encoded if b is not None]


@dataclass
class _FileRoller:
    """Which chunk/file the next episode goes to; a new file once ``limit`` bytes are used."""

    limit: int
    chunk: int = 0
    file: int = 0
    used: int = 0
    started: bool = False

    def place(self, size: int) -> tuple[int, int, bool]:
        """(chunk, file, is_new_file) for an episode of ``size`` bytes."""
        new = not self.started
        if self.started and self.used >= self.limit:
            self.file += 1
            if self.file >= v3.CHUNK_SIZE:
                self.chunk, self.file = self.chunk + 1, 0
            self.used, new = 0, True
        self.started = True
        self.used += size
        return self.chunk, self.file, new


@dataclass
class _VideoFile:
    writer: VideoWriter
    chunk: int
    file: int


@dataclass
class _Writer:
    root: Path
    ds: Dataset
    video: bool
    codec: str
    notes: list[str]
    cams: _Cams = field(init=False)
    features: dict[str, Any] = field(init=False)
    tasks: dict[str, int] = field(default_factory=dict)
    subtasks: dict[str, int] = field(default_factory=dict)
    episode_rows: list[dict[str, Any]] = field(default_factory=list)
    episode_stats: list[dict[str, st.Stats]] = field(default_factory=list)
    index: int = 0

    def __post_init__(self) -> None:
        self.cams = _plan_cameras(self.ds, self.notes)
        has_segments = any(len(s or []) for s in self.ds.episodes.column("segments").to_pylist())
        self.features = _features(self.ds, self.cams, self.video, self.codec, has_segments)
        self.schema = pa.schema(
            [(k, v3.arrow_type(ft)) for k, ft in self.features.items() if ft["dtype"] != "video"]
        ).with_metadata(
            {
                "huggingface": json.dumps(
                    {
                        "info": {
                            "features": {
                                k: v3.hf_feature_json(ft)
                                for k, ft in self.features.items()
                                if ft["dtype"] != "video"
                            }
                        }
                    }
                )
            }
        )
        self.data_files = _FileRoller(v3.DATA_FILE_MB * 1024 * 1024)
        self.data_writer: pq.ParquetWriter | None = None
        self.video_rollers = {
            c.name: _FileRoller(v3.VIDEO_FILE_MB * 1024 * 1024) for c in self.cams.colour
        }
        self.video_files: dict[str, _VideoFile] = {}
        self.copied_videos = 0  # episode videos copied as recorded (no re-encoding)
        self.converter = EpisodeConverter(
            self.ds.meta,
            tuple(self.cams.colour),
            tuple(self.cams.timed),
            self.video,
            {
                v3.camera_key(c.name): v3.arrow_type(self.features[v3.camera_key(c.name)])
                for c in self.cams.colour
                if not self.video
            },
        )

    # -- one episode ---------------------------------------------------------------

    def add(self, position: int, view: EpisodeView, part: EpisodePart | None = None) -> None:
        """Write episode ``view`` as the ``position``-th of the export; ``part`` is its
        conversion when it was prepared elsewhere (a Ray task), else it is prepared here."""
        if part is None:
            part = self.converter.prepare(view)
        n = view.frame_count
        meta = view.meta
        columns, stats = dict(part.columns), dict(part.stats)
        video_spans: dict[str, tuple[int, int, float]] = {}
        for name in part.pending:  # video=True: encoded here, into files shared by episodes
            cam = self.ds.meta.camera(name)
            key = v3.camera_key(cam.name)
            if cam.is_video:
                self._add_video_camera(view, cam, key, n, stats, columns, video_spans)
                continue
            frames = _frame_bytes(view, cam)
            samples = st.sample_positions(n)
            decoded = {i: decode_image(frames[i], cam.encoding) for i in samples}
            stats[key] = st.image_stats([decoded[i] for i in samples], n)
            video_spans[cam.name] = self._add_video(cam, frames, decoded, n)
        fps = self.ds.meta.fps
        task_index = self.tasks.setdefault(_task(meta), len(self.tasks))
        default_values: dict[str, np.ndarray] = {
            "timestamp": (np.arange(n) / fps).astype(np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, position, dtype=np.int64),
            "index": np.arange(self.index, self.index + n, dtype=np.int64),
            "task_index": np.full(n, task_index, dtype=np.int64),
        }
        if "subtask_index" in self.features:
            default_values["subtask_index"] = self._subtasks(meta, n)
        for key, values in default_values.items():
            columns[key] = pa.array(values)
            stats[key] = st.vector_stats(values)
        table = pa.Table.from_arrays([columns[f.name] for f in self.schema], schema=self.schema)
        chunk, file, new = self.data_files.place(table.nbytes)
        if new:
            if self.data_writer is not None:
                self.data_writer.close()
            path = self.root / v3.DATA_PATH.format(chunk_index=chunk, file_index=file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.data_writer = pq.ParquetWriter(path, self.schema, compression="snappy")
        assert self.data_writer is not None
        self.data_writer.write_table(table)
        full = {k: v for k, v in stats.items() if v is not None}
        self.episode_rows.append(
            self._episode_row(position, view, meta, chunk, file, video_spans, full)
        )
        self.episode_stats.append(full)
        self.index += n

    def _subtasks(self, meta: EpisodeMeta, n: int) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int64)
        for seg in meta.segments:
            label = seg.text or seg.skill
            idx = self.subtasks.setdefault(label, len(self.subtasks))
            span = out[seg.start_frame : min(seg.end_frame, n)]
            span[span < 0] = idx  # overlapping segments: the first one listed wins
        if (out < 0).any():
            out[out < 0] = self.subtasks.setdefault(_NO_SUBTASK, len(self.subtasks))
        return out

    def _add_video_camera(
        self,
        view: EpisodeView,
        cam: Camera,
        key: str,
        n: int,
        stats: dict[str, st.Stats | None],
        columns: dict[str, Any],
        video_spans: dict[str, tuple[int, int, float]],
    ) -> None:
        """A video camera (format 1.1) into LeRobot video: its bitstream copied when LeRobot
        can read it as is, else its frames decoded once and encoded."""
        samples = st.sample_positions(n)
        span = self._copy_video(view, cam, n)
        if span is not None:  # the bitstream copied: only the sampled frames decoded
            seq = view.images(cam.name)
            stats[key] = st.image_stats([seq[i] for i in samples], n)
            video_spans[cam.name] = span
            return
        decoded = dict(enumerate(view.images(cam.name)))
        stats[key] = st.image_stats([decoded[i] for i in samples], n)
        size = view.video_path(cam.name).stat().st_size
        video_spans[cam.name] = self._add_video(cam, [], decoded, n, size=size)

    def _copy_video(self, view: EpisodeView, cam: Camera, n: int) -> tuple[int, int, float] | None:
        """Copy a video camera's bitstream into a LeRobot video file of its own (no
        re-encoding) when LeRobot can read it as is: the export's codec, and frames exactly
        ``1/fps`` apart (LeRobot finds frame ``i`` at ``from_timestamp + i / fps``, within
        1e-4 s). None when it cannot: the frames are then encoded like frame cameras'."""
        if cam.encoding != self.codec:
            return None
        clip = view.video_clip(cam.name)
        index = clip.probe()
        tb = index.time_base
        pts = index.pts[clip.first : clip.first + n]
        times = (pts - pts[0]).astype(np.float64) * float(tb)
        if not np.allclose(times, np.arange(n) / self.ds.meta.fps, rtol=0.0, atol=1e-5):
            return None
        roller = self.video_rollers[cam.name]
        roller.used = roller.limit  # a file of its own, and the next episode starts another
        chunk, file, _ = roller.place(index.frames)
        roller.used = roller.limit
        current = self.video_files.pop(cam.name, None)
        if current is not None:
            current.writer.close()
        path = self.root / v3.VIDEO_PATH.format(
            video_key=v3.camera_key(cam.name), chunk_index=chunk, file_index=file
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        offset = write_clip(clip, path)
        first = probe_index(path).pts[offset]
        self.copied_videos += 1
        return chunk, file, float(first * tb)

    def _add_video(
        self,
        cam: Camera,
        frames: list[bytes],
        decoded: dict[int, np.ndarray],
        n: int,
        size: int | None = None,
    ) -> tuple[int, int, float]:
        if size is None:
            size = sum(len(b) for b in frames)  # the source's compressed size: a fair proxy
        chunk, file, new = self.video_rollers[cam.name].place(size)
        current = self.video_files.get(cam.name)
        if new:
            if current is not None:
                current.writer.close()
            path = self.root / v3.VIDEO_PATH.format(
                video_key=v3.camera_key(cam.name), chunk_index=chunk, file_index=file
            )
            current = _VideoFile(
                VideoWriter(
                    path,
                    fps=self.ds.meta.fps,
                    width=cam.width,
                    height=cam.height,
                    codec=self.codec,
                ),
                chunk,
                file,
            )
            self.video_files[cam.name] = current
        assert current is not None
        start = current.writer.frames / self.ds.meta.fps
        for i in range(n):
            rgb = decoded.get(i)
            current.writer.add(rgb if rgb is not None else decode_image(frames[i], cam.encoding))
        return chunk, file, start

    def _episode_row(
        self,
        position: int,
        view: EpisodeView,
        meta: EpisodeMeta,
        chunk: int,
        file: int,
        video_spans: dict[str, tuple[int, int, float]],
        stats: dict[str, st.Stats],
    ) -> dict[str, Any]:
        n = view.frame_count
        row: dict[str, Any] = {
            "episode_index": position,
            "tasks": [_task(meta)],
            "length": n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.index,
            "dataset_to_index": self.index + n,
        }
        for cam_name, (v_chunk, v_file, start) in video_spans.items():
            key = f"videos/{v3.camera_key(cam_name)}"
            row[f"{key}/chunk_index"] = v_chunk
            row[f"{key}/file_index"] = v_file
            row[f"{key}/from_timestamp"] = start
            row[f"{key}/to_timestamp"] = start + n / self.ds.meta.fps
        for key, values in stats.items():
            for name, value in st.to_json(values).items():
                row[f"stats/{key}/{name}"] = value
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        for name, value in _embodex_columns(view, meta).items():
            row[v3.EPISODES_COLUMN_PREFIX + name] = value
        return row

    # -- the end -------------------------------------------------------------------

    def finish(self) -> None:
        if self.data_writer is not None:
            self.data_writer.close()
        for vf in self.video_files.values():
            vf.writer.close()
        self._write_episodes()
        _write_index_table(self.root / v3.TASKS_FILE, self.tasks, "task_index")
        if self.subtasks:
            _write_index_table(self.root / v3.SUBTASKS_FILE, self.subtasks, "subtask_index")
        stats = {
            key: st.to_json(st.aggregate([s[key] for s in self.episode_stats]))
            for key in self.episode_stats[0]
        }
        _write_json(self.root / v3.STATS_FILE, stats)
        meta = self.ds.meta
        embodiment = meta.embodiments[0]
        info = {
            "codebase_version": v3.CODEBASE_VERSION,
            "robot_type": embodiment.model,
            "total_episodes": len(self.episode_rows),
            "total_frames": self.index,
            "total_tasks": len(self.tasks),
            "chunks_size": v3.CHUNK_SIZE,
            "data_files_size_in_mb": v3.DATA_FILE_MB,
            "video_files_size_in_mb": v3.VIDEO_FILE_MB,
            "fps": _fps_value(meta.fps),
            "splits": {"train": f"0:{len(self.episode_rows)}"},
            "data_path": v3.DATA_PATH,
            "video_path": v3.VIDEO_PATH if self.video else None,
            "features": self.features,
            "embodex": {
                "source_digest": self.ds.digest,
                "name": meta.name,
                "licence": meta.licence,
                "centre_id": meta.provenance.centre_id,
                "feature_map": {
                    v3.feature_key(name, feat): name for name, feat in meta.feature_items()
                },
                "metadata_file": v3.EMBODEX_META_FILE,
                "episode_columns": v3.EPISODES_COLUMN_PREFIX + "*",
            },
        }
        _write_json(self.root / v3.INFO_FILE, info)
        embodex_meta = self.root / v3.EMBODEX_META_FILE
        embodex_meta.parent.mkdir(parents=True, exist_ok=True)
        embodex_meta.write_text(meta.model_dump_json(indent=2) + "\n", encoding="utf-8")
        _write_card(self.root, self.ds, self.index, self.notes)

    def _write_episodes(self) -> None:
        rows = self.episode_rows
        types = _EMBODEX_TYPES
        columns = {
            k: pa.array(
                [r.get(k) for r in rows], type=types.get(k.removeprefix(v3.EPISODES_COLUMN_PREFIX))
            )
            if k.startswith(v3.EPISODES_COLUMN_PREFIX)
            else pa.array([r.get(k) for r in rows])
            for k in rows[0]
        }
        path = self.root / v3.EPISODES_PATH.format(chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path, compression="snappy")


_SEGMENT = pa.struct(
    [
        ("start_frame", pa.int32()),
        ("end_frame", pa.int32()),
        ("skill", pa.string()),
        ("text_en", pa.string()),
        ("text_zh", pa.string()),
    ]
)
#: Types of the ``embodex/*`` episode columns (nulls need a type to be written).
_EMBODEX_TYPES: dict[str, pa.DataType] = {
    **{
        name: pa.string()
        for name in (
            "episode_id",
            "scene_id",
            "scene_type",
            "site",
            "lighting",
            "robot_model",
            "robot_serial",
            "operator_id",
            "operator_level",
            "skill",
            "instruction_en",
            "instruction_zh",
            "failure_cause",
            "extra",
        )
    },
    "objects": pa.list_(pa.string()),
    "segments": pa.list_(_SEGMENT),
    "success": pa.bool_(),
    "timestamps_synthesized": pa.bool_(),
    "start_time_ns": pa.int64(),
    "end_time_ns": pa.int64(),
    "source_episode_index": pa.int64(),
}


def _embodex_columns(view: EpisodeView, meta: EpisodeMeta) -> dict[str, Any]:
    data = meta.model_dump(mode="json")
    data["extra"] = canonical_json(meta.extra).decode()
    data["start_time_ns"] = int(view.row["start_time_ns"])
    data["end_time_ns"] = int(view.row["end_time_ns"])
    data["source_episode_index"] = int(view.index)
    missing = set(data) - set(_EMBODEX_TYPES)
    if missing:  # a new EpisodeMeta field must be given a column type here
        raise InteropError(f"no LeRobot column type for episode fields {sorted(missing)}")
    return data


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_index_table(path: Path, names: dict[str, int], column: str) -> None:
    """``tasks.parquet`` / ``subtasks.parquet``: LeRobot reads them with pandas and takes the
    pandas *index* as the string, so the file must carry pandas' index metadata."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("pandas", "lerobot") from None
    frame = pd.DataFrame({column: list(names.values())}, index=list(names.keys()))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def _write_card(root: Path, ds: Dataset, frames: int, notes: list[str]) -> None:
    try:
        from .card import dataset_card
    except MissingExtraError:
        notes.append("no README.md dataset card: huggingface_hub is not installed")
        return
    card = dataset_card(ds, frames=frames, tags=["LeRobot"], layout="LeRobot v3.0")
    (root / "README.md").write_text(str(card), encoding="utf-8")
