"""Batched access: ``get_batch(indices)`` gathers a whole batch with one operation per key.

For a batch of ``B`` samples the loader computes every sample's episode (one
``searchsorted``), its frame, and for a window the ``(B, w)`` frame array with its edge
padding (``np.minimum``/``np.maximum`` and two comparisons for the mask), then gathers each
feature with one ``take`` over the typed view of the mapped shard: the rows a batch needs
are addressed as ``base[episode] + frame``. Episode ids, instructions and sub-tasks come from
arrays built once at open (sub-tasks with one ``searchsorted`` over all segments).

Where each episode's columns lie (its view and base row) is found once per episode and
process, as for single samples (``samples.py``), and kept in flat arrays indexed by episode.
Episodes the vectorised path cannot address with one base — spread over several record
batches, or with missing images — are gathered episode by episode through their entries;
the result is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import CorruptDatasetError, LoaderConfigError
from .batch import row_dicts
from .cameras import FrameDecodeError, FrameSizeError, decode_frames, decode_video_frames
from .samples import SampleReader

if TYPE_CHECKING:
    from .blocks import BlockShuffleSampler

__all__ = ["BatchReader"]

_UNKNOWN = -2  # per-episode location not looked up yet in this process
_SLOW = -1  # gathered through the episode's entry (several record batches, missing images)
_SEG_SHIFT = 32  # segment keys: episode position << 32 | start frame
_FEW_FILES = 4  # up to this many files in one batch, gather per file; beyond, per sample


class BatchReader(SampleReader):
    """Mixin adding ``get_batch``, ``__getitems__`` and sequential batches to a reader.

    The host calls :meth:`_build_batch_index` after :meth:`_build_plan`, and sets
    ``_starts_np`` (cumulative frame counts as int64) and ``_decode_threads``.
    """

    _starts_np: np.ndarray
    _decode_threads: int

    def _build_batch_index(self) -> None:
        """Per-episode arrays for the metadata fields (built once at open)."""
        self._count_np = np.asarray(self._count, dtype=np.int64)
        self._ep_index_np = np.asarray(self._ep_index, dtype=np.int64)
        self._ep_id_np = np.array(self._ep_id, dtype=object)
        self._instruction_np = np.array(self._instruction, dtype=object)
        bounds = np.asarray(self._seg_bounds, dtype=np.int64)
        seg_episode = np.repeat(np.arange(len(self._count), dtype=np.int64), np.diff(bounds))
        self._seg_first_np = bounds[:-1]
        self._seg_key_np = (seg_episode << _SEG_SHIFT) + np.asarray(self._seg_start, np.int64)
        self._seg_end_np = np.asarray(self._seg_end, dtype=np.int64)
        self._seg_text_np = np.array([*self._seg_text, ""], dtype=object)  # [-1] = no segment
        plan = self._numeric_plan
        self._widths = [step[1] for step in plan] + [0]  # timestamp_ns last, a primitive
        self._window_starts = [(step[6], step[8]) for step in plan] + [(0, True)]

    def _drop_open_files(self) -> None:
        super()._drop_open_files()
        episodes = len(self._count)
        columns = len(self._numeric_plan) + 1  # the features, then timestamp_ns
        self._nvid = np.full((columns, episodes), _UNKNOWN, dtype=np.int32)
        self._nbase = np.zeros((columns, episodes), dtype=np.int64)
        cams = len(self._image_plan)
        self._ivid = np.full((cams, episodes), _UNKNOWN, dtype=np.int32)
        self._iobase = np.zeros((cams, episodes), dtype=np.int64)
        self._idbase = np.zeros((cams, episodes), dtype=np.int64)
        self._views: list[np.ndarray] = []  # 1-D views of mapped files, by view id
        self._runs_views: dict[tuple[int, int], np.ndarray] = {}
        self._image_views: list[tuple[np.ndarray, np.ndarray]] = []
        self._view_ids: dict[int, int] = {}
        self._image_view_ids: dict[int, int] = {}  # apart: a uint8 feature shares the view
        self._pool: ThreadPoolExecutor | None = None  # a forked child must not reuse threads

    # -- locations -----------------------------------------------------------------------

    def _view_id(self, view: np.ndarray) -> int:
        key = id(view)  # views live as long as their ShardTable, which outlives this dict
        got = self._view_ids.get(key)
        if got is None:
            got = self._view_ids[key] = len(self._views)
            self._views.append(view)
        return got

    def _image_view_id(self, offsets: np.ndarray, data: np.ndarray) -> int:
        key = id(data)
        got = self._image_view_ids.get(key)
        if got is None:
            got = self._image_view_ids[key] = len(self._image_views)
            self._image_views.append((offsets, data))
        return got

    def _locate_episodes(self, episodes: np.ndarray) -> None:
        """Record where the columns of these episodes lie (once per episode and process)."""
        for k in episodes.tolist():
            numeric, ts, images, _videos = self._entries[k] or self._entry(k)
            for c, col in enumerate((*numeric, ts)):
                if col.flat is not None:
                    self._nvid[c, k] = self._view_id(col.flat)
                    self._nbase[c, k] = col.elem
                else:
                    self._nvid[c, k] = _SLOW
            for c, cam in enumerate(images):
                if cam.firsts is None and cam.valid is None:
                    self._ivid[c, k] = self._image_view_id(cam.offsets, cam.data)
                    self._iobase[c, k] = int(cam.obase)
                    self._idbase[c, k] = int(cam.dbase)
                else:
                    self._ivid[c, k] = _SLOW

    # -- key-frame blocks ----------------------------------------------------------------

    def key_frame_blocks(self) -> np.ndarray:
        """Where the sampler's blocks start (sample indices), then ``len(ds)``: block
        ``b`` is ``bounds[b]:bounds[b + 1]``. A block never crosses an episode and starts at
        every key frame of each video camera loaded, so it lies in one GOP of each (without a
        video camera, every ``DEFAULT_BLOCK`` frames).
        Built once (it reads every selected episode's key-frame column)."""
        from .blocks import DEFAULT_BLOCK

        got: np.ndarray | None = getattr(self, "_block_bounds", None)
        if got is not None:
            return got
        parts = []
        for k, n in enumerate(self._count):
            local = np.zeros(n, dtype=bool)
            if not self._video_plan:
                local[::DEFAULT_BLOCK] = True
            elif n:
                local[0] = True
            for _pts, key_entry in (self._entries[k] or self._entry(k))[3]:
                kp = key_entry.rows(np.arange(n))
                local[1:] |= kp[1:] != kp[:-1]
            parts.append(self._starts_np[k] + np.flatnonzero(local))
        parts.append(np.array([self._n], dtype=np.int64))
        self._block_bounds = np.concatenate(parts).astype(np.int64)
        return self._block_bounds

    def block_sampler(self, *, seed: int = 0) -> BlockShuffleSampler:
        """A ``DataLoader`` sampler visiting every sample once per epoch in shuffled
        key-frame blocks (see :mod:`embodex.train.blocks`): with video cameras, neighbouring
        samples of a batch share one decode. ``DataLoader(ds.torch(), batch_size=64,
        sampler=ds.block_sampler(seed=0))``; call its ``set_epoch`` before each epoch."""
        from .blocks import BlockShuffleSampler

        return BlockShuffleSampler(self, seed=seed)

    # -- batches -------------------------------------------------------------------------

    def get_batch(self, indices: Iterable[int] | np.ndarray) -> dict[str, Any]:
        """The samples ``indices`` as one batch: each key of ``ds[i]`` with a batch axis first.

        Arrays are stacked (``state`` ``(B, D)``, a window ``(B, w, D)`` and its
        ``_is_pad`` ``(B, w)``, images ``(B, H, W, 3)``; ``episode_index``,
        ``frame_index``, ``timestamp_ns`` and ``index`` ``(B,)`` int64); ``episode_id``,
        ``instruction`` and ``subtask`` are lists of str, and so are encoded images
        (``decode_images=False``: a list of uint8 arrays, of lists with a window). The values
        equal those of ``[ds[i] for i in indices]`` stacked. Raises ``IndexError`` for an
        index out of range.
        """
        idx = np.array(indices, dtype=np.int64).reshape(-1)
        n_all = self._n
        if idx.size:
            low, high = int(idx.min()), int(idx.max())
            if low < -n_all or high >= n_all:
                bad = low if low < -n_all else high
                raise IndexError(f"sample {bad} out of range ({n_all} frames)")
            if low < 0:
                idx[idx < 0] += n_all
        k = np.searchsorted(self._starts_np, idx, side="right") - 1
        t = idx - self._starts_np[k]
        if self._nvid.shape[0] and (self._nvid[0, k] == _UNKNOWN).any():
            self._locate_episodes(np.unique(k[self._nvid[0, k] == _UNKNOWN]))
        n = self._count_np[k]
        out: dict[str, Any] = {}
        for c, (name, _w, _dt, offsets, pad_key, _np, lo, hi, _ct) in enumerate(self._numeric_plan):
            if offsets is None:
                out[name] = self._gather(c, k, t)
            else:
                out[name] = self._gather(c, k, t, offsets)
                out[pad_key] = _pad_mask(offsets, t, n, lo, hi)
        for c, (key, encoding, offsets, lo, hi) in enumerate(self._image_plan):
            if offsets is None:
                out[key] = self._images(c, key, encoding, k, t)
            else:
                rows = _clamped(offsets, t, n)
                out[key] = self._images(c, key, encoding, k, rows)
                out[f"{key}_is_pad"] = _pad_mask(offsets, t, n, lo, hi)
        for c, (key, _p, _k, vcol, offsets, lo, hi) in enumerate(self._video_plan):
            if offsets is None:
                out[key] = self._video_images(c, key, vcol, k, t)
            else:
                rows = _clamped(offsets, t, n)
                out[key] = self._video_images(c, key, vcol, k, rows)
                out[f"{key}_is_pad"] = _pad_mask(offsets, t, n, lo, hi)
        out["episode_index"] = self._ep_index_np[k]
        out["frame_index"] = t
        out["timestamp_ns"] = self._gather(len(self._numeric_plan), k, t)
        out["index"] = idx
        out["episode_id"] = self._ep_id_np[k].tolist()
        out["instruction"] = self._instruction_np[k].tolist()
        out["subtask"] = self._subtasks(k, t)
        if self._stream_windows is not None:  # streams at their own rate (train/streams.py)
            out.update(self._stream_batch(k, out["timestamp_ns"]))
        return out

    def __getitems__(self, indices: list[int]) -> Any:
        """What torch's DataLoader calls with a batch sampler: the gathered batch, seen as
        the list of its samples (``SampleBatch``), which its default collate takes whole."""
        from .batch import SampleBatch

        _register_collate()
        return SampleBatch(self.get_batch(indices))

    def iter_batches(self, batch_size: int = 256) -> Iterator[dict[str, Any]]:
        """Every sample in index order, as batches of ``batch_size`` (the last may be
        shorter): the fast sequential pass, for exports, QC and evaluation."""
        if batch_size < 1:
            raise LoaderConfigError(f"batch_size={batch_size} must be >= 1")
        for a in range(0, self._n, batch_size):
            yield self.get_batch(np.arange(a, min(a + batch_size, self._n)))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every sample in index order (read a batch at a time)."""
        for batch in self.iter_batches():
            yield from row_dicts(batch)

    # -- one key -------------------------------------------------------------------------

    def _gather(
        self, c: int, k: np.ndarray, t: np.ndarray, offsets: np.ndarray | None = None
    ) -> np.ndarray:
        """Values of column ``c`` for episodes ``k`` at frames ``t``, or with a window at
        ``t + offsets`` (edge-padded)."""
        vid = self._nvid[c, k]
        like = self._empty_view(c)  # the dtype and value shape of column c
        shape = (*t.shape, *(() if offsets is None else offsets.shape), *like.shape[1:])
        slow = vid < 0
        if not len(k):
            return np.empty(shape, dtype=like.dtype)
        if not slow.any():
            return self._gather_mapped(c, vid, k, t, offsets).reshape(shape)
        out = np.empty(shape, dtype=like.dtype)
        fast = np.flatnonzero(~slow)
        if len(fast):
            part = self._gather_mapped(c, vid[fast], k[fast], t[fast], offsets)
            out[fast] = part.reshape(len(fast), *shape[1:])
        where = np.flatnonzero(slow)
        ks = k[where]
        frames = t if offsets is None else _clamped(offsets, t, self._count_np[k])
        for ep in np.unique(ks).tolist():
            part = where[ks == ep]
            out[part] = self._slow_rows(c, ep, frames[part])
        return out

    def _gather_mapped(
        self, c: int, vid: np.ndarray, k: np.ndarray, t: np.ndarray, offsets: np.ndarray | None
    ) -> np.ndarray:
        """``_gather`` for episodes with one base each: element runs of the mapped files,
        ``(B, values)`` (the caller shapes them)."""
        width = self._widths[c]
        w1 = max(width, 1)
        base = self._nbase[c, k]
        if offsets is None:
            return self._runs(vid, base + t * w1, w1)
        count = len(offsets)
        lo, contiguous = self._window_starts[c]
        n = self._count_np[k]
        if not contiguous:  # frame by frame
            starts = (base[:, None] + _clamped(offsets, t, n) * w1).reshape(-1)
            return self._runs(np.repeat(vid, count), starts, w1).reshape(len(k), -1)
        first = t + lo
        inside = (first >= 0) & (first + count <= n)
        starts = base + first * w1
        length = count * w1
        if inside.all():  # every window is one run of the file
            return self._runs(vid, starts, length)
        edge = np.flatnonzero(~inside)
        frames = (base[edge, None] + _clamped(offsets, t[edge], n[edge]) * w1).reshape(-1)
        padded = self._runs(np.repeat(vid[edge], count), frames, w1).reshape(len(edge), length)
        v0 = int(vid[0])
        view = self._window_view(v0, length)
        if (vid == v0).all() and len(view):  # one file: edge windows overwrite a stand-in
            out: np.ndarray = view[np.where(inside, starts, np.minimum(base, len(view) - 1))]
        else:
            out = np.empty((len(k), length), dtype=padded.dtype)
            keep = np.flatnonzero(inside)
            if len(keep):
                out[keep] = self._runs(vid[keep], starts[keep], length)
        out[edge] = padded
        return out

    def _window_view(self, v: int, length: int) -> np.ndarray:
        """File ``v`` as overlapping runs of ``length`` elements, run ``e`` starting at
        element ``e`` (zero copy): one fancy index then copies a whole window per sample."""
        key = (v, length)
        got = self._runs_views.get(key)
        if got is None:
            flat = self._views[v]
            step = flat.strides[0]
            rows = max(len(flat) - length + 1, 0)
            got = as_strided(flat, shape=(rows, length), strides=(step, step), writeable=False)
            self._runs_views[key] = got
        return got

    def _runs(self, vid: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """``(len(starts), length)``: the ``length`` elements from each start, in file
        ``vid``. One fancy index per file; with many files in one batch (shards holding
        few frames, e.g. with cameras), a slice per sample costs less than a group each."""
        v0 = int(vid[0])
        if (vid == v0).all():
            out: np.ndarray = self._window_view(v0, length)[starts]
            return out
        groups = np.unique(vid).tolist()
        out = np.empty((len(vid), length), dtype=self._views[v0].dtype)
        if len(groups) <= _FEW_FILES:
            for v in groups:
                sel = vid == v
                out[sel] = self._window_view(v, length)[starts[sel]]
            return out
        views = self._views
        for j, (v, a) in enumerate(zip(vid.tolist(), starts.tolist(), strict=True)):
            out[j] = views[v][a : a + length]
        return out

    def _empty_view(self, c: int) -> np.ndarray:
        """A zero-row view of column ``c``'s dtype and width (for an empty batch)."""
        if c < len(self._numeric_plan):
            _name, width, dtype, *_ = self._numeric_plan[c]
            return np.empty((0, width), dtype=dtype)
        return np.empty(0, dtype=np.int64)

    def _slow_rows(self, c: int, k: int, rows: np.ndarray) -> np.ndarray:
        numeric, ts, _images, _videos = self._entries[k] or self._entry(k)
        col = numeric[c] if c < len(numeric) else ts
        return col.rows(rows)

    def _images(
        self,
        c: int,
        key: str,
        encoding: str,
        k: np.ndarray,
        rows: np.ndarray,
    ) -> Any:
        """Camera ``c`` at frames ``rows`` of episodes ``k``: the stored bytes of every frame
        found with vectorised offsets, then decoded through ``cameras.decode_frames``."""
        kk = k if rows.ndim == 1 else np.repeat(k, rows.shape[1])
        ff = rows.reshape(-1)
        datas = self._encoded_batch(c, key, kk, ff)
        if not self._decode:
            copies = [d.copy() for d in datas]
            if rows.ndim == 1:
                return copies
            w = rows.shape[1]
            return [copies[j : j + w] for j in range(0, len(copies), w)]
        if not datas:  # an empty batch: the shape a decoded frame would have
            cam = self.meta.camera(key.removeprefix("image."))
            depth = encoding == "png16"
            tail = (cam.height, cam.width) if depth else (cam.height, cam.width, 3)
            return np.empty((*rows.shape, *tail), dtype=np.uint16 if depth else np.uint8)
        try:
            frames = decode_frames(datas, encoding, self._decode_pool())
        except FrameDecodeError as exc:
            j = exc.position
            raise self._decode_error(int(kk[j]), int(ff[j]), key, encoding, exc.cause) from exc
        except FrameSizeError as exc:
            raise CorruptDatasetError(
                f"{key} frames of different sizes in one batch ({exc}); the dataset "
                f"declares one size per camera"
            ) from exc
        return frames.reshape(*rows.shape, *frames.shape[1:])

    def _video_images(
        self, c: int, key: str, column: str, k: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """Video camera ``c`` at frames ``rows`` of episodes ``k``: each frame's PTS and key
        frame PTS read per episode, then decoded through ``cameras.decode_video_frames``
        (in file and PTS order, so one decode serves the frames of a GOP)."""
        kk = k if rows.ndim == 1 else np.repeat(k, rows.shape[1])
        ff = rows.reshape(-1)
        if not len(ff):  # an empty batch: the shape a decoded frame would have
            cam = self.meta.camera(key.removeprefix("image."))
            return np.empty((*rows.shape, cam.height, cam.width, 3), dtype=np.uint8)
        pts = np.empty(len(ff), dtype=np.int64)
        keys = np.empty(len(ff), dtype=np.int64)
        for ep in np.unique(kk).tolist():
            sel = kk == ep
            pts_entry, key_entry = (self._entries[ep] or self._entry(ep))[3][c]
            pts[sel] = pts_entry.rows(ff[sel])
            keys[sel] = key_entry.rows(ff[sel])
        paths = self._video_paths[column]
        names = [paths[ep] for ep in kk.tolist()]
        try:
            frames = decode_video_frames(self._videos, names, pts, keys)
        except FrameSizeError as exc:
            raise CorruptDatasetError(
                f"{key} frames of different sizes in one batch ({exc}); the dataset "
                f"declares one size per camera"
            ) from exc
        return frames.reshape(*rows.shape, *frames.shape[1:])

    def _encoded_batch(self, c: int, key: str, kk: np.ndarray, ff: np.ndarray) -> list[Any]:
        vid = self._ivid[c, kk]
        datas: list[Any] = [None] * len(ff)
        groups = np.unique(vid).tolist()
        for v in groups:
            if len(groups) == 1:  # the usual case: one shard, nothing to split
                where: Any = range(len(ff))
                ks, fs = kk, ff
            else:
                sel = np.flatnonzero(vid == v)
                where, ks, fs = sel.tolist(), kk[sel], ff[sel]
            if v < 0:
                for j, ep, t in zip(where, ks.tolist(), fs.tolist(), strict=True):
                    cam = (self._entries[ep] or self._entry(ep))[2][c]
                    datas[j] = self._encoded(cam, t, ep, key)
                continue
            offsets, data = self._image_views[v]
            o = self._iobase[c, ks] + fs
            d = self._idbase[c, ks]
            starts = (d + offsets[o]).tolist()
            ends = (d + offsets[o + 1]).tolist()
            for j, a, b in zip(where, starts, ends, strict=True):
                datas[j] = data[a:b]
        return datas

    def _decode_pool(self) -> ThreadPoolExecutor | None:
        if self._decode_threads <= 1:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._decode_threads, "embodex-decode")
        return self._pool

    def _stream_batch(self, k: np.ndarray, ts: np.ndarray) -> dict[str, np.ndarray]:
        """The stream windows of every sample: one vectorised window per episode touched,
        put back in the batch's order."""
        streams = self._stream_windows
        assert streams is not None
        if not len(k):
            return streams.windows(0, ts[:0])
        episodes = np.unique(k).tolist()
        if len(episodes) == 1:
            return streams.windows(episodes[0], ts)
        out: dict[str, np.ndarray] = {}
        for ep in episodes:
            sel = np.flatnonzero(k == ep)
            for key, arr in streams.windows(ep, ts[sel]).items():
                if key not in out:
                    out[key] = np.empty((len(k), *arr.shape[1:]), dtype=arr.dtype)
                out[key][sel] = arr
        return out

    def _subtasks(self, k: np.ndarray, t: np.ndarray) -> list[str]:
        """The sub-task text of each (episode, frame): the segment of that episode with the
        last start <= t, when t is before its end; else ""."""
        if not len(self._seg_key_np):
            return [""] * len(k)
        j = np.searchsorted(self._seg_key_np, (k << _SEG_SHIFT) + t, side="right") - 1
        jj = np.maximum(j, 0)
        inside = (j >= self._seg_first_np[k]) & (t < self._seg_end_np[jj])
        texts: list[str] = self._seg_text_np[np.where(inside, jj, -1)].tolist()
        return texts


def _pad_mask(offsets: np.ndarray, t: np.ndarray, n: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``(B, w)``: True where ``t + offset`` lies outside its episode of ``n`` frames
    (``lo <= offsets < hi``: an edge no offset can reach is not tested)."""
    pad: np.ndarray | None = None
    if hi > 1:  # a positive offset can pass the last frame
        pad = offsets >= (n - t)[:, None]
    if lo < 0:  # a negative one can precede the first
        below = offsets < (-t)[:, None]
        pad = below if pad is None else pad | below
    return np.zeros((len(t), len(offsets)), dtype=bool) if pad is None else pad


def _clamped(offsets: np.ndarray, t: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``(B, w)`` frames ``t + offsets``, those outside the episode replaced by its first
    or last (np.minimum/np.maximum: np.clip costs several times more on small arrays)."""
    rows: np.ndarray = t[:, None] + offsets
    np.maximum(rows, 0, out=rows)
    np.minimum(rows, (n - 1)[:, None], out=rows)
    return rows


_COLLATE_REGISTERED = False


def _register_collate() -> None:
    """Teach torch's default collate to take a ``SampleBatch`` whole (only where torch is
    already imported: a DataLoader calling ``__getitems__`` has imported it)."""
    global _COLLATE_REGISTERED
    if _COLLATE_REGISTERED:
        return
    import sys

    if "torch" in sys.modules:
        from .torch_adapter import register_collate

        register_collate()
        _COLLATE_REGISTERED = True
