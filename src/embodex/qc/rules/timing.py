"""Timing: capture times increase, the rate holds, frames are not dropped, cameras are in
sync, and streams at their own rate (format 1.1) keep their rate without gaps."""

from __future__ import annotations

import numpy as np

from ...units import count
from ..chunk import Chunk
from ..kernels import runs, seg_reduce
from .base import Flag, Graded, RuleSpec
from .context import Plan

__all__ = ["SPECS", "check_chunk", "sync_error"]


class Dropped(Graded):
    gap_factor: float


class Sync(Graded):
    require_camera_timestamps: bool
    max_drift_ppm: float


SPECS = [
    RuleSpec(
        "timing.monotonic",
        Flag,
        "frames",
        "Frame and camera capture times strictly increase within an episode.",
    ),
    RuleSpec(
        "timing.synthesized",
        Flag,
        "",
        "Capture times were recorded, not made up by an importer (timestamps_synthesized).",
        "episode",
    ),
    RuleSpec(
        "timing.rate",
        Graded,
        "ratio",
        "Effective frame rate (frames-1)/span within a relative tolerance of the profile's "
        "nominal fps: measured |rate/nominal - 1|.",
    ),
    RuleSpec(
        "timing.dropped",
        Dropped,
        "ratio",
        "Share of frames missing: an interval longer than gap_factor/fps counts "
        "round(interval*fps)-1 missing frames.",
    ),
    RuleSpec("timing.gap", Graded, "ms", "Largest interval between consecutive frames."),
    RuleSpec(
        "timing.jitter",
        Graded,
        "ms",
        "Standard deviation of the intervals between frames, dropped-frame gaps excluded.",
    ),
    RuleSpec(
        "timing.stalled",
        Graded,
        "s",
        "A stalled recorder: the longest run of frames whose state and action rows are "
        "bit-identical to the previous frame's while capture times advance (a real sensor "
        "never repeats every joint to the last bit), seconds.",
    ),
    RuleSpec(
        "timing.sync",
        Sync,
        "ms",
        "Camera-to-joint sync: 95th percentile of |camera time - frame time| per camera, "
        "after removing clock drift up to max_drift_ppm (a robust line fit over the take) "
        "and the steps at dropped spans (the gap rules' business).",
    ),
    RuleSpec(
        "timing.stream_rate",
        Graded,
        "ratio",
        "Streams at their own rate (format 1.1): effective sample rate (samples-1)/span "
        "within a relative tolerance of the stream's declared rate_hz, per stream; a stream "
        "with fewer than 2 samples in an episode measures 1 (all off).",
    ),
    RuleSpec(
        "timing.stream_gap",
        Graded,
        "ms",
        "Streams at their own rate: the largest interval between consecutive samples, per "
        "stream (an IMU that stopped for a while).",
    ),
]


def check_chunk(plan: Plan, c: Chunk) -> None:
    ms = 1e-6
    diffs = np.diff(c.ts)  # ns; the entries between episodes are never read
    starts, stops = c.starts, np.maximum(c.stops - 1, c.starts)
    span_ns = c.ts[c.stops - 1] - c.ts[c.starts]
    n = c.counts
    period_ns = 1e9 / plan.nominal_fps

    mono = plan.get("timing.monotonic", Flag)
    if mono is not None:
        _backwards(plan, c, mono, diffs <= 0, "frame times", None)
        for cam, times in c.cam_ts.items():
            if times is not None:
                cd = np.diff(times.values)
                bad = (cd <= 0) & times.valid[1:] & times.valid[:-1]
                _backwards(plan, c, mono, bad, f"camera {cam} capture times", cam)

    synth = plan.get("timing.synthesized", Flag)
    if synth is not None:
        for e, row in enumerate(c.rows):
            if row.get("timestamps_synthesized"):
                plan.out.add(
                    "timing.synthesized",
                    c.ids[e],
                    synth.severity,
                    "capture times were synthesised by the importer (index/fps): timing and "
                    "sync cannot be checked",
                )

    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(span_ns > 0, (n - 1) / (span_ns * 1e-9), np.nan)
    c.metric("rate_fps", rate)
    rate_p = plan.get("timing.rate", Graded)
    if rate_p is not None:
        dev = np.abs(rate / plan.nominal_fps - 1.0)
        for e in np.flatnonzero(n > 1).tolist():
            plan.grade(
                "timing.rate",
                rate_p,
                c.ids[e],
                float(dev[e]),
                f"effective rate {rate[e]:.2f} fps is {dev[e]:.1%} off the nominal "
                f"{plan.nominal_fps:g} fps",
                frames=(0, int(n[e])),
            )

    drop_p = plan.require("timing.dropped", Dropped)
    is_gap = diffs > drop_p.gap_factor * period_ns
    missing_per_gap = np.where(is_gap, np.rint(diffs / period_ns) - 1, 0.0)
    missing = seg_reduce(np.add, missing_per_gap, starts, stops, 0.0)
    drop_fraction = missing / np.maximum(n + missing, 1)
    c.metric("dropped_frames", missing)
    c.metric("drop_fraction", drop_fraction)
    if plan.get("timing.dropped", Dropped) is not None:
        for e in np.flatnonzero(missing > 0).tolist():
            where = np.flatnonzero(is_gap[starts[e] : stops[e]])
            plan.grade(
                "timing.dropped",
                drop_p,
                c.ids[e],
                float(drop_fraction[e]),
                f"about {int(missing[e])} frames missing in {count(where.size, 'gap')} "
                f"({drop_fraction[e]:.1%} of the episode)",
                frames=(int(where[0]), int(where[-1]) + 2),
            )

    max_gap = seg_reduce(np.maximum, diffs.astype(np.float64), starts, stops, 0.0) * ms
    c.metric("max_gap_ms", max_gap)
    gap_p = plan.get("timing.gap", Graded)
    if gap_p is not None:
        for e in range(len(c)):
            i = int(np.argmax(diffs[starts[e] : stops[e]])) if stops[e] > starts[e] else 0
            plan.grade(
                "timing.gap",
                gap_p,
                c.ids[e],
                float(max_gap[e]),
                f"{max_gap[e]:.0f} ms between frames {i} and {i + 1}",
                frames=(i, i + 2),
            )

    # jitter: std of the regular intervals (gaps are the dropped-frames rule's business)
    regular = (~is_gap).astype(np.float64)
    d = diffs.astype(np.float64) * ms
    cnt = seg_reduce(np.add, regular, starts, stops, 0.0)
    s1 = seg_reduce(np.add, d * regular, starts, stops, 0.0)
    s2 = seg_reduce(np.add, d * d * regular, starts, stops, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / cnt
        jitter = np.sqrt(np.maximum(s2 / cnt - mean * mean, 0.0))
    c.metric("jitter_ms", jitter)
    jit_p = plan.get("timing.jitter", Graded)
    if jit_p is not None:
        for e in np.flatnonzero(cnt > 1).tolist():
            plan.grade(
                "timing.jitter",
                jit_p,
                c.ids[e],
                float(jitter[e]),
                f"frame intervals vary by {jitter[e]:.2f} ms (std) around {mean[e]:.2f} ms",
                frames=(0, int(n[e])),
            )

    _stalled(plan, c)
    _streams(plan, c)

    sync_p = plan.require("timing.sync", Sync)
    sync_on = plan.get("timing.sync", Sync) is not None
    worst_sync = np.full(len(c), np.nan)
    gap_ns = drop_p.gap_factor * period_ns
    for cam, times in c.cam_ts.items():
        if times is None:
            if sync_on and sync_p.require_camera_timestamps:
                for e in range(len(c)):
                    plan.out.add(
                        "timing.sync",
                        c.ids[e],
                        "fail" if sync_p.fail is not None else "warn",
                        f"camera {cam} has no capture times: sync cannot be measured",
                        subject=cam,
                    )
            elif sync_on:
                plan.note("timing.sync", f"camera {cam} has no capture times: sync not checked")
            continue
        for e in range(len(c)):
            a, b = int(c.starts[e]), int(c.stops[e])
            err = sync_error(
                c.ts[a:b], times.values[a:b], times.valid[a:b], gap_ns, sync_p.max_drift_ppm
            )
            if err is None:
                continue
            absolute = np.abs(err)
            p95 = float(np.quantile(absolute, 0.95, method="linear"))
            worst_sync[e] = np.fmax(worst_sync[e], p95)
            g = sync_p.grade(p95) if sync_on else None
            if g:
                idx = np.flatnonzero(times.valid[a:b])
                bad = idx[absolute > g[1]]
                plan.out.add(
                    "timing.sync",
                    c.ids[e],
                    g[0],
                    f"camera {cam} is {np.median(err):+.1f} ms off the joint clock "
                    f"(p95 |offset| {p95:.1f} ms, drift up to {sync_p.max_drift_ppm:g} ppm "
                    "removed)",
                    measured=p95,
                    threshold=g[1],
                    frames=(int(bad[0]), int(bad[-1]) + 1) if bad.size else None,
                    subject=cam,
                )
    c.metric("sync_p95_ms", worst_sync)


def _streams(plan: Plan, c: Chunk) -> None:
    """Each stream at its own rate, per episode: its effective rate against the declared
    one and its largest gap between samples (``frames`` locates the gap in frame time)."""
    rate_p = plan.get("timing.stream_rate", Graded)
    gap_p = plan.get("timing.stream_gap", Graded)
    if rate_p is None and gap_p is None:
        return
    for stream in c.meta.streams:
        for e in range(len(c)):
            ts = c.stream_times(e, stream)
            if ts is None:
                plan.note("timing.stream_rate", "stream shards not readable here: not checked")
                return
            eid = c.ids[e]
            frame_ts = c.ts[int(c.starts[e]) : int(c.stops[e])]
            if rate_p is not None:
                if len(ts) < 2:
                    plan.grade(
                        "timing.stream_rate", rate_p, eid, 1.0,
                        f"stream {stream.name} has {count(len(ts), 'sample')} in this episode",
                        subject=stream.name,
                    )  # fmt: skip
                else:
                    rate = (len(ts) - 1) / (float(ts[-1] - ts[0]) * 1e-9)
                    dev = abs(rate / stream.rate_hz - 1.0)
                    plan.grade(
                        "timing.stream_rate", rate_p, eid, dev,
                        f"stream {stream.name}: effective rate {rate:.1f} Hz is {dev:.1%} off "
                        f"the declared {stream.rate_hz:g} Hz",
                        subject=stream.name,
                    )  # fmt: skip
            if gap_p is not None and len(ts) >= 2:
                steps = np.diff(ts)
                k = int(np.argmax(steps))
                gap_ms = float(steps[k]) * 1e-6
                a = int(np.searchsorted(frame_ts, ts[k], side="right")) - 1
                b = int(np.searchsorted(frame_ts, ts[k + 1], side="left")) + 1
                a, b = max(a, 0), min(max(b, a + 1), len(frame_ts))
                plan.grade(
                    "timing.stream_gap", gap_p, eid, gap_ms,
                    f"stream {stream.name}: {gap_ms:.0f} ms without a sample (nominal "
                    f"{1e3 / stream.rate_hz:.1f} ms)",
                    frames=(a, b) if a < b else None,
                    subject=stream.name,
                )  # fmt: skip


def _stalled(plan: Plan, c: Chunk) -> None:
    """Runs of frames repeating the previous frame's state and action rows bit for bit."""
    streams = [x for x in (c.state, c.action) if x is not None]
    n = len(c.ts)
    if not streams or n < 2:
        c.metric("stalled_s", np.zeros(len(c)))
        return
    same = np.ones(n - 1, dtype=bool)
    for x in streams:
        # compare the bits: NaN repeats too, and -0.0 differs from 0.0 as a recorder sees it
        bits = x.view(np.uint32) if x.dtype == np.float32 else x.view(np.uint64)
        same &= (bits[:, 1:] == bits[:, :-1]).all(axis=0)
    same &= np.diff(c.ts) > 0
    same[c.stops[:-1] - 1] = False  # never across two episodes
    a, b = runs(same)  # diff k repeats frame k into k+1: the run covers frames a..b
    secs = (c.ts[b] - c.ts[a]).astype(np.float64) * 1e-9 if a.size else np.zeros(0)
    owner = np.searchsorted(c.stops, a, side="right")
    worst = np.zeros(len(c))
    where: dict[int, tuple[int, int]] = {}
    for k in np.argsort(-secs, kind="stable").tolist():
        e = int(owner[k])
        if e not in where:
            worst[e] = secs[k]
            where[e] = (int(a[k] - c.starts[e]), int(b[k] - c.starts[e]) + 1)
    c.metric("stalled_s", worst)
    p = plan.get("timing.stalled", Graded)
    if p is None:
        return
    for e, frames in where.items():
        plan.grade(
            "timing.stalled",
            p,
            c.ids[e],
            float(worst[e]),
            f"state and action repeat bit for bit over frames {frames[0]}..{frames[1] - 1} "
            f"({worst[e]:.2f} s) while capture times advance: the recorder stalled",
            frames=frames,
        )


#: frames on each side of a dropped span whose offsets give the step there
_STEP_WINDOW = 5


def sync_error(
    ts: np.ndarray, cam: np.ndarray, valid: np.ndarray, gap_ns: float, max_drift_ppm: float
) -> np.ndarray | None:
    """Per valid frame, how far (ms) the camera time is off its joint row, as a trainer
    would feel it: the offset ``cam - ts`` with (1) the step at every dropped span removed
    (an interval longer than ``gap_ns`` in either clock: a video whose times count frames
    at 1/fps does not see the joint rows that were lost, though every frame still belongs to
    its row) and (2) a linear drift of up to ``max_drift_ppm`` removed (the slope of a
    robust line fit over the take, clipped to that bound: two free-running clocks drift
    apart; drift beyond the bound is a camera falling behind). Joint-clock jitter stays in,
    and averages out of the 95th percentile. None when fewer than 2 valid frames.
    """
    k = np.flatnonzero(valid)
    if k.size < 2:
        return None
    t = ts[k].astype(np.int64)
    d = (cam[k].astype(np.int64) - t).astype(np.float64) * 1e-6  # ms
    limit = int(gap_ns)
    jumps = np.flatnonzero((np.diff(t) > limit) | (np.diff(cam[k].astype(np.int64)) > limit))
    if jumps.size:
        corr = np.zeros_like(d)
        for j in jumps.tolist():
            before = (
                d[max(0, j + 1 - _STEP_WINDOW) : j + 1] - corr[max(0, j + 1 - _STEP_WINDOW) : j + 1]
            )
            after = d[j + 1 : j + 1 + _STEP_WINDOW] - corr[j + 1 : j + 1 + _STEP_WINDOW]
            step = float(np.median(after) - np.median(before))
            corr[j + 1 :] += step
        d = d - corr
    x = (t - t[0]).astype(np.float64) * 1e-9  # s
    if x[-1] > 0:
        slope = _robust_slope(x, d)
        bound = max_drift_ppm * 1e-3  # ms per s
        d = d - float(np.clip(slope, -bound, bound)) * x
    return d


def _robust_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope, refitted without points more than 3 robust sigmas off."""
    slope, icpt = _fit(x, y)
    r = y - (slope * x + icpt)
    if float(np.abs(r).max()) <= 4 * float(np.sqrt(np.mean(r * r))):
        return slope  # nothing far off: the medians below would change nothing
    mad = float(np.median(np.abs(r - np.median(r)))) * 1.4826
    keep = np.abs(r) <= 3 * mad + 1e-9
    if 2 <= keep.sum() < keep.size:
        slope, _ = _fit(x[keep], y[keep])
    return slope


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the least-squares line (closed form: cheaper than lstsq)."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    den = float(np.dot(dx, dx))
    slope = float(np.dot(dx, y - ym)) / den if den > 0 else 0.0
    return slope, ym - slope * xm


def _backwards(
    plan: Plan, c: Chunk, p: Flag, bad: np.ndarray, what: str, subject: str | None
) -> None:
    """Report episodes with intervals that are not positive (``bad`` over frame diffs)."""
    starts, stops = c.starts, np.maximum(c.stops - 1, c.starts)
    counts = seg_reduce(np.add, bad.astype(np.int64), starts, stops, 0)
    for e in np.flatnonzero(counts > 0).tolist():
        where = np.flatnonzero(bad[starts[e] : stops[e]]) + 1
        plan.out.add(
            "timing.monotonic",
            c.ids[e],
            p.severity,
            f"{what} go backwards or repeat {count(int(counts[e]), 'time')}, first at frame "
            f"{int(where[0])}",
            measured=int(counts[e]),
            threshold=0,
            frames=(int(where[0]) - 1, int(where[-1]) + 1),
            subject=subject,
        )
