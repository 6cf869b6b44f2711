"""Write -> read gives back exactly what was written; appends never rewrite old shards."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from embodex.demo.synth import synth_episodes
from embodex.format import (
    Camera,
    DatasetMeta,
    DatasetWriter,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Provenance,
    Segment,
    open_dataset,
)
from embodex.format.stats import QUANTILE_LEVELS

from .conftest import SHORT


def _meta(dims: dict[str, int], cameras: int) -> DatasetMeta:
    dof = max(dims.values())
    return DatasetMeta(
        name="prop",
        licence="CC-BY-4.0",
        provenance=Provenance(centre_id="c1", centre_name="Centre One"),
        embodiments=[
            Embodiment(
                model="r", dof=dof, joint_names=[f"j{i}" for i in range(dof)], units=["rad"] * dof
            )
        ],
        cameras=[Camera(name=f"cam{i}", width=8, height=6, encoding="png") for i in range(cameras)],
        features={name: Feature(shape=[d]) for name, d in dims.items()},
        fps=30.0,
    )


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@st.composite
def episodes_strategy(draw: st.DrawFn, meta: DatasetMeta, count: int) -> list[Episode]:
    out = []
    for k in range(count):
        n = draw(st.integers(min_value=1, max_value=40))
        seed = draw(st.integers(min_value=0, max_value=2**31))
        rng = np.random.default_rng(seed)
        steps = rng.integers(1, 10**8, size=n)
        ts = (1_700_000_000_000_000_000 + np.cumsum(steps)).astype(np.int64)
        feats = {
            name: rng.normal(0, 5, size=(n, f.shape[0])).astype(np.float32)
            for name, f in meta.features.items()
        }
        images = {
            cam.name: [_png(rng.integers(0, 255, size=(6, 8, 3), dtype=np.uint8)) for _ in range(n)]
            for cam in meta.cameras
        }
        segs = []
        if n >= 2:
            cut = draw(st.integers(min_value=1, max_value=n - 1))
            segs = [
                Segment(start_frame=0, end_frame=cut, skill="a", text="первый 第一"),
                Segment(start_frame=cut, end_frame=n, skill="b"),
            ]
        em = EpisodeMeta(
            episode_id=f"ep-{k}-{seed}",
            scene_type=draw(st.sampled_from(["factory", "home", None])),
            skill=draw(st.sampled_from(["hold_cup", "fold_clothes", None])),
            success=draw(st.sampled_from([True, False, None])),
            instruction_zh="拿起杯子",
            objects=draw(st.lists(st.sampled_from(["cup", "plate"]), max_size=2)),
            segments=segs,
            extra={"k": k, "note": draw(st.text(max_size=5))},
        )
        out.append(Episode(meta=em, timestamp_ns=ts, features=feats, images=images))
    return out


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_roundtrip_property(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    dims = data.draw(
        st.dictionaries(
            st.sampled_from(["state", "action", "effort"]),
            st.integers(1, 9),
            min_size=1,
            max_size=3,
        )
    )
    meta = _meta(dims, cameras=data.draw(st.integers(0, 2)))
    first = data.draw(episodes_strategy(meta, data.draw(st.integers(1, 4))))
    second = data.draw(episodes_strategy(meta, data.draw(st.integers(0, 3))))
    for ep in second:  # ids unique across the two writes
        ep.meta = ep.meta.model_copy(update={"episode_id": ep.meta.episode_id + "-b"})
    root = tmp_path_factory.mktemp("rt") / "ds"
    shard_bytes = data.draw(st.sampled_from([1, 10_000, 1 << 30]))  # 1: one shard per episode
    with DatasetWriter(root, meta, shard_bytes=shard_bytes) as w:
        w.add_episodes(first)
    old_shards = {p.name: p.stat().st_mtime_ns for p in (root / "data").iterdir()}
    with DatasetWriter(root, append=True, shard_bytes=shard_bytes) as w:
        w.add_episodes(second)
    for name, mtime in old_shards.items():
        assert (root / "data" / name).stat().st_mtime_ns == mtime, "append rewrote a shard"

    ds = open_dataset(root)
    ds.verify()
    written = first + second
    assert len(ds) == len(written)
    assert ds.num_frames == sum(e.num_frames for e in written)
    for k, src in enumerate(written):
        view = ds.episode(src.meta.episode_id)
        assert view.index == k
        assert view.meta == src.meta
        np.testing.assert_array_equal(view.timestamp_ns, src.timestamp_ns)
        for name, arr in src.features.items():
            np.testing.assert_array_equal(view.feature(name), arr)
        for cam in meta.cameras:
            seq = view.images(cam.name)
            assert seq.all_encoded() == list(src.images[cam.name])
            np.testing.assert_array_equal(
                seq[0], np.asarray(Image.open(io.BytesIO(src.images[cam.name][0])))
            )
        assert view.image_timestamps_ns(meta.cameras[0].name) is None if meta.cameras else True


def test_stats_merge_matches_direct_computation(tmp_path: Path, small_meta: DatasetMeta) -> None:
    eps = list(synth_episodes(small_meta, 8, seed=3, duration_s=SHORT))
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episodes(eps)
    ds = open_dataset(tmp_path / "ds")
    every = np.concatenate([e.features["state"] for e in eps]).astype(np.float64)
    s = ds.stats.features["state"]
    assert s.count == len(every)
    np.testing.assert_allclose(s.mean, every.mean(axis=0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s.std, every.std(axis=0), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(s.min, every.min(axis=0))
    np.testing.assert_array_equal(s.max, every.max(axis=0))
    # q01/q99 from per-episode knots: within 0.5 % of the range of the exact quantile
    span = every.max(axis=0) - every.min(axis=0) + 1e-12
    for level, got in ((0.01, s.q01), (0.99, s.q99)):
        exact = np.quantile(every, level, axis=0)
        assert np.all(np.abs(np.asarray(got) - exact) / span < 0.005), level

    # a subset's stats come from its episodes' rows alone, and match a direct computation
    sub = ds.select(skill=[eps[0].meta.skill])
    chosen = [e for e in eps if e.meta.skill == eps[0].meta.skill]
    direct = np.concatenate([e.features["action"] for e in chosen]).astype(np.float64)
    np.testing.assert_allclose(sub.stats.features["action"].mean, direct.mean(axis=0), atol=1e-9)
    assert sub.stats.episodes == len(chosen)
    assert 0.0 in QUANTILE_LEVELS and 1.0 in QUANTILE_LEVELS


def test_single_episode_quantiles_are_exact(tmp_path: Path, small_meta: DatasetMeta) -> None:
    ep = next(synth_episodes(small_meta, 1, seed=11, duration_s=SHORT))
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episode(ep)
    s = open_dataset(tmp_path / "ds").stats.features["state"]
    np.testing.assert_allclose(
        s.q99, np.quantile(ep.features["state"].astype(np.float64), 0.99, axis=0)
    )


def test_select_by_metadata_reads_no_frames(tmp_path: Path, small_meta: DatasetMeta) -> None:
    eps = list(synth_episodes(small_meta, 10, seed=5, duration_s=SHORT))
    with DatasetWriter(tmp_path / "ds", small_meta) as w:
        w.add_episodes(eps)
    ds = open_dataset(tmp_path / "ds")
    ok = ds.select(success=True)
    assert {e.episode_id for e in ok} == {e.meta.episode_id for e in eps if e.meta.success}
    scene = eps[0].meta.scene_type
    both = ds.select(scene_type=scene, success=[True, False])
    expected = {
        e.meta.episode_id for e in eps if e.meta.scene_type == scene and e.meta.success is not None
    }
    assert set(both.episode_ids) == expected
    assert ds._shards == {}, "selecting by metadata opened a frame shard"
    assert ok.hours == pytest.approx(sum(e.duration_s for e in ok) / 3600)


def test_images_decode_lazily_one_at_a_time(small_dataset) -> None:  # type: ignore[no-untyped-def]
    view = small_dataset.episode(0)
    seq = view.images("head")
    assert len(seq) == view.frame_count
    img = seq[3]
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert img.std() > 1, "synthetic frame is flat"
    ts = view.image_timestamps_ns("head")
    assert ts is not None and abs(int(ts[0]) - int(view.timestamp_ns[0])) < 10_000_000


def _mixture_cdf(episodes: list[np.ndarray], x: float, *, left: bool = False) -> float:
    """The oracle: count-weighted mixture of each episode's piecewise-linear CDF through
    its stored quantile knots (right-continuous; ``left`` gives the limit from the left)."""
    levels = np.asarray(QUANTILE_LEVELS)
    total = sum(len(e) for e in episodes)
    acc = 0.0
    for e in episodes:
        knots = np.quantile(e, levels)
        below = knots < x if left else knots <= x
        k = int(below.sum())
        if k == 0:
            f = 0.0
        elif k == len(levels):
            f = 1.0
        else:
            lo, hi = knots[k - 1], knots[k]
            f = levels[k - 1] + (levels[k] - levels[k - 1]) * (x - lo) / (hi - lo)
        acc += len(e) / total * f
    return acc


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    episodes=st.integers(2, 12),
    discrete=st.booleans(),
)
def test_merged_quantiles_invert_the_mixture_exactly(
    seed: int, episodes: int, discrete: bool
) -> None:
    """q01/q99 are where the mixture CDF crosses 1 % / 99 %: exact, ties (a gripper's
    open/closed values) included."""
    from embodex.format.stats import episode_feature_stats, merge_feature_stats

    rng = np.random.default_rng(seed)
    eps = []
    for _ in range(episodes):
        n = int(rng.integers(1, 300))
        if discrete:
            eps.append(rng.integers(0, 3, size=n).astype(np.float32))
        else:
            eps.append((rng.normal(size=n) * rng.uniform(0.1, 3) + rng.normal()).astype(np.float32))
    merged = merge_feature_stats([episode_feature_stats(e) for e in eps], 1)
    data = [e.astype(np.float64) for e in eps]
    for p, got in ((0.01, merged.q01[0]), (0.99, merged.q99[0])):
        assert got is not None
        # the smallest x with F(x) >= p: F reaches p at x, and not before it
        assert _mixture_cdf(data, got) >= p - 1e-9, (p, got)
        assert _mixture_cdf(data, got, left=True) <= p + 1e-9, (p, got)


def test_batches_are_cut_by_image_bytes_also_past_2_gib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes whose frames exceed 2 GiB come back from pyarrow as int32-offset chunks;
    batches are cut across chunk boundaries by bytes (modelled with small numbers here)."""
    import pyarrow as pa

    from embodex.format import writer as writer_module

    monkeypatch.setattr(writer_module, "BATCH_BYTES", 100)
    frames = [bytes(30)] * 7 + [bytes(250)] + [bytes(30)] * 2
    chunked = pa.chunked_array([pa.array(frames[:4], pa.binary()), pa.array(frames[4:])])
    ts = pa.array(range(10), pa.int64())
    ranges = writer_module._batch_ranges([chunked, ts], 10)
    assert ranges == [(0, 3), (3, 6), (6, 7), (7, 8), (8, 10)]
    assert writer_module._batch_ranges([pa.array(frames[:3], pa.binary())], 3) == [(0, 3)]
