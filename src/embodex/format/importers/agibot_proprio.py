"""Proprioception of AgiBot World episodes: state and action vectors from proprio_stats.h5."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ...errors import ImportSourceError
from .agibot_layout import COUNT_HINT, GROUPS, SKIP_HINT

__all__ = ["GripperMap", "Proprio", "has_velocity", "load_proprio", "read_proprio"]


def has_velocity(path: Path) -> bool | None:
    """True/False when readable; None when the file cannot be read (reported later)."""
    try:
        with h5py.File(path, "r") as f:
            rows = f["state/joint/position"].shape[0]
            vel = f.get("action/robot/velocity")
            return vel is not None and rows > 0 and tuple(vel.shape) == (rows, 2)
    except (OSError, KeyError, ValueError, TypeError):
        return None


@dataclass
class Proprio:
    """One episode's vectors; ``filled`` names the action groups taken from the state;
    ``gripper_looks_fractional``: the raw gripper state was declared in mm but never left
    [0, 1.5] (an opening fraction, most likely: the sidecar should say so)."""

    timestamps: np.ndarray | None
    state: np.ndarray
    action: np.ndarray
    velocity: np.ndarray | None
    filled: dict[str, str]
    gripper_looks_fractional: bool = False


@dataclass(frozen=True)
class GripperMap:
    """How the recorder stores the gripper state, mapped to embodex's 0 = open .. 1 = closed.

    ``unit``: ``mm`` (a reading mapped linearly over ``range_mm``) or ``fraction`` (0..1 as
    stored); ``open``: which end of the reading is open (``low``: it grows as the gripper
    closes, AgiBot's mm; ``high``: an opening fraction where 1 is open)."""

    range_mm: tuple[float, float] = (0.0, 120.0)
    unit: str = "mm"
    open: str = "low"

    def apply(self, raw: np.ndarray) -> np.ndarray:
        lo, hi = self.range_mm
        x = (raw - lo) / (hi - lo) if self.unit == "mm" else raw.copy()
        out: np.ndarray = 1.0 - x if self.open == "high" else x
        return out


def load_proprio(path: Path, eid: str, gripper: GripperMap, velocity: bool) -> Proprio:
    """Read episode ``eid``'s ``proprio_stats.h5`` at ``path``; see :func:`read_proprio`.

    Raises ``ImportSourceError`` when the file is missing, unreadable or malformed.
    """
    if not path.is_file():
        raise ImportSourceError(
            "proprio_stats.h5 is missing",
            path=str(path),
            episode_id=eid,
            hint="Extract the matching proprio_stats tar, " + SKIP_HINT,
        )
    try:
        with h5py.File(path, "r") as f:
            return read_proprio(f, str(path), eid, gripper, velocity)
    except ImportSourceError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ImportSourceError(
            f"cannot read proprio_stats.h5: {exc}",
            path=str(path),
            episode_id=eid,
            hint="The file is corrupt or truncated; download it again, " + SKIP_HINT,
        ) from exc


def read_proprio(
    f: h5py.File, where: str, eid: str, gripper: GripperMap, velocity: bool
) -> Proprio:
    """State, action (and base velocity when ``velocity``) of the open h5 file ``f``.

    The gripper state is mapped to 0 open .. 1 closed with ``gripper``; short action
    groups are scattered into the measured state (specs/format.md §9.1.2).
    Raises ``ImportSourceError`` naming ``where`` and ``eid``.
    """

    def bad(message: str, hint: str | None = None) -> ImportSourceError:
        return ImportSourceError(message, path=where, episode_id=eid, hint=hint)

    def need(key: str, width: int) -> np.ndarray:
        d = f.get(key)
        if not isinstance(d, h5py.Dataset):
            raise bad(
                f"dataset {key} is missing", "Restore the file from the release, " + SKIP_HINT
            )
        arr = np.asarray(d[()], dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != width:
            if key.endswith("effector/position") and arr.ndim == 2 and arr.shape[1] == 12:
                raise bad(
                    f"{key} has 12 values per row (a dexterous hand); only grippers are supported",
                    "Import gripper tasks only, " + SKIP_HINT,
                )
            raise bad(f"{key} has shape {arr.shape}, expected (N, {width})")
        return arr

    parts: list[np.ndarray] = []
    n = 0
    for group, width in GROUPS:
        arr = need(f"state/{group}/position", width)
        if not parts:
            n = len(arr)
            if n == 0:
                raise bad("state/joint/position has no rows", "Drop empty recordings, " + SKIP_HINT)
        elif len(arr) != n:
            raise bad(
                f"state/{group}/position has {len(arr)} rows, state/joint/position has {n}",
                COUNT_HINT,
            )
        parts.append(arr)
    raw_grip = parts[1]
    fractional = (
        gripper.unit == "mm"
        and raw_grip.size > 0
        and bool(np.isfinite(raw_grip).all())
        and float(np.abs(raw_grip).max()) <= 1.5
        and float(np.ptp(raw_grip)) > 0
    )
    parts[1] = gripper.apply(raw_grip)
    state = np.concatenate(parts, axis=1)

    actions: list[np.ndarray] = []
    filled: dict[str, str] = {}
    col = 0
    for group, width in GROUPS:
        held = state[:, col : col + width]
        col += width
        key = f"action/{group}/position"
        d = f.get(key)
        if not isinstance(d, h5py.Dataset) or d.size == 0:
            actions.append(held.copy())
            filled[group] = "state"
            continue
        values = np.asarray(d[()], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != width:
            raise bad(f"{key} has shape {values.shape}, expected (N, {width})")
        rows = len(values)
        if rows > n:
            raise bad(f"{key} has {rows} rows, the state has {n}", COUNT_HINT)
        if rows == n:
            actions.append(values)
            continue
        idx_d = f.get(f"action/{group}/index")
        index = np.asarray(idx_d[()]) if isinstance(idx_d, h5py.Dataset) else None
        if index is None or index.shape != (rows,) or index.dtype.kind not in "iu":
            raise bad(
                f"{key} has {rows} rows, the state has {n}, and action/{group}/index does "
                "not say which rows they are",
                COUNT_HINT,
            )
        if rows and (index.min() < 0 or index.max() >= n or len(np.unique(index)) != rows):
            raise bad(f"action/{group}/index has rows outside 0..{n - 1} or repeats", COUNT_HINT)
        # Rows the operator sent no command for keep the measured pose (AgiBot's own
        # converters do the same); the fill is recorded in the episode's extra.
        out = held.copy()
        out[index.astype(np.int64)] = values
        actions.append(out)
        filled[group] = "scattered"
    action = np.concatenate(actions, axis=1)

    vel = None
    if velocity:
        vel = need("action/robot/velocity", 2)
        if len(vel) != n:
            raise bad(f"action/robot/velocity has {len(vel)} rows, the state has {n}", COUNT_HINT)

    ts = None
    d = f.get("timestamp")
    if isinstance(d, h5py.Dataset) and d.size > 0:
        raw = np.asarray(d[()])
        if raw.dtype.kind not in "iu":
            raise bad(
                f"timestamp has dtype {raw.dtype}; expected int64 nanoseconds",
                "Convert the timestamps to int64 ns, " + SKIP_HINT,
            )
        if raw.shape != (n,):
            raise bad(f"timestamp has shape {raw.shape}, the state has {n} rows", COUNT_HINT)
        ts = raw.astype(np.int64)
        steps = np.diff(ts)
        if steps.size and (steps <= 0).any():
            i = int(np.argmax(steps <= 0)) + 1
            raise bad(
                f"timestamp goes backwards or repeats at row {i} "
                f"({int(ts[i - 1])} -> {int(ts[i])} ns)",
                "The recorder clock jumped; re-time the recording, " + SKIP_HINT,
            )
    return Proprio(ts, state, action, vel, filled, fractional)
