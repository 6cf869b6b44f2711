"""Packaging and opening speed, as ratios against baselines measured in the same run.

Targets (issue: foundation):
* packaging synthetic episodes >= 70 % of the speed of writing the same already-encoded
  bytes with plain pyarrow IPC (the writer adds validation, per-episode stats, sha256,
  fsync and the journaled commit);
* opening a 10,000-episode dataset well under a second, with memory proportional to
  episodes, not frames.

Usage: python benchmarks/packaging.py [--episodes 60] [--reps 3] [--out .bench]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from embodex.format import DatasetWriter, Episode, open_dataset
from embodex.format.schema import feature_arrow_type, frames_schema
from embodex.synth import synth_episodes, synth_meta


def plain_ipc_write(path: Path, meta, episodes: list[Episode]) -> None:  # type: ignore[no-untyped-def]
    """The baseline: the same columns, straight into one Arrow IPC file, nothing else."""
    schema = frames_schema(meta)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as w:
        for k, ep in enumerate(episodes):
            n = ep.num_frames
            cols = [
                pa.array(np.full(n, k, dtype=np.int64)),
                pa.array(np.arange(n, dtype=np.int32)),
                pa.array(ep.timestamp_ns),
            ]
            for name, spec in meta.feature_items():
                flat = pa.array(ep.features[name].reshape(-1))
                cols.append(pa.FixedSizeListArray.from_arrays(flat, type=feature_arrow_type(spec)))
            for cam in meta.cameras:
                cols.append(pa.array(ep.images[cam.name], pa.binary()))
                cols.append(pa.array(ep.image_timestamps_ns[cam.name]))
            w.write_batch(pa.RecordBatch.from_arrays(cols, schema=schema))


def plain_ipc_write_fsync(path: Path, meta, episodes: list[Episode]) -> None:  # type: ignore[no-untyped-def]
    """The baseline made durable: the same write, then fsync (what a crash-safe writer owes)."""
    plain_ipc_write(path, meta, episodes)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def embodex_write(path: Path, meta, episodes: list[Episode]) -> None:  # type: ignore[no-untyped-def]
    with DatasetWriter(path, meta) as w:
        for ep in episodes:
            w.add_episode(ep)


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    os.sync()  # start every run with no dirty pages left by the previous one
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def bench_packaging(out: Path, n_episodes: int, reps: int) -> dict[str, float]:
    meta = synth_meta(image_size=96)
    # pre-encoded episodes in memory: both writers get exactly the same bytes
    episodes = []
    for ep in synth_episodes(meta, n_episodes, seed=1, duration_s=(8.0, 12.0)):
        episodes.append(ep.validated(meta))
    frames = sum(e.num_frames for e in episodes)
    base_t, durable_t, ours_t = [], [], []
    for r in range(reps):
        plain = out / f"plain-{r}"
        shutil.rmtree(plain, ignore_errors=True)
        plain.mkdir(parents=True)
        base_t.append(timed(plain_ipc_write, plain / "all.arrow", meta, episodes))
        shutil.rmtree(plain)
        plain.mkdir(parents=True)
        durable_t.append(timed(plain_ipc_write_fsync, plain / "all.arrow", meta, episodes))
        shutil.rmtree(plain)
        ours = out / f"embodex-{r}"
        shutil.rmtree(ours, ignore_errors=True)
        ours_t.append(timed(embodex_write, ours, meta, episodes))
        shutil.rmtree(ours)
    size = sum(len(b) for e in episodes for imgs in e.images.values() for b in imgs)
    b, o = statistics.median(base_t), statistics.median(ours_t)
    d = statistics.median(durable_t)
    return {
        "episodes": n_episodes,
        "frames": frames,
        "image_mib": size / 2**20,
        "plain_ipc_s": b,
        "embodex_s": o,
        "plain_frames_per_s": frames / b,
        "embodex_frames_per_s": frames / o,
        "plain_ipc_fsync_s": d,
        "ratio_vs_plain_ipc": b / o,
        "ratio_vs_plain_ipc_fsync": d / o,
    }


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tiny_dataset(path: Path, episodes: int, frames: int) -> None:
    meta = synth_meta(cameras=())
    rng = np.random.default_rng(0)
    with DatasetWriter(path, meta) as w:
        template = next(synth_episodes(meta, 1, seed=0, duration_s=(1.0, 1.0)))
        for i in range(episodes):
            m = template.meta.model_copy(update={"episode_id": f"bench:{i:06d}"})
            ts = (np.arange(frames, dtype=np.int64) * 33_333_333) + i * 10**12
            feats = {
                k: rng.normal(size=(frames, 20)).astype(np.float32) for k in ("state", "action")
            }
            w.add_episode(Episode(meta=m, timestamp_ns=ts, features=feats))


def bench_open(out: Path) -> dict[str, float]:
    big = out / "open-10k"
    if not (big / "embodex.json").exists():
        shutil.rmtree(big, ignore_errors=True)
        _tiny_dataset(big, 10_000, 30)
    times = []
    for _ in range(5):
        gc.collect()
        t = time.perf_counter()
        ds = open_dataset(big)
        _ = len(ds), ds.hours
        times.append(time.perf_counter() - t)
    # memory after open: same episode count, 100x the frames -> about the same memory
    few, many = out / "mem-few", out / "mem-many"
    for p, frames in ((few, 10), (many, 1000)):
        if not (p / "embodex.json").exists():
            shutil.rmtree(p, ignore_errors=True)
            _tiny_dataset(p, 1000, frames)
    deltas = {}
    for label, p in (("few", few), ("many", many)):
        gc.collect()
        before = _rss_mib()
        ds = open_dataset(p)
        _ = ds.hours
        deltas[label] = _rss_mib() - before
        del ds
    return {
        "open_10k_episodes_s": statistics.median(times),
        "rss_after_open_1k_eps_10_frames_mib": deltas["few"],
        "rss_after_open_1k_eps_1000_frames_mib": deltas["many"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(".bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = {**bench_packaging(args.out, args.episodes, args.reps), **bench_open(args.out)}
    print(json.dumps(result, indent=2))
    ok_pack = result["ratio_vs_plain_ipc"] >= 0.70
    ok_open = result["open_10k_episodes_s"] < 0.5
    print(
        f"packaging: {result['ratio_vs_plain_ipc']:.2f}x of plain pyarrow IPC "
        f"(target >= 0.70) {'OK' if ok_pack else 'MISSED'}"
    )
    print(
        f"packaging: {result['ratio_vs_plain_ipc_fsync']:.2f}x of plain pyarrow IPC + fsync "
        "(same durability)"
    )
    print(
        f"open 10k episodes: {result['open_10k_episodes_s'] * 1000:.0f} ms "
        f"(target well under 1 s) {'OK' if ok_open else 'MISSED'}"
    )
    few = result["rss_after_open_1k_eps_10_frames_mib"]
    many = result["rss_after_open_1k_eps_1000_frames_mib"]
    print(f"memory after open, 1k episodes: {few:.1f} MiB (10 frames each), {many:.1f} MiB (1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
