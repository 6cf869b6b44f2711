"""Vectorised per-episode reductions over the frames of many episodes at once.

Rules work on a chunk: consecutive episodes of one shard, their frames concatenated, joints
in rows (``(D, N)``, contiguous per joint). One numpy call then covers every episode of the
chunk, and a per-episode result comes from a segmented reduction, so the cost per frame is
a few vector operations and the cost per episode a few scalar ones. Keeping joints in rows
matters: reductions across frames run along contiguous memory (~10x faster than over the
frame-major layout the shards store).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["quantiles", "runs", "seg_percentiles", "seg_reduce"]


def seg_reduce(
    ufunc: np.ufunc, x: np.ndarray, starts: np.ndarray, stops: np.ndarray, fill: float
) -> np.ndarray:
    """``ufunc``-reduce ``x`` along its last axis over each half-open ``[start, stop)``.

    Returns ``x.shape[:-1] + (E,)``; empty segments get ``fill``. Segments must be ordered
    and may leave gaps (the gaps are simply not part of any result).
    """
    m = x.shape[-1]
    starts = np.asarray(starts, dtype=np.int64)
    stops = np.minimum(np.asarray(stops, dtype=np.int64), m)
    out = np.full((*x.shape[:-1], len(starts)), fill, dtype=np.result_type(x.dtype, np.float32))
    ok = stops > starts
    if not ok.any():
        return out
    idx = np.empty(2 * int(ok.sum()), dtype=np.int64)
    idx[0::2] = starts[ok]
    idx[1::2] = stops[ok]
    if idx[-1] >= m:  # reduceat runs the last index to the end by itself
        idx = idx[:-1]
    res = ufunc.reduceat(x, idx, axis=-1)[..., 0::2]
    out[..., ok] = res
    return out


def quantiles(x: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Percentiles ``qs`` (0-100) of the non-empty 1-D ``x``, interpolated linearly as
    ``np.percentile`` does, from one ``np.partition`` (several times cheaper per call)."""
    n = x.size
    pos = [q / 100.0 * (n - 1) for q in qs]
    lo = [int(p) for p in pos]
    hi = [min(i + 1, n - 1) for i in lo]
    part = np.partition(x, sorted(set(lo + hi)))
    return np.array(
        [
            float(part[a]) * (1.0 - (p - a)) + float(part[b]) * (p - a)
            for p, a, b in zip(pos, lo, hi, strict=True)
        ]
    )


def seg_percentiles(
    x: np.ndarray, starts: np.ndarray, stops: np.ndarray, qs: Sequence[float]
) -> np.ndarray:
    """Per segment of the 1-D ``x``, the percentiles ``qs`` (0-100) of its finite values.

    Returns ``(E, len(qs))``; NaN where a segment has no finite value.
    """
    out = np.full((len(starts), len(qs)), np.nan)
    for e, (a, b) in enumerate(zip(starts, stops, strict=True)):
        seg = x[a:b]
        if seg.size == 0:
            continue
        if not np.isfinite(seg).all():
            seg = seg[np.isfinite(seg)]
            if seg.size == 0:
                continue
        out[e] = quantiles(seg, qs)
    return out


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (half-open) of every run of True in the 1-D boolean ``mask``."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]
