"""Feature statistics in LeRobot's form: per episode, then aggregated for ``meta/stats.json``.

LeRobot keeps ``min``, ``max``, ``mean``, ``std``, ``count`` and the quantiles ``q01``,
``q10``, ``q50``, ``q90``, ``q99`` per dimension. Images get per-channel values of shape
(3, 1, 1) scaled to [0, 1], estimated from a sample of each episode's frames (as LeRobot
does). Dataset-level quantiles are the count-weighted mean of the episodes' quantiles —
LeRobot's own approximation, kept so that its tools agree with our numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["IMAGE_SAMPLES", "QUANTILES", "aggregate", "image_stats", "to_json", "vector_stats"]

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
#: Frames decoded per episode and camera for image statistics.
IMAGE_SAMPLES = 24

Stats = dict[str, np.ndarray]


def _qname(q: float) -> str:
    return f"q{round(q * 100):02d}"


def vector_stats(x: np.ndarray) -> Stats:
    """Per-dimension statistics of ``x`` (frames, D) or (frames,)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out: Stats = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x)], dtype=np.int64),
    }
    for q, values in zip(QUANTILES, np.quantile(x, QUANTILES, axis=0), strict=True):
        out[_qname(q)] = values
    return out


def image_stats(frames: Sequence[np.ndarray], count: int) -> Stats:
    """Per-channel statistics (3, 1, 1) in [0, 1] of sampled uint8 HWC frames.

    ``count`` is the episode's frame count (what LeRobot records), not the sample size.
    """
    # Like LeRobot, look at a downsampled picture: statistics of ~64x64 pixels per frame
    # are as good and cost a fraction of the full frame's quantiles.
    step = -(-max(frames[0].shape[:2]) // 64)  # ceil: at most 64 pixels a side
    pixels = np.concatenate([f[::step, ::step].reshape(-1, 3) for f in frames])
    pixels = pixels.astype(np.float64) / 255.0
    out = vector_stats(pixels)
    shaped: Stats = {k: v.reshape(3, 1, 1) for k, v in out.items() if k != "count"}
    shaped["count"] = np.array([count], dtype=np.int64)
    return shaped


def sample_positions(n: int, samples: int = IMAGE_SAMPLES) -> list[int]:
    """Evenly spread frame positions (all of them for short episodes)."""
    if n <= samples:
        return list(range(n))
    return sorted({round(i) for i in np.linspace(0, n - 1, samples)})


def aggregate(episodes: Sequence[Stats]) -> Stats:
    """Dataset statistics from per-episode ones (weighted by frame count)."""
    counts = np.array([float(s["count"][0]) for s in episodes])
    total = counts.sum()
    w = counts / total

    def weighted(key: str) -> np.ndarray:
        stacked = np.stack([s[key] for s in episodes])
        return np.tensordot(w, stacked, axes=1)

    mean = weighted("mean")
    second = sum(wi * (s["std"] ** 2 + s["mean"] ** 2) for wi, s in zip(w, episodes, strict=True))
    out: Stats = {
        "min": np.min(np.stack([s["min"] for s in episodes]), axis=0),
        "max": np.max(np.stack([s["max"] for s in episodes]), axis=0),
        "mean": mean,
        "std": np.sqrt(np.maximum(second - mean**2, 0.0)),
        "count": np.array([int(total)], dtype=np.int64),
    }
    for q in QUANTILES:
        out[_qname(q)] = weighted(_qname(q))
    return out


def to_json(stats: Stats) -> dict[str, list[object]]:
    """Plain lists for JSON and parquet (``count`` as ints)."""
    out: dict[str, list[object]] = {}
    for key, value in stats.items():
        arr = np.asarray(value)
        out[key] = arr.astype(np.int64).tolist() if key == "count" else arr.tolist()
    return out
