"""The loader's stream windows (format 1.1): the last N seconds of a stream at its own rate
before each frame, fixed length with a pad mask, checked against a plain loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import embodex
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import LoaderConfigError
from embodex.train.streams import stream_window


def _brute(ts: np.ndarray, values: np.ndarray, t: int, seconds: float, length: int):  # type: ignore[no-untyped-def]
    inside = np.flatnonzero((ts > t - round(seconds * 1e9)) & (ts <= t))[-length:]
    out = np.zeros((length, values.shape[1]), values.dtype)
    pad = np.ones(length, bool)
    if len(inside):
        out[length - len(inside) :] = values[inside]
        pad[length - len(inside) :] = False
    return out, pad


def test_stream_window_matches_a_loop() -> None:
    rng = np.random.default_rng(3)
    ts = np.cumsum(rng.integers(2_000_000, 8_000_000, size=300)).astype(np.int64)
    ts[100:] += 80_000_000  # a gap in the stream
    values = rng.normal(size=(300, 3)).astype(np.float32)
    frames = np.sort(rng.integers(int(ts[0]) - 50_000_000, int(ts[-1]) + 50_000_000, size=64))
    win, pad, dt = stream_window(ts, {"v": values}, frames, 0.05, 12)
    assert win["v"].shape == (64, 12, 3) and pad.shape == (64, 12)
    for f, t in enumerate(frames):
        want, want_pad = _brute(ts, values, int(t), 0.05, 12)
        np.testing.assert_array_equal(win["v"][f], want)
        np.testing.assert_array_equal(pad[f], want_pad)
        assert (dt[f][~pad[f]] <= 0).all() and (dt[f][~pad[f]] > -0.05).all()
    assert pad.all(axis=1).any()  # frames before the stream starts or inside the gap
    empty, all_pad, _ = stream_window(np.zeros(0, np.int64), {"v": values[:0]}, frames, 0.05, 4)
    assert empty["v"].shape == (64, 4, 3) and all_pad.all()


def test_load_returns_imu_windows(tmp_path: Path) -> None:
    meta = synth_meta(cameras=(), imu_hz=200.0)
    synth_dataset(tmp_path / "ds", 2, meta=meta, duration_s=(1.0, 1.5))
    ds = embodex.load(tmp_path / "ds", qc="all", streams={"imu": 0.05})
    src = embodex.open_dataset(tmp_path / "ds")
    assert ds.spec.streams[0].length == 11  # ceil(0.05 x 200) + 1 slot for clock jitter
    for i in (0, 1, 17, len(ds) - 1):
        sample = ds[i]
        ep = src.episode(str(sample["episode_id"]))
        ts, values = ep.stream("imu")
        for feature in ("accel", "gyro"):
            want, pad = _brute(ts, values[feature], int(sample["timestamp_ns"]), 0.05, 11)
            np.testing.assert_array_equal(sample[f"stream.imu.{feature}"], want)
            np.testing.assert_array_equal(sample["stream.imu_is_pad"], pad)
        assert sample["stream.imu.dt_s"].shape == (11,)
    # the synthetic IMU starts 20 ms before the first frame: its window is part padding
    first = ds[0]["stream.imu_is_pad"]
    assert first[:5].all() and not first[-4:].any()
    assert any(name.startswith("streams/") for name in ds.shard_names())
    # the batched path (get_batch, the sequential pass) gives the same windows
    from .test_train_batch import assert_batch_is_stacked_samples

    picks = [*np.random.default_rng(0).integers(0, len(ds), 40).tolist(), 0, len(ds) - 1]
    batch = assert_batch_is_stacked_samples(ds, picks)
    assert batch["stream.imu.accel"].shape == (len(picks), 11, 3)
    assert ds.get_batch([])["stream.imu_is_pad"].shape == (0, 11)
    whole = np.concatenate([b["stream.imu.gyro"] for b in ds.iter_batches(64)])
    assert np.array_equal(whole[17], ds[17]["stream.imu.gyro"]) and len(whole) == len(ds)


def test_load_refuses_unknown_stream_or_bad_window(tmp_path: Path) -> None:
    synth_dataset(tmp_path / "ds", 1, meta=synth_meta(cameras=(), imu_hz=100.0), duration_s=(1, 1))
    with pytest.raises(LoaderConfigError, match="stream 'ft' does not exist"):
        embodex.load(tmp_path / "ds", qc="all", streams={"ft": 0.1})
    with pytest.raises(LoaderConfigError, match="positive number of seconds"):
        embodex.load(tmp_path / "ds", qc="all", streams={"imu": -1.0})
    ds = embodex.load(tmp_path / "ds", qc="all", streams={"imu": (0.1, 4)})
    assert ds[5]["stream.imu.accel"].shape == (4, 3)
