"""``open_dataset``: memory-mapped, verified access to a dataset directory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..canonical import sha256_bytes, sha256_file
from ..errors import (
    CorruptDatasetError,
    DatasetNotFoundError,
    EpisodeIndexError,
    SchemaError,
    UnsupportedFormatError,
)
from ..parsing import load_json, parse_document, read_bounded
from . import layout
from .episode import Episode, episode_meta_from_row
from .images import decode_image
from .models import FORMAT_VERSION, Camera, DatasetMeta, DatasetStats, EpisodeMeta, Manifest
from .schema import upgrade_episodes
from .stats import merge_stats_arrays, stats_arrays
from .videostore import VideoClip, VideoDecoder, probe_index

__all__ = [
    "Dataset",
    "EpisodeView",
    "ImageSequence",
    "StreamSamples",
    "VideoImageSequence",
    "compute_dataset_stats",
    "open_dataset",
]

_OPEN_RETRIES = 5
_OUR_MINOR = int(FORMAT_VERSION.split(".")[1])


def open_dataset(path: str | Path) -> Dataset:
    """Open the dataset at ``path`` (a directory holding ``embodex.json``).

    The metadata files are checked against ``manifest.json`` (size and sha256) before they
    are parsed; frame shards are memory-mapped lazily and size-checked when first touched
    (``Dataset.verify()`` hashes them). Raises ``DatasetNotFoundError``,
    ``CorruptDatasetError`` or ``UnsupportedFormatError``.

    Example::

        ds = open_dataset("deliveries/acme")
        kitchen = ds.select(scene_type="restaurant", success=True)
        frames = kitchen.episode(0).frames()
    """
    root = Path(path)
    if not layout.resolve(root, layout.META_FILE).exists():
        raise DatasetNotFoundError(root, missing=layout.META_FILE)
    last: Exception | None = None
    # A writer may commit while we read; a size or hash mismatch then means "read again".
    for _ in range(_OPEN_RETRIES):
        try:
            return Dataset._open(root)
        except (FileNotFoundError, CorruptDatasetError) as exc:
            last = exc
    if isinstance(last, CorruptDatasetError):
        raise last
    raise CorruptDatasetError(f"{root}: metadata file missing ({last})", path=root)


def compute_dataset_stats(meta: DatasetMeta, episodes: pa.Table) -> DatasetStats:
    """Merge the per-episode statistics of ``episodes`` into ``stats.json`` form."""
    features = {}
    stats_col = episodes.column("stats")
    for name, spec in meta.features.items():
        try:
            arrays = stats_arrays(stats_col, name, spec.shape[0])
        except (ValueError, KeyError, pa.ArrowInvalid) as exc:
            raise CorruptDatasetError(
                f"the per-episode statistics of {name!r} in episodes.arrow are malformed ({exc})"
            ) from exc
        features[name] = merge_stats_arrays(arrays, spec.shape[0])
    frames = int(pc.sum(episodes.column("frame_count")).as_py() or 0) if episodes.num_rows else 0
    return DatasetStats(episodes=episodes.num_rows, frames=frames, features=features)


class _Shard:
    """One memory-mapped frame shard with the row offset of each record batch."""

    def __init__(self, path: Path, expected_size: int | None) -> None:
        if path.is_symlink():  # a dataset holds plain files: a link may point anywhere
            raise CorruptDatasetError(f"frame shard {path} is a symbolic link", path=path)
        if not path.exists():
            raise CorruptDatasetError(f"frame shard {path} is missing", path=path)
        size = path.stat().st_size
        if expected_size is not None and size != expected_size:
            raise CorruptDatasetError(
                f"frame shard {path} is {size} bytes, the manifest says {expected_size} "
                "(truncated or replaced)",
                path=path,
            )
        try:
            self.source = pa.memory_map(str(path))
            self.table = pa.ipc.open_file(self.source).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptDatasetError(
                f"frame shard {path} is unreadable: {exc}", path=path
            ) from exc
        self.path = path

    def rows(self, start: int, count: int, columns: Sequence[str]) -> pa.Table:
        return self.table.select(list(columns)).slice(start, count)


def _fixed_list_to_numpy(col: pa.ChunkedArray, width: int) -> np.ndarray:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    flat = arr.flatten()
    out: np.ndarray = flat.to_numpy(zero_copy_only=False)
    return out.reshape(len(arr), width)


class ImageSequence(Sequence[np.ndarray]):
    """A camera's frames in one episode; each item is decoded only when asked for."""

    def __init__(self, column: pa.ChunkedArray, encoding: str) -> None:
        self._col = column
        self.encoding = encoding

    def __len__(self) -> int:
        return len(self._col)

    def encoded(self, i: int) -> bytes | None:
        value = self._col[i].as_py()
        return value if value is None else bytes(value)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[np.ndarray]: ...
    def __getitem__(self, i: int | slice) -> np.ndarray | Sequence[np.ndarray]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        data = self.encoded(i)
        if data is None:
            raise KeyError(f"frame {i} has no image")
        return decode_image(data, self.encoding)

    def all_encoded(self) -> list[bytes | None]:
        return [None if b is None else bytes(b) for b in self._col.to_pylist()]

    @property
    def is_video(self) -> bool:
        return False


class VideoImageSequence(ImageSequence):
    """A video camera's frames in one episode (format 1.1), decoded from its MP4 on demand.

    ``seq[i]`` seeks to the key frame frame ``i`` decodes from and decodes forward to it;
    ``seq[a:b]`` and iteration decode in one forward pass (frames asked in increasing order
    never seek twice). Frames are identified by presentation timestamp, so the frame
    returned is exactly the one the row names. There are no encoded frames to hand out:
    ``encoded`` and ``all_encoded`` raise ``SchemaError``.
    """

    def __init__(
        self, path: Path, pts: np.ndarray, key_pts: np.ndarray, expected_size: int | None
    ) -> None:
        self.path = path
        self.pts = pts
        self.key_pts = key_pts
        self.encoding = "video"
        self._decoder = VideoDecoder(path, expected_size=expected_size, keys=np.unique(key_pts))

    def __len__(self) -> int:
        return len(self.pts)

    def encoded(self, i: int) -> bytes | None:
        raise SchemaError(
            f"{self.path.name}: frames of a video camera have no encoded form of their own",
            hint="Decode them (seq[i]), or transcode the dataset to jpeg cameras.",
        )

    def all_encoded(self) -> list[bytes | None]:
        return [self.encoded(0)]

    @property
    def is_video(self) -> bool:
        return True

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[np.ndarray]: ...
    def __getitem__(self, i: int | slice) -> np.ndarray | Sequence[np.ndarray]:
        if isinstance(i, slice):
            rows = range(*i.indices(len(self)))
            return [self._decoder.frame(int(self.pts[j]), int(self.key_pts[j])) for j in rows]
        n = len(self)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError(f"frame {i} out of range ({n} frames)")
        return self._decoder.frame(int(self.pts[j]), int(self.key_pts[j]))

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._decoder.frames(self.pts.tolist(), self.key_pts.tolist())

    def close(self) -> None:
        self._decoder.close()


class _EpisodeRow(dict[str, Any]):
    """A row of the episode table whose ``stats`` are read from the table when asked."""

    def __init__(self, row: dict[str, Any], table: pa.Table, pos: int) -> None:
        super().__init__(row)  # a copy: the cached row stays as read
        self._table = table
        self._pos = pos

    def __missing__(self, key: str) -> Any:
        if key != "stats" or "stats" not in self._table.column_names:
            raise KeyError(key)
        value = self._table.column("stats")[self._pos].as_py()
        self[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class StreamSamples(NamedTuple):
    """One stream's samples of an episode (format 1.1): capture times and, per feature, a
    ``(samples, D)`` array (zero-copy views of the memory-mapped stream shard)."""

    timestamp_ns: np.ndarray
    features: dict[str, np.ndarray]


class EpisodeView:
    """One episode of an open dataset: metadata from the episode table, frames on demand."""

    def __init__(self, dataset: Dataset, row: dict[str, Any]) -> None:
        self._ds = dataset
        self.row = row
        self.index: int = row["episode_index"]
        self.episode_id: str = row["episode_id"]
        self.frame_count: int = row["frame_count"]

    @cached_property
    def meta(self) -> EpisodeMeta:
        return episode_meta_from_row(self.row)

    @property
    def cameras(self) -> list[Camera]:
        """The dataset's cameras (``Camera.is_video`` tells how each is stored)."""
        return list(self._ds.meta.cameras)

    @property
    def duration_s(self) -> float:
        return float(self.row["duration_s"])

    def _rows(self, columns: Sequence[str]) -> pa.Table:
        shard = self._ds._shard(self.row["shard"])
        return shard.rows(self.row["row_start"], self.frame_count, columns)

    def arrow(self, columns: Sequence[str]) -> pa.Table:
        """The episode's rows of these frame-shard columns (zero-copy slice of the shard)."""
        return self._rows(columns)

    @property
    def timestamp_ns(self) -> np.ndarray:
        out: np.ndarray = self._rows(["timestamp_ns"]).column(0).to_numpy()
        return out

    def feature(self, name: str) -> np.ndarray:
        """The ``(frames, D)`` array of one feature."""
        spec = self._ds.meta.features.get(name)
        if spec is None:
            raise SchemaError(
                f"feature {name!r} is not in dataset {self._ds.meta.name}",
                hint=f"Known features: {', '.join(self._ds.meta.features)}.",
            )
        return _fixed_list_to_numpy(self._rows([name]).column(0), spec.shape[0])

    def frames(
        self,
        features: Sequence[str] | None = None,
        rows: range | slice | None = None,
        *,
        cameras: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """``timestamp_ns``, ``frame_index`` and the chosen features as numpy arrays, for
        every frame or the frames in ``rows``; with ``cameras``, also their decoded images
        as ``image.<camera>`` arrays ``(frames, H, W, 3)`` (one forward decode per video
        camera).
        """
        names = list(features) if features is not None else list(self._ds.meta.features)
        every = np.arange(self.frame_count, dtype=np.int32)
        if rows is None:
            pick: slice | np.ndarray = slice(None)
        elif isinstance(rows, slice):
            pick = rows
        else:
            pick = np.asarray(rows, dtype=np.int64)
            if len(pick) and not (pick.min() >= 0 and pick.max() < self.frame_count):
                raise IndexError(f"rows {rows} are not in 0..{self.frame_count - 1}")
        out = {"timestamp_ns": self.timestamp_ns[pick], "frame_index": every[pick]}
        for name in names:
            out[name] = self.feature(name)[pick]
        for camera in cameras:
            seq = self.images(camera)
            out[self._camera(camera).column] = np.stack([seq[int(j)] for j in every[pick]])
        return out

    def images(self, camera: str) -> ImageSequence:
        """The camera's frames, decoded lazily one at a time (from the episode's video for a
        video camera: :class:`VideoImageSequence`)."""
        cam = self._camera(camera)
        if cam.is_video:
            return self._video(cam)
        return ImageSequence(self._rows([cam.column]).column(0), cam.encoding)

    def video_path(self, camera: str) -> Path:
        """The MP4 holding a video camera's frames of this episode."""
        cam = self._camera(camera)
        if not cam.is_video:
            raise SchemaError(f"camera {camera!r} stores frames, not video")
        return self._ds.root / str(self.row[cam.video_column])

    def _video(self, cam: Camera) -> VideoImageSequence:
        rel = self.row[cam.video_column]
        size = self._ds._file_sizes.get(rel)
        if size is None:
            raise CorruptDatasetError(f"{self._ds.root}: video {rel} is not in the manifest")
        table = self._rows([cam.column, cam.key_column])
        pts = table.column(0).to_numpy()
        key = table.column(1).to_numpy()
        return VideoImageSequence(self._ds.root / rel, pts, key, size)

    def image_timestamps_ns(self, camera: str) -> np.ndarray | None:
        """Capture times of the camera's frames, or None when the recorder gave none."""
        cam = self._camera(camera)
        col = self._rows([cam.timestamp_column]).column(0)
        if col.null_count == len(col):
            return None
        out: np.ndarray = col.to_numpy(zero_copy_only=False)
        return out

    def _camera(self, camera: str) -> Any:
        try:
            return self._ds.meta.camera(camera)
        except KeyError:
            raise SchemaError(
                f"camera {camera!r} is not in dataset {self._ds.meta.name}",
                hint=f"Known cameras: {', '.join(c.name for c in self._ds.meta.cameras)}.",
            ) from None

    def stream(self, name: str, features: Sequence[str] | None = None) -> StreamSamples:
        """The episode's samples of a stream at its own rate: ``ts, values = ep.stream("imu")``
        gives the int64 capture times and feature → ``(samples, D)`` arrays (all features, or
        those named). Raises ``SchemaError`` for a stream the dataset does not declare."""
        try:
            spec = self._ds.meta.stream(name)
        except KeyError:
            known = ", ".join(s.name for s in self._ds.meta.streams) or "none"
            raise SchemaError(
                f"stream {name!r} is not in dataset {self._ds.meta.name}",
                hint=f"Known streams: {known}.",
            ) from None
        names = list(features) if features is not None else [f for f, _ in spec.feature_items()]
        for fname in names:
            if fname not in spec.features:
                raise SchemaError(
                    f"stream {name!r} has no feature {fname!r}",
                    hint=f"Its features: {', '.join(spec.features)}.",
                )
        start, count = int(self.row[spec.start_column]), int(self.row[spec.count_column])
        table = self._ds._shard(str(self.row[spec.shard_column])).rows(
            start, count, ["timestamp_ns", *names]
        )
        ts: np.ndarray = table.column(0).to_numpy()
        values = {
            fname: _fixed_list_to_numpy(table.column(i + 1), spec.features[fname].shape[0])
            for i, fname in enumerate(names)
        }
        return StreamSamples(ts, values)

    def video_clip(self, camera: str) -> VideoClip:
        """A video camera's frames of this episode as a :class:`VideoClip` of its stored MP4
        (what copying hands the writer: packets copied, never re-encoded)."""
        cam = self._camera(camera)
        seq = self._video(cam)
        index = probe_index(seq.path)
        first = int(np.searchsorted(index.pts, seq.pts[0]))
        n = len(seq)
        if first + n > index.frames or not np.array_equal(index.pts[first : first + n], seq.pts):
            raise CorruptDatasetError(
                f"video {seq.path} does not hold the frames its rows name (presentation "
                "timestamps differ)"
            )
        return VideoClip(seq.path, first, n, verbatim=True, index=index)

    def to_episode(self) -> Episode:
        """The whole episode in memory, images still encoded and videos as clips of their
        files (for copying between datasets)."""
        images: dict[str, list[bytes] | VideoClip] = {}
        image_ts: dict[str, np.ndarray] = {}
        for cam in self._ds.meta.cameras:
            ts = self.image_timestamps_ns(cam.name)
            if ts is not None:
                image_ts[cam.name] = ts
            if cam.is_video:
                images[cam.name] = self.video_clip(cam.name)
                continue
            frames = self.images(cam.name).all_encoded()
            if all(f is not None for f in frames):
                images[cam.name] = [f for f in frames if f is not None]
        return Episode(
            meta=self.meta,
            timestamp_ns=self.timestamp_ns,
            features={name: self.feature(name) for name in self._ds.meta.features},
            images=images,
            image_timestamps_ns=image_ts,
            streams={s.name: self.stream(s.name) for s in self._ds.meta.streams},
        )

    def __repr__(self) -> str:
        return f"EpisodeView({self.episode_id!r}, frames={self.frame_count})"


class Dataset:
    """An open dataset, or a selection of its episodes (views share the memory maps)."""

    def __init__(
        self,
        root: Path,
        meta: DatasetMeta,
        manifest: Manifest,
        episodes: pa.Table,
        shards: dict[str, _Shard] | None = None,
        stats: DatasetStats | None = None,
    ) -> None:
        self.root = root
        self.meta = meta
        self.manifest = manifest
        self.episodes = episodes
        self._shards = shards if shards is not None else {}
        self._stats = stats
        self._file_sizes = {f.path: f.size for f in manifest.files}
        ids = episodes.column("episode_id").to_pylist()
        self._by_id = {eid: i for i, eid in enumerate(ids)}
        self._row_cache: list[dict[str, Any]] | None = None

    @classmethod
    def _open(cls, root: Path) -> Dataset:
        # one parsing boundary: bounded, no symbolic links, schema errors name file and field
        manifest = parse_document(
            layout.resolve(root, layout.MANIFEST_FILE), Manifest, CorruptDatasetError,
            name=f"{root}/{layout.MANIFEST_FILE}", follow_symlinks=False,
            hint="The dataset's manifest is damaged or was not written by embodex; restore it "
            "from the original delivery.",
        )  # fmt: skip
        entries = {f.path: f for f in manifest.files}
        raw: dict[str, bytes] = {}
        for name in (layout.META_FILE, layout.STATS_FILE):
            data = read_bounded(
                layout.resolve(root, name), error=CorruptDatasetError, name=f"{root}/{name}",
                follow_symlinks=False,
            )  # fmt: skip
            _check_entry(root, name, entries, len(data), lambda d=data: sha256_bytes(d))
            raw[name] = data
        ep_path = layout.resolve(root, layout.EPISODES_FILE)
        if ep_path.is_symlink():
            raise CorruptDatasetError(f"{ep_path} is a symbolic link; datasets hold plain files")
        _check_entry(
            root,
            layout.EPISODES_FILE,
            entries,
            ep_path.stat().st_size,
            lambda: sha256_file(ep_path),
        )
        meta_json = load_json(
            raw[layout.META_FILE], error=SchemaError, name=f"{root}/{layout.META_FILE}"
        )
        if not isinstance(meta_json, dict):
            raise SchemaError(f"{root}/{layout.META_FILE} is not a JSON object", path=root)
        version = str(meta_json.get("format_version", ""))
        _check_version(root, version)
        if version == "1.0" and any(
            isinstance(c, dict) and c.get("storage", "frame") != "frame"
            for c in meta_json.get("cameras") or []
        ):
            raise UnsupportedFormatError(
                f"{root} is labelled format 1.0 but has a camera with storage other than "
                "'frame' (video cameras need format 1.1)"
            )
        if version == "1.0" and meta_json.get("streams"):
            raise UnsupportedFormatError(
                f"{root} is labelled format 1.0 but declares streams at other rates "
                "(streams need format 1.1)"
            )
        try:
            meta = DatasetMeta.model_validate(meta_json)
        except ValueError as exc:
            if version.split(".")[-1].isdigit() and int(version.split(".")[-1]) > _OUR_MINOR:
                raise UnsupportedFormatError(
                    f"{root} uses format {version} features this embodex cannot read", path=root
                ) from exc
            raise SchemaError(f"{root}/{layout.META_FILE} is invalid: {exc}", path=root) from exc
        stats = parse_document(
            raw[layout.STATS_FILE], DatasetStats, CorruptDatasetError,
            name=f"{root}/{layout.STATS_FILE}",
        )  # fmt: skip
        try:
            episodes = pa.ipc.open_file(pa.memory_map(str(ep_path))).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptDatasetError(f"{ep_path} is unreadable: {exc}") from exc
        if version == "1.0":
            episodes = upgrade_episodes(episodes)  # 1.0 segments: one text
        return cls(root, meta, manifest, episodes, stats=stats)

    # -- episodes ----------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.episodes.num_rows)

    def __iter__(self) -> Iterator[EpisodeView]:
        for pos, row in enumerate(self._rows()):
            yield EpisodeView(self, _EpisodeRow(row, self.episodes, pos))

    def _rows(self) -> list[dict[str, Any]]:
        """The episode table as Python rows, without the per-episode statistics, converted
        once per view: most of the table's bytes are statistics, which a pass over the
        episodes rarely reads (``row["stats"]`` still works, read on demand)."""
        if self._row_cache is None:
            light = self.episodes.drop_columns(
                [c for c in ("stats",) if c in self.episodes.column_names]
            )
            self._row_cache = light.to_pylist()
        return self._row_cache

    @property
    def episode_ids(self) -> list[str]:
        return list(self._by_id)

    @property
    def num_frames(self) -> int:
        return int(pc.sum(self.episodes.column("frame_count")).as_py() or 0) if len(self) else 0

    @property
    def hours(self) -> float:
        return (
            float(pc.sum(self.episodes.column("duration_s")).as_py() or 0.0) / 3600
            if len(self)
            else 0.0
        )

    @property
    def digest(self) -> str:
        """The dataset digest from the manifest (identifies the whole dataset's content)."""
        return self.manifest.digest

    def episode(self, key: str | int) -> EpisodeView:
        """An episode by id (str) or by position in this view (int)."""
        if isinstance(key, str):
            pos = self._by_id.get(key)
            if pos is None:
                raise SchemaError(
                    f"episode {key} is not in dataset {self.meta.name}",
                    hint="List the ids with `dataset.episode_ids`.",
                    path=self.root,
                    episode_id=key,
                )
        else:
            pos = key if key >= 0 else len(self) + key
            if not 0 <= pos < len(self):
                raise EpisodeIndexError(key, len(self), dataset=self.meta.name)
        return EpisodeView(self, self.episodes.slice(pos, 1).to_pylist()[0])

    def select(self, episode_ids: Sequence[str] | None = None, **equals: Any) -> Dataset:
        """The episodes matching every condition, as a view (no frame is read).

        Each keyword names a column of the episode table (scene_type, skill, success,
        robot_model, operator_id, ...); a list, tuple or set value matches any member.
        """
        mask = pa.array(np.ones(len(self), dtype=bool))
        for name, value in equals.items():
            if name not in self.episodes.column_names:
                raise SchemaError(
                    f"cannot select on {name!r}: no such episode field",
                    hint=f"Fields: {', '.join(self.episodes.column_names)}.",
                )
            col = self.episodes.column(name)
            if isinstance(value, list | tuple | set | frozenset):
                cond = pc.is_in(col, value_set=pa.array(list(value), type=col.type))
            elif value is None:
                cond = pc.is_null(col)
            else:
                cond = pc.equal(col, pa.scalar(value, type=col.type))
            mask = pc.and_kleene(mask, pc.fill_null(cond, False))
        if episode_ids is not None:
            unknown = set(episode_ids) - set(self._by_id)
            if unknown:
                raise SchemaError(f"unknown episode ids: {sorted(unknown)[:5]}")
            cond = pc.is_in(
                self.episodes.column("episode_id"), value_set=pa.array(list(episode_ids))
            )
            mask = pc.and_kleene(mask, cond)
        return self._view(self.episodes.filter(mask))

    def filter(self, expression: pc.Expression) -> Dataset:
        """Select with a pyarrow compute expression over the episode table."""
        return self._view(self.episodes.filter(expression))

    def _view(self, episodes: pa.Table) -> Dataset:
        return Dataset(self.root, self.meta, self.manifest, episodes, shards=self._shards)

    @property
    def is_view(self) -> bool:
        return self._stats is None

    @property
    def stats(self) -> DatasetStats:
        """Feature statistics of the episodes in this view (stats.json for the whole set)."""
        if self._stats is None:
            self._stats = compute_dataset_stats(self.meta, self.episodes)
        return self._stats

    # -- frames ------------------------------------------------------------------------

    def _shard(self, name: str) -> _Shard:
        shard = self._shards.get(name)
        if shard is None:
            if name not in self._file_sizes:
                raise CorruptDatasetError(
                    f"{self.root}: shard {name} is not in the manifest", path=self.root
                )
            shard = _Shard(self.root / name, self._file_sizes[name])
            self._shards[name] = shard
        return shard

    def shard_table(self, name: str) -> pa.Table:
        """The memory-mapped Arrow table of one frame shard."""
        return self._shard(name).table

    def verify(self, *, hashes: bool = True) -> Any:
        """Check hashes, schema and bookkeeping; see :func:`embodex.format.verify_dataset`."""
        from .verify import verify_dataset

        return verify_dataset(self, hashes=hashes)

    @property
    def shard_names(self) -> list[str]:
        return sorted(p for p in self._file_sizes if p.startswith(layout.DATA_DIR + "/"))

    def __repr__(self) -> str:
        return (
            f"Dataset({self.meta.name!r}, episodes={len(self)}, frames={self.num_frames}, "
            f"hours={self.hours:.2f})"
        )


def _check_entry(root: Path, name: str, entries: dict[str, Any], size: int, digest: Any) -> None:
    entry = entries.get(name)
    if entry is None:
        raise CorruptDatasetError(f"{root}/{layout.MANIFEST_FILE} does not list {name}", path=root)
    if entry.size != size or entry.sha256 != digest():
        raise CorruptDatasetError(
            f"{root}/{name} does not match its manifest entry (size or sha256 differ)", path=root
        )


def _check_version(root: Path, version: str) -> None:
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise SchemaError(
            f"{root}/{layout.META_FILE}: bad format_version {version!r}", path=root
        ) from None
    ours = int(FORMAT_VERSION.split(".")[0])
    if major != ours:
        raise UnsupportedFormatError(
            f"{root} uses format {version}; this embodex reads {ours}.x", path=root
        )
