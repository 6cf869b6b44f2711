"""Building one sample: the hot path of ``EpisodeDataset.__getitem__``.

Per sample: one bisection to find the episode, then per requested column one slice of a
typed view of the mapped shard (a window inside the episode) or a small gather (a window
at its edge, padded with the first or last frame), and per camera one slice of bytes
handed to the JPEG decoder. Everything else — where each column of each episode lies — is
computed once per episode and process (``ShardTable``), so per-sample Python work stays at
a few small operations.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

from ..errors import CorruptDatasetError, LoaderConfigError
from ..format import DatasetMeta
from ..format.videostore import VideoDecoder
from .cameras import VideoFiles, decode_frame, decode_video_frame
from .shards import ImageEntry, NumericEntry, ShardTable
from .source import Source
from .streams import StreamWindows
from .windows import Window

__all__ = ["SampleReader"]

#: (key, width, dtype, window offsets or None, pad key, all-False mask, first offset,
#: last offset + 1, offsets consecutive)
_NumericStep = tuple[str, int, str, np.ndarray | None, str, np.ndarray, int, int, bool]
#: (key, encoding, window offsets or None, first offset, last offset + 1)
_ImageStep = tuple[str, str, np.ndarray | None, int, int]
#: (key, PTS column, key-frame PTS column, episodes.arrow column of the file, window
#: offsets or None, first offset, last offset + 1)
_VideoStep = tuple[str, str, str, str, np.ndarray | None, int, int]
#: per episode: (numeric entries in plan order, timestamp entry, image entries in plan order,
#: (PTS, key-frame PTS) entries of each video camera in plan order)
_Entry = tuple[
    tuple[NumericEntry, ...],
    NumericEntry,
    tuple[ImageEntry, ...],
    tuple[tuple[NumericEntry, NumericEntry], ...],
]
#: Open video decoders kept per process (one file each; the oldest is closed beyond this).
_DECODERS = 16


class SampleReader:
    """Mixin holding the per-process state and the code that turns an index into a sample.

    The host class sets, before calling :meth:`_build_plan`: ``meta``, ``source``,
    ``_sizes`` (manifest sizes), ``_shard``, ``_row``, ``_count`` (per selected episode),
    ``_starts`` (cumulative frame counts), ``_n``, ``_ep_index``, ``_ep_id``,
    ``_instruction``, the flattened segments ``_seg_bounds``, ``_seg_start``,
    ``_seg_end``, ``_seg_text``, and ``_video_paths`` (per ``video.<camera>`` column of a
    video camera loaded, each selected episode's MP4).

    Video cameras (format 1.1) decode through :class:`~embodex.format.videostore.VideoDecoder`
    (one per file and process, a few kept open): a sample's frame seeks to its key frame
    and decodes at most one GOP; samples of one episode asked in frame order continue one
    forward decode.
    """

    meta: DatasetMeta
    source: Source
    _sizes: dict[str, int]
    _shard: list[str]
    _row: list[int]
    _count: list[int]
    _starts: list[int]
    _n: int
    _ep_index: list[int]
    _ep_id: list[str]
    _instruction: list[str]
    _seg_bounds: list[int]
    _video_paths: dict[str, list[str]]
    _seg_start: list[int]
    _seg_end: list[int]
    _seg_text: list[str]
    _decode: bool
    _stream_windows: StreamWindows | None

    def _build_plan(
        self, features: tuple[str, ...], cameras: tuple[str, ...], windows: dict[str, Window]
    ) -> None:
        self._numeric_plan: list[_NumericStep] = []
        for name in features:
            spec = self.meta.features[name]
            width = spec.shape[0]
            win = windows.get(name)
            step: _NumericStep
            if win is None:
                step = (name, width, spec.dtype, None, "", np.zeros(0, bool), 0, 0, False)
            else:
                nopad = np.zeros(len(win.offsets), dtype=bool)
                step = (
                    name,
                    width,
                    spec.dtype,
                    win.offsets,
                    f"{name}_is_pad",
                    nopad,
                    win.first,
                    win.last + 1,
                    win.contiguous,
                )
            self._numeric_plan.append(step)
        self._image_plan: list[_ImageStep] = []
        self._video_plan: list[_VideoStep] = []
        for cam_name in cameras:
            cam = self.meta.camera(cam_name)
            win = windows.get(cam.column)
            lo, hi = (0, 0) if win is None else (win.first, win.last + 1)
            offsets = None if win is None else win.offsets
            if cam.is_video:
                self._video_plan.append(
                    (cam.column, cam.column, cam.key_column, cam.video_column, offsets, lo, hi)
                )
            else:
                self._image_plan.append((cam.column, cam.encoding, offsets, lo, hi))

    def _drop_open_files(self) -> None:
        """Forget memory maps and entries; they are rebuilt lazily (after fork, per worker)."""
        self._open: dict[str, ShardTable] = {}
        self._entries: list[_Entry | None] = [None] * len(self._count)
        old = getattr(self, "_videos", None)
        if old is not None:  # after fork: the decoders' threads stayed in the parent
            old.abandon()
        self._videos = VideoFiles(self._open_video, keep=_DECODERS)

    # -- files and entries ---------------------------------------------------------------

    def _open_video(self, name: str) -> VideoDecoder:
        return VideoDecoder(self.source.shard_path(name), expected_size=self._sizes.get(name))

    def _table(self, name: str) -> ShardTable:
        shard = self._open.get(name)
        if shard is None:
            size = self._sizes.get(name)
            if size is None:
                raise CorruptDatasetError(f"{self.source.url}: shard {name} is not in the manifest")
            shard = ShardTable(self.source.shard_path(name), name, size)
            self._open[name] = shard
        return shard

    def _entry(self, k: int) -> _Entry:
        shard = self._table(self._shard[k])
        n = self._count[k]
        pieces = shard.batches(self._row[k], n)
        numeric = tuple(
            shard.numeric(pieces, name, dtype, width)
            for name, width, dtype, *_ in self._numeric_plan
        )
        ts = shard.numeric(pieces, "timestamp_ns", "int64", 0)
        images = tuple(shard.image(pieces, plan[0], n) for plan in self._image_plan)
        videos = tuple(
            (shard.numeric(pieces, pts, "int64", 0), shard.numeric(pieces, kp, "int64", 0))
            for _key, pts, kp, *_ in self._video_plan
        )
        entry = (numeric, ts, images, videos)
        self._entries[k] = entry
        return entry

    # -- samples -------------------------------------------------------------------------

    def __getitem__(self, i: int) -> dict[str, Any]:
        n_all = self._n
        if i < 0:
            i += n_all
        if not 0 <= i < n_all:
            raise IndexError(f"sample {i} out of range ({n_all} frames)")
        k = bisect_right(self._starts, i) - 1
        t = i - self._starts[k]
        entry = self._entries[k] or self._entry(k)
        n = self._count[k]
        numeric, ts, images, videos = entry
        out: dict[str, Any] = {}
        for col, step in zip(numeric, self._numeric_plan):  # noqa: B905 - equal by construction
            name, _w, _dtype, offsets, pad_key, nopad, lo, hi, contiguous = step
            if col.firsts is None:
                r = col.base + t
                if offsets is None:
                    out[name] = col.view[r].copy()
                    continue
                if contiguous and t + lo >= 0 and t + hi <= n:
                    out[name] = col.view[r + lo : r + hi].copy()
                    out[pad_key] = nopad.copy()
                    continue
            if offsets is None:
                out[name] = col.rows(np.array([t]))[0]
                continue
            out[pad_key], rows = _edge_rows(offsets, t, n, lo, hi)
            out[name] = col.rows(rows)
        for cam, (key, encoding, offsets, lo, hi) in zip(images, self._image_plan):  # noqa: B905
            if offsets is None:
                out[key] = self._image(cam, t, k, key, encoding)
            else:
                out[f"{key}_is_pad"], rows = _edge_rows(offsets, t, n, lo, hi)
                frames = [self._image(cam, j, k, key, encoding) for j in rows.tolist()]
                out[key] = np.stack(frames) if self._decode else frames
        for (pts, kps), (key, _p, _k, vcol, offsets, lo, hi) in zip(videos, self._video_plan):  # noqa: B905
            path = self._video_paths[vcol][k]
            if offsets is None:
                out[key] = self._video_frame(path, pts, kps, t)
            else:
                out[f"{key}_is_pad"], rows = _edge_rows(offsets, t, n, lo, hi)
                out[key] = np.stack([self._video_frame(path, pts, kps, j) for j in rows.tolist()])
        out["episode_index"] = np.int64(self._ep_index[k])
        out["frame_index"] = np.int64(t)
        out["timestamp_ns"] = (
            ts.view[ts.base + t] if ts.firsts is None else ts.rows(np.array([t]))[0]
        )
        out["index"] = np.int64(i)
        out["episode_id"] = self._ep_id[k]
        out["instruction"] = self._instruction[k]
        lo_s, hi_s = self._seg_bounds[k], self._seg_bounds[k + 1]
        j = bisect_right(self._seg_start, t, lo_s, hi_s) - 1
        out["subtask"] = self._seg_text[j] if j >= lo_s and t < self._seg_end[j] else ""
        if self._stream_windows is not None:  # streams at their own rate (train/streams.py)
            out.update(self._stream_windows.sample(k, int(out["timestamp_ns"])))
        return out

    def _video_frame(self, path: str, pts: NumericEntry, kps: NumericEntry, t: int) -> Any:
        """Frame ``t`` of a video camera, decoded from its key frame (or continuing the
        decode of an earlier frame of the same file)."""
        p = pts.view[pts.base + t] if pts.firsts is None else pts.rows(np.array([t]))[0]
        kp = kps.view[kps.base + t] if kps.firsts is None else kps.rows(np.array([t]))[0]
        return decode_video_frame(self._videos, path, int(p), int(kp))

    def _encoded(self, cam: ImageEntry, t: int, k: int, key: str) -> np.ndarray:
        """The stored bytes of frame ``t`` (a view of the mapped shard)."""
        if cam.firsts is None and cam.valid is None:  # the usual case, inline
            o = cam.obase + t
            out: np.ndarray = cam.data[cam.dbase + cam.offsets[o] : cam.dbase + cam.offsets[o + 1]]
            return out
        found = cam.encoded(t)
        if found is None:
            raise LoaderConfigError(
                f"episode {self._ep_id[k]} has no {key} image at frame {t}",
                hint="Load cameras= (CLI: -c) that every selected episode recorded, or "
                "filter episodes.",
            )
        return found

    def _image(self, cam: ImageEntry, t: int, k: int, key: str, encoding: str) -> Any:
        data = self._encoded(cam, t, k, key)
        if not self._decode:
            return data.copy()
        try:
            return decode_frame(data, encoding)
        except Exception as exc:  # the decoders' error types vary
            raise self._decode_error(k, t, key, encoding, exc) from exc

    def _decode_error(
        self, k: int, t: int, key: str, encoding: str, exc: Exception
    ) -> CorruptDatasetError:
        return CorruptDatasetError(
            f"frame shard {self._shard[k]}: episode {self._ep_id[k]} frame {t} {key} does "
            f"not decode as {encoding} ({exc})"
        )


def _edge_rows(
    offsets: np.ndarray, t: int, n: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """(pad mask, frames) of a window at ``t`` in an episode of ``n`` frames: frames
    outside the episode take the first or last frame. ``lo``/``hi`` bound the offsets
    (``lo <= offsets < hi``), so an edge that cannot be reached costs nothing; np.minimum
    and np.maximum, not np.clip, which costs several times more on arrays this small."""
    rows = offsets + t
    below, above = t + lo < 0, t + hi > n
    if below and above:
        pad = (rows < 0) | (rows >= n)
        return pad, np.minimum(np.maximum(rows, 0), n - 1)
    if above:
        return rows >= n, np.minimum(rows, n - 1)
    if below:
        return rows < 0, np.maximum(rows, 0)
    return np.zeros(len(rows), dtype=bool), rows
