"""Packaging and QC on Ray vs one process, as ratios measured in the same run (issue 14).

A local Ray (``ray.init(num_cpus=N)``, loopback only) runs the same AgiBot recordings and the
same QC as today's single process. Printed for each job: wall time local and on Ray, the
speed-up, CPU-seconds (this process and its threads for the local run; every Ray process
for the Ray run), and per-core throughput (episodes and recorded hours per core-hour of
CPU actually used). Also: the round trip of a no-op Ray task, the per-task overhead of
``ordered_map`` with a shared argument (what each episode pays on top of its work), and the
one-off cost of a fresh worker importing embodex (paid before the timed runs).

Cameras: ``--size`` × ``--cameras`` (issue target 640x480 x 3). Packaging is measured with
JPEG-stored cameras (decode + JPEG encode per frame: the heavy case) and with video cameras
(the recorder's H.264 remuxed). On a machine shared with other work, read the ratios, not
the absolute times, and run it more than once.

Usage: python benchmarks/scale.py [--episodes 8] [--frames 60] [--size 640x480] [--cameras 3]
       [--cpus 2] [--out .bench/scale]
       python benchmarks/scale.py --only transcode [--episodes 4] [--frames 30]
       [--size 640x480] [--cameras 3]   (transcode video -> jpeg, per-core throughput)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback-only local Ray
# benchmarks/packaging.py would shadow the `packaging` distribution Ray imports
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import psutil  # noqa: E402

from embodex.demo.raw import write_agibot_sample  # noqa: E402
from embodex.format import open_dataset  # noqa: E402
from embodex.format.cluster import ordered_map  # noqa: E402
from embodex.format.importers import VideoPolicy, import_agibot  # noqa: E402
from embodex.qc import run_qc  # noqa: E402

CAMS = ("head_color", "hand_left_color", "hand_right_color")


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _ray_cpu() -> float:
    """CPU seconds of every process Ray started under this driver (raylet, workers...)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


#: peak resident memory (bytes) of one Ray worker process, per job label
PEAK_RSS: dict[str, int] = {}


def _watch_workers(label: str, stop: threading.Event) -> None:
    """Sample the resident memory of Ray's worker processes (``ray::...``) twice a second."""
    peak = 0
    try:
        while not stop.is_set():
            try:
                children = psutil.Process().children(recursive=True)
            except (psutil.Error, OSError):
                children = []
            for child in children:
                try:
                    cmd = " ".join(child.cmdline())
                    if cmd.startswith("ray::") and "Agent" not in cmd:
                        peak = max(peak, child.memory_info().rss)
                except (psutil.Error, OSError):
                    pass  # a process that ended while being looked at
            time.sleep(0.5)  # a scan costs CPU in this (the driver) process: rarely
    finally:
        PEAK_RSS[label] = peak


def _run(
    fn: Callable[..., Any], *args: Any, label: str = "", **kw: Any
) -> tuple[Any, float, float, float]:
    """(result, wall s, CPU s of this process, CPU s of Ray's processes); with ``label``,
    the peak memory of a Ray worker during the call goes to PEAK_RSS."""
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_workers, args=(label, stop)) if label else None
    if watcher is not None:
        watcher.start()
    c0, r0, t0 = _self_cpu(), _ray_cpu(), time.perf_counter()
    out = fn(*args, **kw)
    wall = time.perf_counter() - t0
    cpu = _self_cpu() - c0, _ray_cpu() - r0
    if watcher is not None:
        stop.set()
        watcher.join()
    return out, wall, cpu[0], cpu[1]


def _timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[Any, float]:
    """(result, wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def _noop(unit: int, shared: Any) -> int:
    return unit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--cameras", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--out", default=".bench/scale")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    # the recordings are kept between runs of the same size (writing them takes longest)
    src = Path(f"{a.out}-src-{a.episodes}x{a.frames}-{a.size}-{a.cameras}")
    if not (src / "task_info").is_dir():
        shutil.rmtree(src, ignore_errors=True)
        write_agibot_sample(
            src, episodes=a.episodes, seed=1, frames=(a.frames, a.frames + 1),
            cameras=CAMS[: a.cameras], size=(w, h), codec="libx264", gop=15,
        )  # fmt: skip
    warm_src = write_agibot_sample(
        out / "warm-src", episodes=a.cpus, seed=2, frames=(8, 9), cameras=CAMS[: a.cameras],
        size=(w, h), codec="libx264", gop=4, first_episode_id=1,
    )  # fmt: skip
    jpeg = VideoPolicy(cameras="jpeg")
    import ray

    # address="local": a Ray of its own, never a cluster another user started on this machine
    ray.init(address="local", num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    rows: list[tuple[str, float, float, float, float, float, int]] = []
    try:
        noop = ray.remote(lambda: None)
        ray.get([noop.remote() for _ in range(20)])  # start the workers
        t0 = time.perf_counter()
        ray.get([noop.remote() for _ in range(200)])
        noop_ms = (time.perf_counter() - t0) / 200 * 1e3
        # what one unit of ordered_map costs beyond its work (a 1 MB argument shared by all)
        t0 = time.perf_counter()
        list(ordered_map("auto", _noop, range(200), b"x" * 1_000_000))
        task_ms = (time.perf_counter() - t0) / 200 * 1e3
        # fresh workers import embodex, PyAV, pyarrow once: paid here, reported, not timed below
        t0 = time.perf_counter()
        import_agibot(warm_src, out / "warm", video=jpeg, ray="auto")
        run_qc(out / "warm", ray="auto")
        warm_s = time.perf_counter() - t0

        for label, policy in (("package jpeg", jpeg), ("package video", None)):
            tag = label.split()[1]
            rep, t1, c1, _ = _run(import_agibot, src, out / f"local-{tag}", video=policy)
            _, tr, dr, wr = _run(
                import_agibot, src, out / f"ray-{tag}", video=policy, ray="auto", label=label
            )
            same = (
                open_dataset(out / f"local-{tag}").digest == open_dataset(out / f"ray-{tag}").digest
            )
            rows.append((label, t1, c1, tr, dr, wr, rep.episodes))
            print(f"{label}: same digest as the local run: {same}")
        ds = open_dataset(out / "local-jpeg")
        _, q1, qc1, _ = _run(run_qc, ds)
        _, qr, qdr, qwr = _run(run_qc, ds, ray="auto", label="qc (jpeg)")
        rows.append(("qc (jpeg)", q1, qc1, qr, qdr, qwr, len(ds)))
    finally:
        ray.shutdown()
    hours = ds.hours
    print(
        f"{a.episodes} episodes x {a.frames} frames, {a.cameras} camera(s) {w}x{h}, "
        f"{hours * 3600:.1f} s recorded; Ray with {a.cpus} CPUs on loopback"
    )
    print(
        f"per-task overhead: no-op task {noop_ms:.2f} ms; ordered_map unit {task_ms:.2f} ms; "
        f"first use of {a.cpus} fresh workers (imports) {warm_s:.1f} s, once per worker"
    )
    print(
        "wall s and CPU s (local: the process and its threads; Ray: driver + Ray processes);"
        " per core-hour of CPU used: episodes / recorded hours"
    )
    for label, t1, c1, tr, dr, wr, eps in rows:
        cr = dr + wr
        print(
            f"{label:14s} local {t1:6.2f} s ({c1:5.2f} cpu)  ray {tr:6.2f} s "
            f"({dr:5.2f} driver + {wr:5.2f} cluster cpu)  wall speed-up {t1 / tr:4.2f}x\n"
            f"{'':14s} local {eps / c1 * 3600:7,.0f} ep / {hours / c1 * 3600:5.1f} h;  "
            f"ray {eps / cr * 3600:7,.0f} ep / {hours / cr * 3600:5.1f} h;  "
            f"driver {dr / eps * 1e3:6.1f} ms cpu per episode "
            f"(commit ceiling {eps / dr * 3600 if dr else 0:,.0f} ep / h); "
            f"peak worker memory {PEAK_RSS.get(label, 0) / 2**20:,.0f} MiB"
        )
    print(f"local runs used {rows[0][2] / rows[0][1]:.2f} cores (packaging jpeg: camera threads)")


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

    ray.init(address="local", num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
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
