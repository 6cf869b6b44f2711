"""``EpisodeDataset``: map-style, frame-level access to the selected episodes.

Sample ``i`` is frame ``t`` of one selected episode. ``ds[i]`` touches only the requested
columns: a numpy slice of each feature's window (padded at the episode edges with the
first or last frame, flagged in ``<key>_is_pad``) and one decoded image per camera. Frame
to episode lookup is one bisection over per-episode offsets computed at open; where each
episode's columns lie in the mapped shards is worked out once per episode and process
(see ``samples.py`` and ``shards.py``).
"""

from __future__ import annotations

import os
import weakref
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

from ..canonical import sha256_file
from ..errors import CorruptDatasetError
from ..format import Dataset, DatasetStats, open_dataset
from ..format.reader import compute_dataset_stats
from .gather import BatchReader
from .image_layout import DEFAULT_IMAGE_FORMAT
from .source import Source
from .streams import StreamWindows, StreamWindowSpec
from .windows import Window

if TYPE_CHECKING:
    import datasets

    from .iterable import EpisodeIterable
    from .torch_adapter import TorchEpisodeDataset

__all__ = ["EpisodeDataset", "LoadSpec"]

_LIVE: weakref.WeakSet[EpisodeDataset] = weakref.WeakSet()


def _reopen_after_fork() -> None:
    for ds in list(_LIVE):
        ds._drop_open_files()


os.register_at_fork(after_in_child=_reopen_after_fork)


@dataclass(frozen=True)
class LoadSpec:
    """What each sample holds: features, cameras, windows and image decoding."""

    features: tuple[str, ...]
    cameras: tuple[str, ...]
    windows: Mapping[str, Window] = field(default_factory=dict)
    decode_images: bool = True
    decode_threads: int = 1
    #: windows of streams at their own rate (format 1.1; train/streams.py)
    streams: tuple[StreamWindowSpec, ...] = ()


class EpisodeDataset(BatchReader):
    """The frames of the selected episodes, one sample per frame.

    Build it with :func:`embodex.train.load`. ``len(ds)`` is the number of frames; ``ds[i]``
    is a dict of numpy arrays (and a few strings):

    * each feature: ``(D,)``, or ``(k, D)`` with a window, plus ``<feature>_is_pad`` ``(k,)``;
    * ``image.<camera>``: ``(H, W, 3)`` uint8 (``(H, W)`` uint16 for depth), decoded, or the
      encoded bytes as a uint8 array with ``decode_images=False``;
    * ``episode_index``, ``frame_index``, ``timestamp_ns``, ``index`` (int64);
    * ``episode_id``, ``instruction`` (English, else Chinese) and ``subtask`` (the text of
      the sub-task segment holding the frame) as ``str``.

    ``ds.get_batch(indices)`` gives many samples at once, gathered with one vectorised
    operation per key (the same values, stacked); ``__getitems__`` serves it to torch's
    DataLoader and :meth:`iter_batches` reads every sample in order, a batch at a time.

    Adapters: :meth:`torch` (a ``torch.utils.data.Dataset``), :meth:`iterable` (sharded,
    shuffled, exactly-once streams for distributed training), :meth:`to_hf` (a
    ``datasets.Dataset`` over the same memory-mapped Arrow data) and :meth:`to_ray` (a
    lazy ``ray.data.Dataset`` read on Ray workers, for Ray Train).
    """

    def __init__(
        self,
        source: Source,
        dataset: Dataset,
        positions: np.ndarray,
        spec: LoadSpec,
        report: dict[str, int] | None = None,
    ) -> None:
        self.source = source
        self.spec = spec
        self.report = dict(report or {})
        self._positions = np.asarray(positions, dtype=np.int64)
        self._set_dataset(dataset)
        _LIVE.add(self)

    # -- set-up ------------------------------------------------------------------------

    def _set_dataset(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.meta = dataset.meta
        total = dataset.episodes.num_rows
        self._all = len(self._positions) == total and bool(
            (self._positions == np.arange(total)).all()
        )
        self._ep_index: list[int] = self._column("episode_index").to_pylist()
        self._ep_id: list[str] = self._column("episode_id").to_pylist()
        self._shard: list[str] = self._column("shard").to_pylist()
        self._row: list[int] = self._column("row_start").to_pylist()
        self._count: list[int] = self._column("frame_count").to_pylist()
        en = self._column("instruction_en").to_pylist()
        zh = self._column("instruction_zh").to_pylist()
        self._instruction = [e or z or "" for e, z in zip(en, zh, strict=True)]
        self._flatten_segments(self._column("segments"))
        self._video_paths = {
            cam.video_column: [str(p) for p in self._column(cam.video_column).to_pylist()]
            for cam in (self.meta.camera(c) for c in self.spec.cameras)
            if cam.is_video
        }
        starts = np.zeros(len(self._count) + 1, dtype=np.int64)
        np.cumsum(self._count, out=starts[1:])
        self._starts_np = starts
        self._starts: list[int] = starts.tolist()
        self._n = int(starts[-1])
        self._sizes = {f.path: f.size for f in dataset.manifest.files}
        self._decode = self.spec.decode_images
        self._decode_threads = self.spec.decode_threads
        self._build_plan(self.spec.features, self.spec.cameras, dict(self.spec.windows))
        self._build_batch_index()
        names = sorted(set(self._shard))
        code = {name: j for j, name in enumerate(names)}
        self._shard_names = names
        self._shard_code = np.array([code[s] for s in self._shard], dtype=np.int64)
        # stream windows (issue 13 item 8): all in train/streams.py, None when not asked for
        self._stream_windows = StreamWindows.build(
            self.source, self._sizes, self.meta, self.spec.streams,
            lambda name: self._column(name).to_pylist(),
        )  # fmt: skip
        self._drop_open_files()

    def _column(self, name: str) -> pa.ChunkedArray:
        """A column of the episode table for the selected episodes (the mapped column itself
        when all are selected: per-episode statistics are never copied to build the index)."""
        column = self.dataset.episodes.column(name)
        return column if self._all else column.take(pa.array(self._positions))

    @property
    def episodes(self) -> pa.Table:
        """The selected rows of the episode table (a copy unless every episode is selected)."""
        table = self.dataset.episodes
        return table if self._all else table.take(pa.array(self._positions))

    def _flatten_segments(self, segments: pa.ChunkedArray) -> None:
        """Sub-task segments of all selected episodes as flat lists (sorted by start within
        each episode), so a sample finds its sub-task with one bounded bisection."""
        self._seg_bounds = [0]
        self._seg_start: list[int] = []
        self._seg_end: list[int] = []
        self._seg_text: list[str] = []
        texts: dict[str, str] = {}  # one str object per distinct text
        for segs in segments.to_pylist():
            for seg in sorted(segs or [], key=lambda g: g["start_frame"]):
                self._seg_start.append(int(seg["start_frame"]))
                self._seg_end.append(int(seg["end_frame"]))
                # 1.1: English, else Chinese; a 1.0 table has one text
                text = (
                    seg.get("text_en") or seg.get("text_zh") or seg.get("text") or seg.get("skill")
                ) or ""
                self._seg_text.append(texts.setdefault(text, text))
            self._seg_bounds.append(len(self._seg_start))

    def __getstate__(self) -> dict[str, Any]:
        # Only what identifies the selection travels to spawned workers: the source (a path
        # or URL and its manifest entries), the episode positions and the spec. The worker
        # reopens the dataset (metadata checked against the manifest) and maps shards itself.
        return {
            "source": self.source,
            "spec": self.spec,
            "report": self.report,
            "positions": self._positions,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.source = state["source"]
        self.spec = state["spec"]
        self.report = state["report"]
        self._positions = state["positions"]
        self._set_dataset(open_dataset(self.source.root))
        _LIVE.add(self)

    # -- sizes and metadata ------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def num_episodes(self) -> int:
        return len(self._count)

    @property
    def episode_ids(self) -> list[str]:
        return list(self._ep_id)

    @property
    def frame_counts(self) -> list[int]:
        return list(self._count)

    @property
    def episode_starts(self) -> np.ndarray:
        """Sample index of each selected episode's first frame (length episodes + 1)."""
        return self._starts_np.copy()

    @property
    def stats(self) -> DatasetStats:
        """Statistics of the selected episodes only, merged from their per-episode stats."""
        cached: DatasetStats | None = getattr(self, "_stats", None)
        if cached is None:
            cached = compute_dataset_stats(self.meta, self.episodes)
            self._stats = cached
        return cached

    def norm_stats(self) -> dict[str, dict[str, np.ndarray]]:
        """``{feature: {mean, std, min, max, q01, q99}}`` as float32 arrays, for normalising."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, fs in self.stats.features.items():
            out[name] = {
                k: np.asarray(
                    [np.nan if v is None else v for v in getattr(fs, k)], dtype=np.float32
                )
                for k in ("mean", "std", "min", "max", "q01", "q99")
            }
        return out

    def summary(self) -> dict[str, Any]:
        """What a training run would see: source, selection, frames, one sample's keys with
        shapes and dtypes, windows, and the selection's normalisation statistics."""
        sample = self[0]
        keys = {
            key: {"shape": list(np.shape(v)), "dtype": str(np.asarray(v).dtype)}
            if not isinstance(v, str)
            else {"shape": [], "dtype": "str"}
            for key, v in sample.items()
        }
        stats = self.stats
        return {
            "source": self.source.url,
            "digest": self.dataset.digest,
            "episodes": self.num_episodes,
            "frames": len(self),
            "hours": float(sum(self._column("duration_s").to_pylist())) / 3600,
            "selection": dict(self.report),
            "features": list(self.spec.features),
            "cameras": list(self.spec.cameras),
            "windows": {k: w.offsets.tolist() for k, w in self.spec.windows.items()},
            "sample": keys,
            "stats": {
                name: fs.model_dump(include={"mean", "std", "q01", "q99"})
                for name, fs in stats.features.items()
                if name in self.spec.features
            },
        }

    def locate(self, i: int) -> tuple[int, int]:
        """(selected-episode position, frame index) of sample ``i``."""
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"sample {i} out of range ({self._n} frames)")
        k = bisect_right(self._starts, i) - 1
        return k, i - self._starts[k]

    # -- files -------------------------------------------------------------------------

    def shard_names(self) -> list[str]:
        """The frame shards (and stream shards of the streams loaded) the selected episodes
        live in, in storage order."""
        streams = self._stream_windows.shard_names() if self._stream_windows else []
        return sorted(set(self._shard_names) | set(streams))

    def check_shards(self, *, hashes: bool = False, threads: int = 4) -> None:
        """Check every selected shard's size (and sha256 with ``hashes``) before training.

        Streamed shards are verified when downloaded; this downloads them all. Raises
        ``CorruptDatasetError`` naming the first shard that does not match.
        """
        entries = {f.path: f for f in self.dataset.manifest.files}

        def one(name: str) -> None:
            path = self.source.shard_path(name)
            entry = entries.get(name)
            if entry is None:
                raise CorruptDatasetError(f"{self.source.url}: shard {name} is not in the manifest")
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise CorruptDatasetError(
                    f"frame shard {name} is missing ({path})", path=path
                ) from None
            if size != entry.size:
                raise CorruptDatasetError(
                    f"frame shard {name} is {size} bytes, the manifest says {entry.size} "
                    f"(truncated or replaced: {path})",
                    path=path,
                )
            if hashes and sha256_file(path) != entry.sha256:
                raise CorruptDatasetError(
                    f"frame shard {name} does not match its sha256 in the manifest ({path})",
                    path=path,
                )

        names = self.shard_names()
        if hashes and len(names) > 1:
            with ThreadPoolExecutor(max(1, threads)) as pool:  # hashlib releases the GIL
                list(pool.map(one, names))
        else:
            for name in names:
                one(name)

    # -- samples: ds[i] is SampleReader's, get_batch, __getitems__, iter_batches and
    # __iter__ BatchReader's
    # -- adapters ----------------------------------------------------------------------

    def torch(
        self,
        *,
        image_format: str = DEFAULT_IMAGE_FORMAT,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> TorchEpisodeDataset:
        """A ``torch.utils.data.Dataset`` of tensors (works with DataLoader workers, fork or
        spawn). Needs the ``torch`` extra.

        Images are ``(C, H, W)`` float32 in [0, 1] as torchvision and LeRobot give them
        (``image_format="chw_float"``; depth ``(1, H, W)`` = uint16 / 65535), or
        ``"hwc_uint8"`` as stored. ``transform(sample) -> sample`` runs on each sample's
        dict of tensors after that, in the DataLoader worker reading it (picklable under
        ``spawn``). Raises ``LoaderConfigError`` for an unknown ``image_format``.

        Example::

            loader = DataLoader(ds.torch(transform=augment), batch_size=64, num_workers=4)
        """
        from .torch_adapter import TorchEpisodeDataset

        return TorchEpisodeDataset(self, image_format=image_format, transform=transform)

    def iterable(
        self,
        *,
        shuffle_buffer: int = 10_000,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool | Literal["blocks"] = True,
        image_format: str = DEFAULT_IMAGE_FORMAT,
        transform: Callable[[dict[str, Any]], Any] | None = None,
    ) -> EpisodeIterable:
        """A deterministic stream for data-parallel training; see :class:`EpisodeIterable`
        (``shuffle="blocks"``: in shuffled key-frame blocks, for video cameras).
        ``image_format`` and ``transform`` shape the tensors of its ``.torch()`` as for
        :meth:`torch`; iterating the stream itself gives numpy samples as stored."""
        from .iterable import EpisodeIterable

        return EpisodeIterable(
            self,
            shuffle_buffer=shuffle_buffer,
            seed=seed,
            rank=rank,
            world_size=world_size,
            shuffle=shuffle,
            image_format=image_format,
            transform=transform,
        )

    def to_ray(
        self,
        *,
        rows_per_block: int = 256,
        blocks: int | None = None,
        runtime_env: dict[str, Any] | None = None,
        image_format: str = DEFAULT_IMAGE_FORMAT,
    ) -> Any:
        """A lazy ``ray.data.Dataset`` of the samples, for Ray Train (needs the ``ray`` extra).

        Rows have the keys and values of :meth:`torch`'s samples (those of ``ds[i]``,
        images as ``image_format`` says, the adapter's default ``(C, H, W)`` float32):
        windows with their ``*_is_pad`` masks, decoded images, the indices and texts. Read
        tasks each take a run of whole episodes and read them on the Ray workers, from the
        folder or streaming the shards from ``s3://`` (each verified against the
        manifest); the driver reads no frame. ``blocks`` sets the number of read tasks,
        ``runtime_env`` their Ray runtime environment (e.g. ``{"env_vars": {...}}`` with
        the ``AWS_*`` variables the workers need for an S3 endpoint). Raises
        ``ClusterError`` when Ray is not installed.

        Example::

            train = load("s3://bucket/week01", features=["state", "action"], cameras=[],
                         horizon=16).to_ray()
            trainer = TorchTrainer(loop, datasets={"train": train}, ...)
        """
        from .ray_data import to_ray_dataset

        return to_ray_dataset(
            self,
            rows_per_block=rows_per_block,
            blocks=blocks,
            runtime_env=runtime_env,
            image_format=image_format,
        )

    def to_hf(self, *, columns: Sequence[str] | None = None) -> datasets.Dataset:
        """A ``datasets.Dataset`` of the selected frames over the same memory-mapped Arrow
        buffers (no frame is copied). Needs the ``hf`` extra."""
        from .hf import to_hf_dataset

        return to_hf_dataset(self, columns=columns)

    def __repr__(self) -> str:
        return (
            f"EpisodeDataset({self.meta.name!r}, episodes={self.num_episodes}, "
            f"frames={self._n}, features={list(self.spec.features)}, "
            f"cameras={list(self.spec.cameras)})"
        )
