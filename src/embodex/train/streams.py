"""Windows of a stream at its own rate (IMU at 200 Hz, force-torque; format 1.1) aligned to
frame time: for frame ``t``, the samples captured in the last ``seconds`` up to and
including the frame's capture time, as a fixed-length array with a pad mask.

``stream_window`` is the vectorised core (one ``np.searchsorted`` per call, any number of
frames at once); :class:`StreamWindows` is what the loader holds: the per-episode samples
of the chosen streams, read once per episode and process from the memory-mapped stream
shards, and one call per sample (or per batch of frames of one episode).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import CorruptDatasetError, LoaderConfigError
from ..format import DatasetMeta
from .source import Source

__all__ = ["StreamWindowSpec", "StreamWindows", "resolve_stream_windows", "stream_window"]


def stream_window(
    stream_ts: np.ndarray,
    values: Mapping[str, np.ndarray],
    frame_ts: np.ndarray,
    seconds: float,
    length: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The last ``length`` samples in ``(frame_ts - seconds, frame_ts]`` for each frame time.

    ``stream_ts``: the stream's sorted int64 capture times; ``values``: feature →
    ``(samples, D)``; ``frame_ts``: ``(F,)`` int64 frame capture times. Returns
    ``(windows, is_pad, dt_s)``: per feature ``(F, length, D)`` (oldest first, the newest
    sample last; padded slots are zero), ``is_pad`` ``(F, length)`` bool (True where no
    sample filled the slot: the window held fewer samples, e.g. at an episode's start or
    across a gap in the stream), ``dt_s`` ``(F, length)`` float32 seconds from the frame
    back to each sample (``<= 0``; 0 where padded). A window holding more than ``length``
    samples keeps the newest.
    """
    frame_ts = np.asarray(frame_ts, dtype=np.int64)
    window_ns = round(seconds * 1e9)
    hi = np.searchsorted(stream_ts, frame_ts, side="right")  # one past the last sample <= t
    lo = np.searchsorted(stream_ts, frame_ts - window_ns, side="right")  # first > t - window
    idx = hi[:, None] - length + np.arange(length)[None, :]
    is_pad = idx < lo[:, None]
    m = len(stream_ts)
    safe = np.clip(idx, 0, max(m - 1, 0))
    out: dict[str, np.ndarray] = {}
    for name, arr in values.items():
        if m == 0:
            out[name] = np.zeros((len(frame_ts), length, arr.shape[1]), dtype=arr.dtype)
            continue
        got = arr[safe]
        got[is_pad] = 0
        out[name] = got
    if m == 0:
        return (
            out,
            np.ones((len(frame_ts), length), dtype=bool),
            np.zeros((len(frame_ts), length), np.float32),
        )
    dt = (stream_ts[safe] - frame_ts[:, None]).astype(np.float64) / 1e9
    dt[is_pad] = 0.0
    return out, is_pad, dt.astype(np.float32)


@dataclass(frozen=True)
class StreamWindowSpec:
    """One stream's window in every sample: ``seconds`` back from the frame, ``length``
    slots, the stream features returned."""

    stream: str
    seconds: float
    length: int
    features: tuple[str, ...]


def resolve_stream_windows(
    meta: DatasetMeta, streams: Mapping[str, float | tuple[float, int]] | None
) -> tuple[StreamWindowSpec, ...]:
    """Check the loader's ``streams=`` option against the dataset: ``{name: seconds}``
    (``length = ceil(seconds × rate_hz) + 1``, one slot of slack for a jittery clock) or
    ``{name: (seconds, length)}``. Raises ``LoaderConfigError``."""
    out: list[StreamWindowSpec] = []
    for name, value in (streams or {}).items():
        try:
            spec = meta.stream(name)
        except KeyError:
            known = ", ".join(s.name for s in meta.streams) or "(none)"
            raise LoaderConfigError(
                f"stream {name!r} does not exist in this dataset",
                hint=f"Known streams: {known}.",
            ) from None
        seconds, length = (value, None) if not isinstance(value, tuple) else value
        if not (isinstance(seconds, int | float) and seconds > 0):
            raise LoaderConfigError(
                f"stream {name!r}: the window must be a positive number of seconds, got "
                f"{seconds!r}",
                hint='Example: streams={"imu": 0.05} (the last 50 ms before each frame).',
            )
        if length is None:
            length = math.ceil(seconds * spec.rate_hz - 1e-9) + 1
        if not (isinstance(length, int) and length > 0):
            raise LoaderConfigError(f"stream {name!r}: window length must be a positive int")
        out.append(StreamWindowSpec(name, float(seconds), length, tuple(sorted(spec.features))))
    return tuple(out)


class StreamWindows:
    """The chosen streams' samples of each selected episode, read lazily (once per episode
    and process) from the memory-mapped stream shards, and their windows per frame.

    Keys of a sample: ``stream.<name>.<feature>`` ``(length, D)``, ``stream.<name>.dt_s``
    ``(length,)`` and ``stream.<name>_is_pad`` ``(length,)``.
    """

    def __init__(
        self,
        source: Source,
        sizes: Mapping[str, int],
        meta: DatasetMeta,
        specs: Sequence[StreamWindowSpec],
        episode_rows: Mapping[str, Sequence[tuple[str, int, int]]],
    ) -> None:
        """``episode_rows``: per stream, each selected episode's (shard, row_start, count)."""
        self.specs = tuple(specs)
        self._source = source
        self._sizes = dict(sizes)
        self._meta = meta
        self._rows = {k: list(v) for k, v in episode_rows.items()}
        self._tables: dict[str, pa.Table] = {}
        self._cache: dict[tuple[str, int], tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    @classmethod
    def build(
        cls,
        source: Source,
        sizes: Mapping[str, int],
        meta: DatasetMeta,
        specs: Sequence[StreamWindowSpec],
        column: Callable[[str], list[Any]],
    ) -> StreamWindows | None:
        """The windows of ``specs`` over the selected episodes (``column(name)`` gives a
        column of the episode table for them); None when no stream is asked for."""
        if not specs:
            return None
        rows = {}
        for w in specs:
            s = meta.stream(w.stream)
            cols = (column(s.shard_column), column(s.start_column), column(s.count_column))
            rows[w.stream] = list(zip(*cols, strict=True))
        return cls(source, sizes, meta, specs, rows)

    def shard_names(self) -> list[str]:
        return sorted({row[0] for rows in self._rows.values() for row in rows})

    def _table(self, name: str) -> pa.Table:
        table = self._tables.get(name)
        if table is None:
            path = self._source.shard_path(name)
            size = self._sizes.get(name)
            if size is None or not path.is_file() or path.stat().st_size != size:
                raise CorruptDatasetError(
                    f"stream shard {name} is missing or does not have the size in the manifest"
                )
            try:
                table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            except (pa.ArrowInvalid, OSError) as exc:
                raise CorruptDatasetError(f"stream shard {name} is unreadable: {exc}") from exc
            self._tables[name] = table
        return table

    def samples(self, stream: str, k: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Selected episode ``k``'s samples of ``stream``: times and feature arrays."""
        got = self._cache.get((stream, k))
        if got is None:
            shard, start, count = self._rows[stream][k]
            spec = self._meta.stream(stream)
            table = self._table(shard).slice(start, count)
            ts = table.column("timestamp_ns").to_numpy()
            values: dict[str, np.ndarray] = {}
            for name in sorted(spec.features):
                col = table.column(name).combine_chunks()
                flat = col.flatten().to_numpy(zero_copy_only=False)
                values[name] = flat.reshape(len(col), spec.features[name].shape[0])
            got = (ts, values)
            self._cache[(stream, k)] = got
        return got

    def windows(self, k: int, frame_ts: np.ndarray) -> dict[str, np.ndarray]:
        """Every chosen stream's window for frames of selected episode ``k`` at
        ``frame_ts`` ``(F,)``: arrays with a leading ``F`` axis."""
        out: dict[str, np.ndarray] = {}
        for spec in self.specs:
            ts, values = self.samples(spec.stream, k)
            win, pad, dt = stream_window(ts, values, frame_ts, spec.seconds, spec.length)
            for name, arr in win.items():
                out[f"stream.{spec.stream}.{name}"] = arr
            out[f"stream.{spec.stream}.dt_s"] = dt
            out[f"stream.{spec.stream}_is_pad"] = pad
        return out

    def sample(self, k: int, frame_ts: int) -> dict[str, Any]:
        """The windows of one frame (what one sample holds)."""
        return {key: arr[0] for key, arr in self.windows(k, np.array([frame_ts], np.int64)).items()}
