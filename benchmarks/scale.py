"""Packaging and QC on Ray vs one process, as ratios measured in the same run (issue 14).

A local Ray (``ray.init(num_cpus=N)``, loopback only) runs the same AgiBot recordings and the
same QC as today's single process; printed: wall time of each, the speed-up, the per-task
overhead (a no-op Ray task's round trip) and per-core throughput (episodes and recorded
hours per core-hour). Cameras: ``--size`` × ``--cameras`` (issue target 640x480 x 3; the
default is small so a quick run fits a shared 2-core machine). JPEG-stored cameras, so the
per-episode work (decode + JPEG encode) is what a worker does.

Usage: python benchmarks/scale.py [--episodes 8] [--frames 60] [--size 64x48] [--cameras 1]
       [--cpus 2] [--out .bench/scale]
       python benchmarks/scale.py --only transcode [--episodes 4] [--frames 30]
       [--size 640x480] [--cameras 3]   (transcode video -> jpeg, per-core throughput)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1
# benchmarks/packaging.py would shadow the `packaging` distribution Ray imports
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from embodex.demo.raw import write_agibot_sample  # noqa: E402
from embodex.format import open_dataset  # noqa: E402
from embodex.format.importers import VideoPolicy, import_agibot  # noqa: E402
from embodex.qc import run_qc  # noqa: E402

CAMS = ("head_color", "hand_left_color", "hand_right_color")


def _timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="64x48")
    ap.add_argument("--cameras", type=int, default=1)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--out", default=".bench/scale")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    src = write_agibot_sample(
        out / "src", episodes=a.episodes, seed=1, frames=(a.frames, a.frames + 1),
        cameras=CAMS[: a.cameras], size=(w, h), codec="libx264", gop=15,
    )  # fmt: skip
    jpeg = VideoPolicy(cameras="jpeg")
    import ray

    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    try:
        noop = ray.remote(lambda: None)
        ray.get([noop.remote() for _ in range(20)])  # warm the workers
        t0 = time.perf_counter()
        ray.get([noop.remote() for _ in range(200)])
        overhead_ms = (time.perf_counter() - t0) / 200 * 1e3

        rep_local, t_local = _timed(import_agibot, src, out / "local", video=jpeg)
        _, t_ray = _timed(import_agibot, src, out / "ray", video=jpeg, ray="auto")
        same = open_dataset(out / "local").digest == open_dataset(out / "ray").digest
        ds = open_dataset(out / "local")
        _, q_local = _timed(run_qc, ds)
        _, q_ray = _timed(run_qc, ds, ray="auto")
    finally:
        ray.shutdown()
    hours = ds.hours
    print(f"{a.episodes} episodes x {a.frames} frames, {a.cameras} camera(s) {w}x{h}, "
          f"{hours * 3600:.1f} s recorded; Ray with {a.cpus} CPUs")  # fmt: skip
    print(f"no-op Ray task overhead: {overhead_ms:.2f} ms per task (batched round trip)")
    for what, t1, tr in (("package", t_local, t_ray), ("qc", q_local, q_ray)):
        per_core_h = hours / (t1 / 3600)  # recorded hours per core-hour, single process
        print(
            f"{what:8s} local {t1:6.2f} s  ray {tr:6.2f} s  speed-up {t1 / tr:4.2f}x  "
            f"single-process: {a.episodes / t1 * 3600:,.0f} episodes and {per_core_h:,.1f} "
            "recorded hours per core-hour"
        )
    print(f"package: same digest as the local run: {same}; episodes {rep_local.episodes}")


def transcode_throughput(argv: list[str]) -> None:
    """``--only transcode``: per-core throughput of ``transcode --cameras jpeg`` (each video
    frame decoded once and stored as JPEG) in one process and on a local Ray, at
    ``--size`` x ``--cameras`` video cameras (H.264, remuxed from the recordings)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--out", default=".bench/scale-transcode")
    a = ap.parse_args(argv)
    from embodex.format import transcode_dataset

    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    src = write_agibot_sample(
        out / "src", episodes=a.episodes, seed=1, frames=(a.frames, a.frames + 1),
        cameras=CAMS[: a.cameras], size=(w, h), codec="libx264", gop=15,
    )  # fmt: skip
    import_agibot(src, out / "video")  # video cameras, the recorder's H.264 remuxed
    hours = open_dataset(out / "video").hours
    import ray

    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    try:
        ray.get([ray.remote(lambda: None).remote() for _ in range(a.cpus * 2)])  # warm up
        local, t1 = _timed(transcode_dataset, out / "video", out / "local", cameras="jpeg")
        remote, tr = _timed(
            transcode_dataset, out / "video", out / "ray", cameras="jpeg", ray="auto"
        )
    finally:
        ray.shutdown()
    print(f"transcode video -> jpeg: {a.episodes} episodes x {a.frames} frames, "
          f"{a.cameras} camera(s) {w}x{h}, {hours * 3600:.1f} s recorded; Ray with "
          f"{a.cpus} CPUs")  # fmt: skip
    print(
        f"transcode local {t1:6.2f} s  ray {tr:6.2f} s  speed-up {t1 / tr:4.2f}x  "
        f"single-process: {a.episodes / t1 * 3600:,.0f} episodes and "
        f"{hours / (t1 / 3600):,.1f} recorded hours per core-hour; Ray: "
        f"{hours / (tr * a.cpus / 3600):,.1f} recorded hours per core-hour"
    )
    same = local.dataset.digest == remote.dataset.digest
    print(f"transcode: same digest as the local run: {same}")


if __name__ == "__main__":
    if "--only" in sys.argv and "transcode" in sys.argv:
        transcode_throughput(sys.argv[1:])
    else:
        main()
