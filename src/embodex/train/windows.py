"""Temporal windows: which frames around ``t`` each requested key returns.

A window is a sorted-as-given array of frame offsets relative to the sample's frame ``t``
(``-2, -1, 0`` for three frames of history, ``0 .. 49`` for a 50-step action chunk).
Offsets are frames at the dataset's nominal fps; ``delta_timestamps`` in seconds (LeRobot's
convention) are converted with a tolerance and rejected when they fall between frames.
Frames outside the episode are filled with the episode's first or last frame and flagged
in ``<key>_is_pad``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import LoaderConfigError
from ..format import DatasetMeta

__all__ = ["TIMESTAMP_TOLERANCE_S", "Window", "resolve_windows"]

#: how far a delta timestamp may sit from a whole frame offset (LeRobot uses the same 1e-4 s)
TIMESTAMP_TOLERANCE_S = 1e-4


@dataclass(frozen=True)
class Window:
    """Frame offsets of one key; ``contiguous`` when they are consecutive and increasing."""

    offsets: np.ndarray  # int64

    @property
    def first(self) -> int:
        return int(self.offsets.min())

    @property
    def last(self) -> int:
        return int(self.offsets.max())

    @property
    def span(self) -> int:
        return self.last - self.first + 1

    @property
    def contiguous(self) -> bool:
        return bool(len(self.offsets) == self.span and np.all(np.diff(self.offsets) == 1))


def resolve_windows(
    meta: DatasetMeta,
    features: Sequence[str],
    cameras: Sequence[str],
    *,
    history: int | None,
    horizon: int | None,
    delta_timestamps: Mapping[str, Sequence[float]] | None,
) -> dict[str, Window]:
    """Windows for the keys that have one (features by name, cameras as ``image.<name>``).

    ``history=n`` gives every non-action feature the frames ``t-n+1 .. t``; ``horizon=n``
    gives every action feature (role ``action``) the frames ``t .. t+n-1``. Or
    ``delta_timestamps`` maps a feature or camera name to offsets in seconds. Keys without
    a window return the frame ``t`` alone, with no window axis.

    Raises ``LoaderConfigError`` for non-positive lengths, both styles at once, an unknown
    key, or a delta that is not a whole number of frames.
    """
    if delta_timestamps is not None and (history is not None or horizon is not None):
        raise LoaderConfigError(
            "pass either history/horizon or delta_timestamps, not both",
            hint="delta_timestamps={'state': [-0.1, 0.0], 'action': [...]} covers both.",
        )
    out: dict[str, Window] = {}
    if delta_timestamps is None:
        for label, value in (("history", history), ("horizon", horizon)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise LoaderConfigError(
                    f"{label}={value!r} must be a positive number of frames",
                    hint=f"Use {label}=None for the current frame only.",
                )
        for name in features:
            is_action = meta.features[name].role == "action"
            if is_action and horizon is not None:
                out[name] = Window(np.arange(0, horizon, dtype=np.int64))
            elif not is_action and history is not None:
                out[name] = Window(np.arange(-history + 1, 1, dtype=np.int64))
        return out
    camera_keys = {c: f"image.{c}" for c in cameras}
    for key, deltas in delta_timestamps.items():
        name = key
        if key in features:
            pass
        elif key in camera_keys:
            name = camera_keys[key]
        elif key.startswith("image.") and key[len("image.") :] in camera_keys:
            pass
        else:
            known = [*features, *cameras]
            raise LoaderConfigError(
                f"delta_timestamps names {key!r}, which is not a loaded feature or camera",
                hint=f"Loaded keys: {', '.join(known)} (add it to features=/cameras=; CLI: -f/-c).",
            )
        out[name] = Window(_frame_offsets(key, deltas, meta.fps))
    return out


def _frame_offsets(key: str, deltas: Sequence[float], fps: float) -> np.ndarray:
    values = np.asarray(list(deltas), dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise LoaderConfigError(f"delta_timestamps[{key!r}] must be a non-empty list of seconds")
    frames = np.rint(values * fps)
    off = np.abs(frames / fps - values)
    if (off > TIMESTAMP_TOLERANCE_S).any():
        bad = float(values[int(np.argmax(off))])
        raise LoaderConfigError(
            f"delta_timestamps[{key!r}] has {bad} s, not a whole number of frames at {fps} fps",
            hint=f"Use multiples of 1/fps = {1 / fps:.6g} s.",
        )
    return frames.astype(np.int64)
