"""Per-episode statistics and their exact (mean, std, min, max) or bounded (quantiles) merge.

Each episode stores, per feature and dimension: the count of finite values, their mean,
population std, min, max and the values at ``QUANTILE_LEVELS``. Statistics of any subset
of episodes are merged from these rows alone, without reading a frame:

* mean and std with Chan's parallel formula (exact up to float rounding);
* min and max exactly;
* q01 and q99 by inverting the mixture of the episodes' piecewise-linear CDFs, which the
  stored levels pin down exactly at 1 % and 99 % for every single episode.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from .models import FeatureStats

__all__ = [
    "QUANTILE_LEVELS",
    "episode_feature_stats",
    "merge_feature_stats",
    "stats_arrow_type",
]

QUANTILE_LEVELS: tuple[float, ...] = (
    0.0,
    0.01,
    0.02,
    0.05,
    0.10,
    0.25,
    0.50,
    0.75,
    0.90,
    0.95,
    0.98,
    0.99,
    1.0,
)
_LEVELS = np.asarray(QUANTILE_LEVELS)


def stats_arrow_type() -> pa.StructType:
    """Arrow type of one feature's per-episode statistics."""
    f64 = pa.list_(pa.float64())
    return pa.struct(
        [
            ("count", pa.list_(pa.int64())),
            ("mean", f64),
            ("std", f64),
            ("min", f64),
            ("max", f64),
            ("quantiles", f64),  # level-major: len(QUANTILE_LEVELS) * D values
        ]
    )


def episode_feature_stats(values: np.ndarray) -> dict[str, list[Any]]:
    """Statistics of one episode's ``(frames, D)`` array, ignoring non-finite values."""
    x = np.asarray(values)
    if x.ndim == 1:
        x = x[:, None]
    d = x.shape[1]
    finite = np.isfinite(x)
    count = finite.sum(axis=0)
    if finite.all():
        mean = x.mean(axis=0, dtype=np.float64)
        std = x.std(axis=0, dtype=np.float64)
        srt = np.sort(x, axis=0)
        lo, hi = srt[0].astype(np.float64), srt[-1].astype(np.float64)
        q = _sorted_quantiles(srt.astype(np.float64, copy=False))
    else:
        masked = np.where(finite, x.astype(np.float64), np.nan)
        with np.errstate(all="ignore"), _quiet_nan_warnings():
            mean = np.nanmean(masked, axis=0)
            std = np.nanstd(masked, axis=0)
            lo = np.nanmin(masked, axis=0)
            hi = np.nanmax(masked, axis=0)
            q = np.nanquantile(masked, _LEVELS, axis=0)
    return {
        "count": count.astype(np.int64).tolist(),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "min": lo.tolist(),
        "max": hi.tolist(),
        "quantiles": np.asarray(q).reshape(len(_LEVELS) * d).tolist(),
    }


def _sorted_quantiles(srt: np.ndarray) -> np.ndarray:
    """Linear-interpolated quantiles at _LEVELS of column-sorted data (numpy's default)."""
    pos = _LEVELS * (len(srt) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(srt) - 1)
    frac = (pos - lo)[:, None]
    return np.asarray(srt[lo] * (1 - frac) + srt[hi] * frac)


@contextlib.contextmanager
def _quiet_nan_warnings() -> Iterator[None]:
    # all-NaN columns are expected here (QC reports them); numpy's warning is noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _column(rows: list[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.asarray([r[key] for r in rows], dtype=np.float64)


def merge_feature_stats(rows: list[Mapping[str, Any]], dim: int) -> FeatureStats:
    """Merge per-episode statistics (as produced by :func:`episode_feature_stats`)."""
    none = [None] * dim
    if not rows:
        return FeatureStats(count=0, mean=none, std=none, min=none, max=none, q01=none, q99=none)
    n = _column(rows, "count")  # (E, D)
    mean = np.nan_to_num(_column(rows, "mean"))
    std = np.nan_to_num(_column(rows, "std"))
    total = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gmean = (n * mean).sum(axis=0) / total
        m2 = (n * (std**2 + (mean - gmean) ** 2)).sum(axis=0)
        gstd = np.sqrt(m2 / total)
    lo = np.where(n > 0, _column(rows, "min"), np.inf).min(axis=0)
    hi = np.where(n > 0, _column(rows, "max"), -np.inf).max(axis=0)
    q = _column(rows, "quantiles").reshape(len(rows), len(_LEVELS), dim)
    q01 = _mixture_quantile(q, n, 0.01, lo, hi)
    q99 = _mixture_quantile(q, n, 0.99, lo, hi)

    def out(a: np.ndarray) -> list[float | None]:
        return [
            float(v) if t > 0 and np.isfinite(v) else None for v, t in zip(a, total, strict=True)
        ]

    return FeatureStats(
        count=int(total.max()) if total.size else 0,
        mean=out(gmean),
        std=out(gstd),
        min=out(lo),
        max=out(hi),
        q01=out(q01),
        q99=out(q99),
    )


def _mixture_cdf(
    q: np.ndarray, w: np.ndarray, x: np.ndarray, grid: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Weighted mixture of piecewise-linear CDFs at ``x``.

    q: (E, L, D) quantile knots, w: (E, D) weights summing to 1 per dimension, x: (D,).
    """
    last = len(_LEVELS) - 1
    k = (q <= x[None, None, :]).sum(axis=1)  # knots <= x, (E, D)
    lo_k = np.clip(k - 1, 0, last)
    hi_k = np.clip(k, 0, last)
    e_idx, d_idx = grid
    q_lo = q[e_idx, lo_k, d_idx]
    q_hi = q[e_idx, hi_k, d_idx]
    span = q_hi - q_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span > 0, (x[None, :] - q_lo) / span, 0.0)
    cdf = _LEVELS[lo_k] + np.clip(frac, 0.0, 1.0) * (_LEVELS[hi_k] - _LEVELS[lo_k])
    cdf = np.where(k == 0, 0.0, np.where(k > last, 1.0, cdf))
    return np.asarray((w * cdf).sum(axis=0))


def _mixture_quantile(
    q: np.ndarray, n: np.ndarray, p: float, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    level = QUANTILE_LEVELS.index(p)
    if q.shape[0] == 1:
        return np.asarray(q[0, level])
    total = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(total > 0, n / total, 0.0)
    valid = np.isfinite(q).all(axis=1)  # (E, D)
    w = np.where(valid, w, 0.0)
    q = np.nan_to_num(q)
    # Every episode's CDF passes through (q_i(p), p), so the mixture's p-quantile lies
    # between the smallest and the largest of them: a tight start for the bisection.
    at_p = np.where(valid, q[:, level, :], np.nan)
    with _quiet_nan_warnings():
        a = np.nan_to_num(np.nanmin(at_p, axis=0))
        b = np.nan_to_num(np.nanmax(at_p, axis=0))
    tol = 1e-7 * np.maximum(np.nan_to_num(hi - lo, posinf=0.0, neginf=0.0), 1e-12)
    ix = np.indices(w.shape)
    grid: tuple[np.ndarray, ...] = (ix[0], ix[1])
    for _ in range(48):
        if np.all(b - a <= tol):
            break
        mid = (a + b) / 2
        below = _mixture_cdf(q, w, mid, grid) < p
        a = np.where(below, mid, a)
        b = np.where(below, b, mid)
    out: np.ndarray = (a + b) / 2
    return out
