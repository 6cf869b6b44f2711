"""``EpisodeDataset``: map-style, frame-level access to the selected episodes.

Sample ``i`` is frame ``t`` of one selected episode. ``ds[i]`` touches only the requested
columns: a numpy slice of each feature's window (padded at the episode edges with the
first or last frame, flagged in ``<key>_is_pad``) and one decoded image per camera. Frame
to episode lookup is one bisection over per-episode offsets computed at open; each
episode's column views are built once and cached.
"""

from __future__ import annotations

import os
import weakref
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import simplejpeg

from ..canonical import sha256_file
from ..errors import CorruptDatasetError, LoaderConfigError
from ..format import Dataset, DatasetStats, open_dataset
from ..format.images import decode_image
from ..format.reader import compute_dataset_stats
from .shards import ImageColumn, ShardTable
from .source import Source
from .windows import Window

if TYPE_CHECKING:
    import datasets

    from .iterable import EpisodeIterable
    from .torch_adapter import TorchEpisodeDataset

__all__ = ["EpisodeDataset", "LoadSpec"]

#: episodes whose column views stay cached per process (bounds memory on huge datasets)
_ACCESS_CACHE = 4096
_LIVE: weakref.WeakSet[EpisodeDataset] = weakref.WeakSet()


def _reopen_after_fork() -> None:
    for ds in list(_LIVE):
        ds._drop_open_files()


os.register_at_fork(after_in_child=_reopen_after_fork)


#: (feature, width, window offsets or None, pad key, all-False mask, first offset,
#: last offset + 1, offsets consecutive): what __getitem__ does for one feature
_NumericStep = tuple[str, int, np.ndarray | None, str, np.ndarray, int, int, bool]


@dataclass(frozen=True)
class LoadSpec:
    """What each sample holds: features, cameras, windows and image decoding."""

    features: tuple[str, ...]
    cameras: tuple[str, ...]
    windows: Mapping[str, Window] = field(default_factory=dict)
    decode_images: bool = True


class _Episode:
    """Column views of one selected episode in its memory-mapped shard."""

    __slots__ = ("images", "n", "numeric", "subtask_ends", "subtask_texts", "timestamps")

    def __init__(
        self,
        n: int,
        numeric: dict[str, np.ndarray],
        timestamps: np.ndarray,
        images: dict[str, ImageColumn],
        segments: list[dict[str, Any]],
    ) -> None:
        self.n = n
        self.numeric = numeric
        self.timestamps = timestamps
        self.images = images
        # frame t is in the segment whose [start, end) holds it; gaps give ""
        segs = sorted(segments, key=lambda s: s["start_frame"])
        self.subtask_ends = [int(s["start_frame"]) for s in segs]
        self.subtask_texts = [(s, s.get("text") or s.get("skill") or "") for s in segs]

    def subtask(self, t: int) -> str:
        k = bisect_right(self.subtask_ends, t) - 1
        if k < 0:
            return ""
        seg, text = self.subtask_texts[k]
        return str(text) if t < int(seg["end_frame"]) else ""


class EpisodeDataset:
    """The frames of the selected episodes, one sample per frame.

    Build it with :func:`embodex.train.load`. ``len(ds)`` is the number of frames; ``ds[i]``
    is a dict of numpy arrays (and a few strings):

    * each feature: ``(D,)``, or ``(k, D)`` with a window, plus ``<feature>_is_pad`` ``(k,)``;
    * ``image.<camera>``: ``(H, W, 3)`` uint8 (``(H, W)`` uint16 for depth), decoded, or the
      encoded bytes as a uint8 array with ``decode_images=False``;
    * ``episode_index``, ``frame_index``, ``timestamp_ns``, ``index`` (int64);
    * ``episode_id``, ``instruction`` (English, else Chinese) and ``subtask`` (the text of
      the sub-task segment holding the frame) as ``str``.

    Adapters: :meth:`torch` (a ``torch.utils.data.Dataset``), :meth:`iterable` (sharded,
    shuffled, exactly-once streams for distributed training) and :meth:`to_hf` (a
    ``datasets.Dataset`` over the same memory-mapped Arrow data).
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
        table = (
            dataset.episodes.take(pa.array(self._positions))
            if len(self._positions)
            else (dataset.episodes.slice(0, 0))
        )
        self.episodes: pa.Table = table
        self._ep_index: list[int] = table.column("episode_index").to_pylist()
        self._ep_id: list[str] = table.column("episode_id").to_pylist()
        self._shard: list[str] = table.column("shard").to_pylist()
        self._row: list[int] = table.column("row_start").to_pylist()
        self._count: list[int] = table.column("frame_count").to_pylist()
        en = table.column("instruction_en").to_pylist()
        zh = table.column("instruction_zh").to_pylist()
        self._instruction = [e or z or "" for e, z in zip(en, zh, strict=True)]
        self._segments = table.column("segments")
        starts = np.zeros(len(self._count) + 1, dtype=np.int64)
        np.cumsum(self._count, out=starts[1:])
        self._starts_np = starts
        self._starts: list[int] = starts.tolist()
        self._n = int(starts[-1])
        self._sizes = {f.path: f.size for f in dataset.manifest.files}
        self._build_plan()
        self._drop_open_files()

    def _build_plan(self) -> None:
        meta, spec = self.meta, self.spec
        self._numeric_plan: list[_NumericStep] = []
        for name in spec.features:
            width = meta.features[name].shape[0]
            win = spec.windows.get(name)
            if win is None:
                self._numeric_plan.append((name, width, None, "", np.zeros(0, bool), 0, 0, False))
            else:
                nopad = np.zeros(len(win.offsets), dtype=bool)
                self._numeric_plan.append(
                    (
                        name,
                        width,
                        win.offsets,
                        f"{name}_is_pad",
                        nopad,
                        win.first,
                        win.last + 1,
                        win.contiguous,
                    )
                )
        self._decode = spec.decode_images
        self._image_plan: list[tuple[str, str, np.ndarray | None]] = []
        for cam_name in spec.cameras:
            cam = meta.camera(cam_name)
            key = cam.column
            win = spec.windows.get(key)
            self._image_plan.append((key, cam.encoding, None if win is None else win.offsets))

    def _drop_open_files(self) -> None:
        """Forget memory maps and views; they are reopened lazily (after fork, per worker)."""
        self._open: dict[str, ShardTable] = {}
        self._access: dict[int, _Episode] = {}

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

    def locate(self, i: int) -> tuple[int, int]:
        """(selected-episode position, frame index) of sample ``i``."""
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"sample {i} out of range ({self._n} frames)")
        k = bisect_right(self._starts, i) - 1
        return k, i - self._starts[k]

    # -- files -------------------------------------------------------------------------

    def _table(self, name: str) -> ShardTable:
        shard = self._open.get(name)
        if shard is None:
            size = self._sizes.get(name)
            if size is None:
                raise CorruptDatasetError(f"{self.source.url}: shard {name} is not in the manifest")
            shard = ShardTable(self.source.shard_path(name), name, size)
            self._open[name] = shard
        return shard

    def _episode(self, k: int) -> _Episode:
        ep = self._access.get(k)
        if ep is not None:
            return ep
        shard = self._table(self._shard[k])
        row, n = self._row[k], self._count[k]
        numeric = {
            name: shard.numeric(name, row, n, width) for name, width, *_ in self._numeric_plan
        }
        images = {key: shard.images(key, row, n) for key, _, _ in self._image_plan}
        ts = shard.scalars("timestamp_ns", row, n)
        ep = _Episode(n, numeric, ts, images, self._segments[k].as_py() or [])
        if len(self._access) >= _ACCESS_CACHE:
            self._access.clear()
        self._access[k] = ep
        return ep

    def shard_names(self) -> list[str]:
        """The frame shards the selected episodes live in, in storage order."""
        return sorted(set(self._shard))

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
                raise CorruptDatasetError(f"frame shard {name} is missing ({path})") from None
            if size != entry.size:
                raise CorruptDatasetError(
                    f"frame shard {name} is {size} bytes, the manifest says {entry.size} "
                    f"(truncated or replaced: {path})"
                )
            if hashes and sha256_file(path) != entry.sha256:
                raise CorruptDatasetError(
                    f"frame shard {name} does not match its sha256 in the manifest ({path})"
                )

        names = self.shard_names()
        if hashes and len(names) > 1:
            with ThreadPoolExecutor(max(1, threads)) as pool:  # hashlib releases the GIL
                list(pool.map(one, names))
        else:
            for name in names:
                one(name)

    # -- samples -----------------------------------------------------------------------

    def __getitem__(self, i: int) -> dict[str, Any]:
        n_all = self._n
        if i < 0:
            i += n_all
        if not 0 <= i < n_all:
            raise IndexError(f"sample {i} out of range ({n_all} frames)")
        k = bisect_right(self._starts, i) - 1
        t = i - self._starts[k]
        ep = self._access.get(k) or self._episode(k)
        n = ep.n
        out: dict[str, Any] = {}
        for name, _w, offsets, pad_key, nopad, lo, hi, contiguous in self._numeric_plan:
            values = ep.numeric[name]
            if offsets is None:
                out[name] = values[t].copy()
            elif contiguous and t + lo >= 0 and t + hi <= n:
                out[name] = values[t + lo : t + hi].copy()
                out[pad_key] = nopad.copy()
            else:
                idx = offsets + t
                out[pad_key] = (idx < 0) | (idx >= n)
                out[name] = values[np.clip(idx, 0, n - 1)]
        for key, encoding, offsets in self._image_plan:
            column = ep.images[key]
            piece = column.single
            if offsets is None and piece is not None and encoding == "jpeg" and self._decode:
                # the common case inline: one JPEG slice of the mapped buffer, decoded
                o = piece.offsets
                if piece.valid is None or piece.valid[t]:
                    try:
                        out[key] = simplejpeg.decode_jpeg(piece.data[o[t] : o[t + 1]], "RGB")
                        continue
                    except Exception:
                        pass  # _image raises the full error
                out[key] = self._image(column, t, k, key, encoding)
            elif offsets is None:
                out[key] = self._image(column, t, k, key, encoding)
            else:
                idx = offsets + t
                out[f"{key}_is_pad"] = (idx < 0) | (idx >= n)
                frames = [self._image(column, int(j), k, key, encoding) for j in idx.clip(0, n - 1)]
                out[key] = np.stack(frames) if self.spec.decode_images else frames
        out["episode_index"] = np.int64(self._ep_index[k])
        out["frame_index"] = np.int64(t)
        out["timestamp_ns"] = ep.timestamps[t]
        out["index"] = np.int64(i)
        out["episode_id"] = self._ep_id[k]
        out["instruction"] = self._instruction[k]
        out["subtask"] = ep.subtask(t)
        return out

    def _image(self, column: ImageColumn, t: int, k: int, key: str, encoding: str) -> np.ndarray:
        data = column.encoded(t)
        if data is None:
            raise LoaderConfigError(
                f"episode {self._ep_id[k]} has no {key} image at frame {t}",
                hint="Load cameras= that every selected episode recorded, or filter episodes.",
            )
        if not self.spec.decode_images:
            return data.copy()
        try:
            if encoding == "jpeg":
                return np.asarray(simplejpeg.decode_jpeg(data, "RGB"))
            return decode_image(data.tobytes(), encoding)
        except Exception as exc:  # the decoder's own error types vary
            raise CorruptDatasetError(
                f"frame shard {self._shard[k]}: episode {self._ep_id[k]} frame {t} {key} does "
                f"not decode as {encoding} ({exc})"
            ) from exc

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self._n):
            yield self[i]

    # -- adapters ----------------------------------------------------------------------

    def torch(self) -> TorchEpisodeDataset:
        """A ``torch.utils.data.Dataset`` of tensors (works with DataLoader workers, fork or
        spawn). Needs the ``torch`` extra."""
        from .torch_adapter import TorchEpisodeDataset

        return TorchEpisodeDataset(self)

    def iterable(
        self,
        *,
        shuffle_buffer: int = 10_000,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ) -> EpisodeIterable:
        """A deterministic stream for data-parallel training; see :class:`EpisodeIterable`."""
        from .iterable import EpisodeIterable

        return EpisodeIterable(
            self,
            shuffle_buffer=shuffle_buffer,
            seed=seed,
            rank=rank,
            world_size=world_size,
            shuffle=shuffle,
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
