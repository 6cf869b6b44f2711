"""Per-episode statistics and their exact (mean, std, min, max) or bounded (quantiles) merge.

Each episode stores, per feature and dimension: the count of finite values, their mean,
population std, min, max and the values at ``QUANTILE_LEVELS``. Statistics of any subset
of episodes are merged from these rows alone, without reading a frame:

* mean and std with Chan's parallel formula (exact up to float rounding);
* min and max exactly;
* q01 and q99 by inverting, exactly, the count-weighted mixture of the episodes'
  piecewise-linear CDFs (one sweep over the sorted knots), which the stored levels pin
  down exactly at 1 % and 99 % for every single episode.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .models import FeatureStats

__all__ = [
    "QUANTILE_LEVELS",
    "episode_feature_stats",
    "merge_feature_stats",
    "merge_stats_arrays",
    "stats_arrays",
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
    # One float64 copy with each dimension contiguous: sorting rows of it is about twice
    # as fast as sorting the columns of x, and min, max and quantiles then come for free.
    srt = np.array(x.T, dtype=np.float64, order="C")
    finite = np.isfinite(srt)
    if finite.all():
        count = np.full(d, srt.shape[1], dtype=np.int64)
        mean = srt.mean(axis=1)
        std = np.sqrt(np.square(srt - mean[:, None]).mean(axis=1))
        srt.sort(axis=1)
        lo, hi = srt[:, 0], srt[:, -1]
        q = _sorted_quantiles(srt.T)
    else:
        count = finite.sum(axis=1)
        masked = np.where(finite, srt, np.nan).T
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


_KEYS = ("count", "mean", "std", "min", "max", "quantiles")


def _column(rows: list[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.asarray([r[key] for r in rows], dtype=np.float64)


def merge_feature_stats(rows: list[Mapping[str, Any]], dim: int) -> FeatureStats:
    """Merge per-episode statistics (as produced by :func:`episode_feature_stats`)."""
    return merge_stats_arrays({k: _column(rows, k) for k in _KEYS}, dim)


def stats_arrays(stats: pa.ChunkedArray | pa.Array, name: str, dim: int) -> dict[str, np.ndarray]:
    """Feature ``name``'s per-episode statistics from the ``stats`` column, as ``(E, D)``
    arrays (``quantiles``: ``(E, L*D)``), read straight from Arrow without Python rows.
    Episodes without statistics for ``name`` are left out."""
    chunks = stats.chunks if isinstance(stats, pa.ChunkedArray) else [stats]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _KEYS}
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        field = chunk.field(name)
        if chunk.null_count or field.null_count:  # only then is a copy needed
            field = field.filter(pc.and_(chunk.is_valid(), field.is_valid()))
        for key in _KEYS:
            values = field.field(key)
            width = dim * len(_LEVELS) if key == "quantiles" else dim
            lengths = values.value_lengths().to_numpy(zero_copy_only=False)
            if len(lengths) and (lengths != width).any():
                raise ValueError(f"statistics of {name!r}: {key} lists are not {width} long")
            flat = values.flatten().to_numpy(zero_copy_only=False)
            parts[key].append(flat.astype(np.float64, copy=False).reshape(len(values), width))
    return {
        k: np.concatenate(v)
        if v
        else np.zeros((0, dim * (len(_LEVELS) if k == "quantiles" else 1)))
        for k, v in parts.items()
    }


def merge_stats_arrays(a: Mapping[str, np.ndarray], dim: int) -> FeatureStats:
    """Merge per-episode statistics given as arrays (see :func:`stats_arrays`)."""
    none = [None] * dim
    n = a["count"]  # (E, D)
    if len(n) == 0:
        return FeatureStats(count=0, mean=none, std=none, min=none, max=none, q01=none, q99=none)
    mean = np.nan_to_num(a["mean"])
    std = np.nan_to_num(a["std"])
    total = n.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gmean = (n * mean).sum(axis=0) / total
        m2 = (n * (std**2 + (mean - gmean) ** 2)).sum(axis=0)
        gstd = np.sqrt(m2 / total)
    lo = np.where(n > 0, a["min"], np.inf).min(axis=0)
    hi = np.where(n > 0, a["max"], -np.inf).max(axis=0)
    q = a["quantiles"].reshape(len(n), len(_LEVELS), dim)
    q01, q99 = _mixture_quantiles(q, n, (0.01, 0.99))

    def out(v: np.ndarray) -> list[float | None]:
        return [
            float(x) if t > 0 and np.isfinite(x) else None for x, t in zip(v, total, strict=True)
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


def _mixture_quantiles(
    q: np.ndarray, n: np.ndarray, levels: tuple[float, ...]
) -> tuple[np.ndarray, ...]:
    """The ``levels``-quantiles of the count-weighted mixture of the episodes'
    piecewise-linear CDFs, per dimension; ``q``: (E, L, D) knots, ``n``: (E, D) counts.

    Exact, by one sweep over every knot: between neighbouring knots (of any episode) the
    mixture CDF is linear, so it is evaluated at the sorted knots and inverted on the
    segment where it crosses p. A repeated knot (an episode's value held over several
    levels) is a jump of the CDF. Cost O(E·L log(E·L)) per dimension.
    """
    dims = q.shape[2]
    outs = tuple(np.full(dims, np.nan) for _ in levels)
    mass_per_segment = np.diff(_LEVELS)
    for d in range(dims):
        valid = (n[:, d] > 0) & np.isfinite(q[:, :, d]).all(axis=1)
        if not valid.any():
            continue
        knots = q[valid, :, d]
        if len(knots) == 1:  # one episode: its stored level is the answer, exactly
            for out, p in zip(outs, levels, strict=True):
                out[d] = knots[0, QUANTILE_LEVELS.index(p)]
            continue
        w = n[valid, d] / n[valid, d].sum()
        width = np.diff(knots, axis=1)
        mass = w[:, None] * mass_per_segment[None, :]  # (e, L-1): each segment's share
        rising = width > 0
        slope = np.zeros_like(mass)
        np.divide(mass, width, out=slope, where=rising)
        # One event per knot: the slope changes by (segment after - segment before); a
        # segment of zero width puts its mass on the knot as a jump.
        e = len(knots)
        dslope = np.zeros((e, len(_LEVELS)))
        dslope[:, :-1] += slope
        dslope[:, 1:] -= slope
        jump = np.zeros((e, len(_LEVELS)))
        jump[:, :-1] = np.where(rising, 0.0, mass)
        order = np.argsort(knots, axis=None)
        pos = knots.reshape(-1)[order]
        first = np.flatnonzero(np.concatenate(([True], pos[1:] != pos[:-1])))
        at = pos[first]
        slope_after = np.cumsum(np.add.reduceat(dslope.reshape(-1)[order], first))
        jumps = np.add.reduceat(jump.reshape(-1)[order], first)
        # cdf[m]: the mixture CDF at knot m (right-continuous: jumps there included)
        cdf = np.cumsum(jumps)
        cdf[1:] += np.cumsum(slope_after[:-1] * np.diff(at))
        for out, p in zip(outs, levels, strict=True):
            m = min(int(np.searchsorted(cdf, p - 1e-12, side="left")), len(at) - 1)
            if m > 0 and cdf[m] - jumps[m] >= p and slope_after[m - 1] > 0:
                x = at[m - 1] + (p - cdf[m - 1]) / slope_after[m - 1]
                out[d] = min(max(x, at[m - 1]), at[m])
            else:
                out[d] = at[m]
    return outs
