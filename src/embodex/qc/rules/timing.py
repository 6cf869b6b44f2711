"""Timing: capture times increase, the rate holds, frames are not dropped, cameras are in sync."""

from __future__ import annotations

import numpy as np

from ..chunk import Chunk
from ..kernels import seg_percentiles, seg_reduce
from .base import Flag, Graded, RuleSpec
from .context import Plan

__all__ = ["SPECS", "check_chunk"]


class Dropped(Graded):
    gap_factor: float


class Sync(Graded):
    require_camera_timestamps: bool


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
        "timing.sync",
        Sync,
        "ms",
        "Camera-to-joint sync: 95th percentile of |camera time - frame time| per camera.",
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
                f"about {int(missing[e])} frames missing in {where.size} gap(s) "
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

    sync_p = plan.get("timing.sync", Sync)
    worst_sync = np.zeros(len(c))
    for cam, times in c.cam_ts.items():
        if times is None:
            if sync_p is not None and sync_p.require_camera_timestamps:
                for e in range(len(c)):
                    plan.out.add(
                        "timing.sync",
                        c.ids[e],
                        "fail" if sync_p.fail is not None else "warn",
                        f"camera {cam} has no capture times: sync cannot be measured",
                        subject=cam,
                    )
            continue
        off = np.abs((times.values - c.ts).astype(np.float64)) * ms
        off[~times.valid] = np.nan
        p95 = seg_percentiles(off, c.starts, c.stops, [95.0])[:, 0]
        worst_sync = np.fmax(worst_sync, p95)
        if sync_p is None:
            continue
        for e in range(len(c)):
            g = sync_p.grade(float(p95[e]))
            if g:
                seg = off[c.starts[e] : c.stops[e]]
                signed = (times.values - c.ts)[c.starts[e] : c.stops[e]] * ms
                bad = np.flatnonzero(seg > g[1])
                plan.out.add(
                    "timing.sync",
                    c.ids[e],
                    g[0],
                    f"camera {cam} is {np.nanmedian(signed):+.1f} ms off the joint clock "
                    f"(p95 |offset| {p95[e]:.1f} ms)",
                    measured=float(p95[e]),
                    threshold=g[1],
                    frames=(int(bad[0]), int(bad[-1]) + 1) if bad.size else None,
                    subject=cam,
                )
    c.metric("sync_p95_ms", worst_sync)


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
            f"{what} go backwards or repeat {int(counts[e])} time(s), first at frame "
            f"{int(where[0])}",
            measured=int(counts[e]),
            threshold=0,
            frames=(int(where[0]) - 1, int(where[-1]) + 1),
            subject=subject,
        )
