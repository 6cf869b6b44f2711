"""Frames of consecutive episodes of one shard, loaded once for every rule that needs them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..format.models import DatasetMeta, Embodiment, Stream
from .kernels import seg_reduce

__all__ = ["CHUNK_FRAMES", "CameraTimes", "Chunk", "Kinematics", "load_chunk", "plan_chunks"]

#: Frames per chunk: large enough that numpy's per-call cost vanishes, small enough that
#: the (D, N) float32 temporaries stay in cache-sized megabytes.
CHUNK_FRAMES = 32_768


def plan_chunks(
    rows: Sequence[dict[str, Any]], embodiment_of: dict[str, int], max_frames: int = CHUNK_FRAMES
) -> Iterator[tuple[str, int, list[dict[str, Any]]]]:
    """Yield ``(shard, embodiment index, rows)``: episodes adjacent in a shard, one robot model,
    at most ``max_frames`` frames (an episode longer than that is a chunk of its own)."""
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_shard.setdefault(row["shard"], []).append(row)
    for shard in sorted(by_shard):
        group: list[dict[str, Any]] = []
        frames = 0
        emb = -1
        for row in sorted(by_shard[shard], key=lambda r: r["row_start"]):
            e = embodiment_of.get(row.get("robot_model") or "", 0)
            contiguous = (
                bool(group)
                and group[-1]["row_start"] + group[-1]["frame_count"] == (row["row_start"])
            )
            if group and (e != emb or not contiguous or frames + row["frame_count"] > max_frames):
                yield shard, emb, group
                group, frames = [], 0
            group.append(row)
            frames += row["frame_count"]
            emb = e
        if group:
            yield shard, emb, group


@dataclass
class CameraTimes:
    """A camera's capture times in a chunk; ``valid`` is False where the recorder gave none."""

    values: np.ndarray
    valid: np.ndarray


def _matrix(col: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """A fixed-size-list column as a ``(width, N)`` float32 array, one joint per row."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    out: np.ndarray = np.ascontiguousarray(flat.reshape(n, width).T, dtype=np.float32)
    return out


def _vector(col: pa.ChunkedArray) -> np.ndarray:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    out: np.ndarray = arr.to_numpy(zero_copy_only=False)
    return out


@dataclass
class Chunk:
    """Episodes ``rows`` (adjacent rows of one shard) and their frames.

    ``starts``/``stops``: each episode's frames within the chunk arrays. ``state`` and
    ``action``: ``(D, N)`` float32 (None when the dataset has no such feature); ``others``:
    every other numeric feature the same way; ``table``: the chunk's rows of the shard
    (images are read from it on demand).
    """

    meta: DatasetMeta
    embodiment: Embodiment
    rows: list[dict[str, Any]]
    starts: np.ndarray
    stops: np.ndarray
    ts: np.ndarray
    frame_index: np.ndarray
    episode_index: np.ndarray
    state: np.ndarray | None
    action: np.ndarray | None
    others: dict[str, np.ndarray]
    cam_ts: dict[str, CameraTimes | None]
    table: pa.Table
    period_s: float
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    #: the dataset folder, where video cameras' files are (format 1.1)
    root: Path | None = None
    #: a shard of the dataset by manifest path, size-checked (stream shards, format 1.1)
    shard_table: Callable[[str], pa.Table] | None = None

    def stream_times(self, e: int, stream: Stream) -> np.ndarray | None:
        """Capture times of episode ``e``'s samples of a stream at its own rate (format
        1.1); None when the chunk cannot read stream shards."""
        if self.shard_table is None:
            return None
        row = self.rows[e]
        table = self.shard_table(str(row[stream.shard_column]))
        col = table.column("timestamp_ns").slice(
            int(row[stream.start_column]), int(row[stream.count_column])
        )
        return _vector(col).astype(np.int64, copy=False)

    @property
    def ids(self) -> list[str]:
        return [r["episode_id"] for r in self.rows]

    @property
    def counts(self) -> np.ndarray:
        out: np.ndarray = self.stops - self.starts
        return out

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def units(self) -> list[str]:
        return list(self.embodiment.units)

    def joint_mask(
        self, units: Sequence[str] | None = None, exclude: Sequence[str] = ()
    ) -> np.ndarray:
        """Boolean mask of the state's joints whose unit is in ``units`` (all when None)."""
        d = 0 if self.state is None else self.state.shape[0]
        names = self.units if len(self.units) == d else ["rad"] * d
        return np.array(
            [(units is None or u in units) and u not in exclude for u in names], dtype=bool
        )

    def joint_name(self, j: int) -> str:
        names = self.embodiment.joint_names
        return names[j] if j < len(names) else f"joint {j}"

    def joint_unit(self, j: int) -> str:
        """The unit of joint ``j`` (rad when the embodiment does not say)."""
        return self.units[j] if j < len(self.units) else "rad"

    def metric(self, name: str, values: np.ndarray) -> None:
        """Record a per-episode quality metric (stored in the QC metrics table)."""
        self.metrics[name] = np.asarray(values, dtype=np.float64)

    @cached_property
    def kin(self) -> Kinematics:
        return Kinematics(self)


def load_chunk(
    meta: DatasetMeta,
    embodiment: Embodiment,
    shard: pa.Table,
    rows: list[dict[str, Any]],
    state_name: str | None,
    action_name: str | None,
    period_s: float,
    root: Path | None = None,
    shard_table: Callable[[str], pa.Table] | None = None,
) -> Chunk:
    """Read the chunk's columns from a (memory-mapped) shard table into numpy."""
    row0 = rows[0]["row_start"]
    n = rows[-1]["row_start"] + rows[-1]["frame_count"] - row0
    table = shard.slice(row0, n)
    starts = np.array([r["row_start"] - row0 for r in rows], dtype=np.int64)
    stops = starts + np.array([r["frame_count"] for r in rows], dtype=np.int64)
    others: dict[str, np.ndarray] = {}
    state = action = None
    for name, spec in meta.feature_items():
        if name not in table.column_names:
            continue
        m = _matrix(table.column(name), spec.shape[0])
        if name == state_name:
            state = m
        elif name == action_name:
            action = m
        else:
            others[name] = m
    cam_ts: dict[str, CameraTimes | None] = {}
    for cam in meta.cameras:
        if cam.timestamp_column not in table.column_names:
            cam_ts[cam.name] = None
            continue
        col = table.column(cam.timestamp_column)
        if col.null_count == len(col):
            cam_ts[cam.name] = None
            continue
        valid = _vector(col.is_valid())
        values = _vector(col.fill_null(0)).astype(np.int64, copy=False)
        cam_ts[cam.name] = CameraTimes(values, valid.astype(bool, copy=False))
    return Chunk(
        meta=meta,
        embodiment=embodiment,
        rows=rows,
        starts=starts,
        stops=stops,
        ts=_vector(table.column("timestamp_ns")).astype(np.int64, copy=False),
        frame_index=_vector(table.column("frame_index")).astype(np.int64, copy=False),
        episode_index=_vector(table.column("episode_index")).astype(np.int64, copy=False),
        state=state,
        action=action,
        others=others,
        cam_ts=cam_ts,
        table=table,
        period_s=period_s,
        root=root,
        shard_table=shard_table,
    )


class Kinematics:
    """Finite differences of the state, computed once per chunk and shared by the rules.

    Order-k differences of episode e live in columns ``[start_e, stop_e - k)``; the columns
    between episodes mix two episodes and are never part of a per-episode result. Velocity,
    acceleration and jerk use the real capture times (a late frame is not a speed spike).
    """

    def __init__(self, chunk: Chunk) -> None:
        self.c = chunk

    def span(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Segments of the order-k differences of each episode."""
        stops: np.ndarray = np.maximum(self.c.stops - k, self.c.starts)
        return self.c.starts, stops

    @cached_property
    def dt(self) -> np.ndarray:
        """Seconds between consecutive frames, ``(N-1,)`` float64 (the nominal period between
        episodes, and where time does not advance, so divisions stay finite)."""
        dt = np.diff(self.c.ts).astype(np.float64) * 1e-9
        dt[dt <= 0] = self.c.period_s
        bounds = self.c.stops[:-1] - 1
        dt[bounds] = self.c.period_s
        return dt

    @cached_property
    def inv_dt(self) -> np.ndarray:
        out: np.ndarray = (1.0 / self.dt).astype(np.float32)
        return out

    @cached_property
    def dq(self) -> np.ndarray:
        assert self.c.state is not None
        s = self.c.state
        out: np.ndarray = s[:, 1:] - s[:, :-1]
        return out

    @cached_property
    def vel(self) -> np.ndarray:
        """Joint velocity (unit/s), ``(D, N-1)``."""
        out: np.ndarray = self.dq * self.inv_dt
        return out

    @cached_property
    def acc(self) -> np.ndarray:
        """Joint acceleration (unit/s²), ``(D, N-2)``."""
        v = self.vel
        mid = 2.0 / (self.dt[1:] + self.dt[:-1])
        out: np.ndarray = (v[:, 1:] - v[:, :-1]) * mid.astype(np.float32)
        return out

    @cached_property
    def jerk(self) -> np.ndarray:
        """Joint jerk (unit/s³), ``(D, N-3)``."""
        a = self.acc
        # acc[k] belongs to frame k+1, so consecutive accelerations are dt[k+1] apart
        out: np.ndarray = (a[:, 1:] - a[:, :-1]) * self.inv_dt[1:-1]
        return out

    def seg_max_abs(self, x: np.ndarray, k: int) -> np.ndarray:
        """Per joint and episode, the largest ``|x|`` over order-k columns: ``(D, E)``."""
        starts, stops = self.span(k)
        return seg_reduce(np.maximum, np.abs(x), starts, stops, 0.0)
