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

from collections.abc import Mapping
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
    0.0, 0.01, 0.02, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.98, 0.99, 1.0,
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
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    d = x.shape[1]
    finite = np.isfinite(x)
    count = finite.sum(axis=0)
    if finite.all():
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        lo = x.min(axis=0)
        hi = x.max(axis=0)
        q = np.quantile(x, _LEVELS, axis=0)
    else:
        masked = np.where(finite, x, np.nan)
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


class _quiet_nan_warnings:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


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
        return [float(v) if t > 0 and np.isfinite(v) else None for v, t in zip(a, total, strict=True)]

    return FeatureStats(
        count=int(total.max()) if total.size else 0,
        mean=out(gmean),
        std=out(gstd),
        min=out(lo),
        max=out(hi),
        q01=out(q01),
        q99=out(q99),
    )


def _mixture_cdf(q: np.ndarray, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Weighted mixture of piecewise-linear CDFs at ``x``.

    q: (E, L, D) quantile knots, w: (E, D) weights summing to 1 per dimension, x: (D,).
    """
    below = q <= x[None, None, :]  # (E, L, D)
    k = below.sum(axis=1)  # number of knots <= x, (E, D)
    e_idx, d_idx = np.indices(k.shape)
    lo_k = np.clip(k - 1, 0, len(_LEVELS) - 1)
    hi_k = np.clip(k, 0, len(_LEVELS) - 1)
    q_lo = q[e_idx, lo_k, d_idx]
    q_hi = q[e_idx, hi_k, d_idx]
    l_lo = _LEVELS[lo_k]
    l_hi = _LEVELS[hi_k]
    span = q_hi - q_lo
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span > 0, (x[None, :] - q_lo) / span, 0.0)
    cdf = l_lo + np.clip(frac, 0.0, 1.0) * (l_hi - l_lo)
    cdf = np.where(k == 0, 0.0, np.where(k >= len(_LEVELS), 1.0, cdf))
    return np.asarray((w * cdf).sum(axis=0))


def _mixture_quantile(
    q: np.ndarray, n: np.ndarray, p: float, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    if q.shape[0] == 1:
        return np.asarray(q[0, QUANTILE_LEVELS.index(p)])
    total = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(total > 0, n / total, 0.0)
    valid = np.isfinite(q).all(axis=1)  # (E, D)
    w = np.where(valid, w, 0.0)
    q = np.nan_to_num(q)
    a = np.where(np.isfinite(lo), lo, 0.0).astype(np.float64)
    b = np.where(np.isfinite(hi), hi, 0.0).astype(np.float64)
    for _ in range(60):
        mid = (a + b) / 2
        below = _mixture_cdf(q, w, mid) < p
        a = np.where(below, mid, a)
        b = np.where(below, b, mid)
        if np.all(b - a <= 1e-12 * np.maximum(1.0, np.abs(b))):
            break
    return (a + b) / 2
