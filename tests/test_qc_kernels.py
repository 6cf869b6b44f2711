"""The vectorised kernels agree with plain per-episode numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from embodex.qc.kernels import quantiles, runs, seg_percentiles, seg_reduce


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    seed=st.integers(0, 2**31),
    trim=st.integers(0, 3),
)
def test_segmented_reductions_match_slices(lengths: list[int], seed: int, trim: int) -> None:
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    x = rng.normal(size=(3, max(n, 1))).astype(np.float32)[:, :n]
    starts = np.cumsum([0, *lengths[:-1]]).astype(np.int64)
    stops = np.maximum(starts + np.array(lengths) - trim, starts)  # gaps between segments
    got_max = seg_reduce(np.maximum, x, starts, stops, -1.0)
    got_sum = seg_reduce(np.add, x, starts, stops, 0.0)
    for e, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if b > a:
            assert np.allclose(got_max[:, e], x[:, a:b].max(axis=1))
            assert np.allclose(got_sum[:, e], x[:, a:b].sum(axis=1), atol=1e-4)
            p = seg_percentiles(x[0], starts[e : e + 1], stops[e : e + 1], [50, 95])[0]
            assert np.allclose(p, np.percentile(x[0, a:b], [50, 95]), atol=1e-6)
        else:
            assert got_max[0, e] == -1.0 and got_sum[0, e] == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_quantiles_match_numpy(values: list[float]) -> None:
    x = np.array(values)
    qs = [0.0, 1.0, 25.0, 50.0, 95.0, 100.0]
    assert np.allclose(quantiles(x, qs), np.percentile(x, qs), rtol=1e-9, atol=1e-6)


def test_runs() -> None:
    a, b = runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool))
    assert a.tolist() == [1, 4, 7] and b.tolist() == [3, 5, 8]
    a, b = runs(np.zeros(4, dtype=bool))
    assert a.size == b.size == 0
