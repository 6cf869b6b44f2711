"""Motion: how much of the episode the robot stands still, idle head and tail, gripper chatter."""

from __future__ import annotations

import re

import numpy as np

from ..chunk import Chunk
from ..kernels import seg_reduce
from .base import Graded, RuleSpec
from .context import Plan

__all__ = ["SPECS", "check_chunk"]


class Idle(Graded):
    window_s: float
    threshold: float
    units: list[str]


class Chatter(Graded):
    joint_pattern: str
    window_s: float
    low: float
    high: float
    min_amplitude: float


SPECS = [
    RuleSpec(
        "motion.idle",
        Idle,
        "ratio",
        "Share of the episode spent idle: a frame is idle when no joint (of the listed units) "
        "moves more than threshold within the next window_s seconds.",
    ),
    RuleSpec(
        "motion.idle_ends",
        Graded,
        "s",
        "Idle time at the start or end of the episode (same idle definition); the finding's "
        "frame range is the suggested trim.",
    ),
    RuleSpec(
        "motion.gripper_chatter",
        Chatter,
        "transitions",
        "Open/close transitions of a gripper within any window_s seconds (a Schmitt trigger at "
        "low/high of the episode's gripper range; ranges under min_amplitude are ignored).",
    ),
]


def check_chunk(plan: Plan, c: Chunk) -> None:
    if c.state is None:
        return
    _idle(plan, c)
    _chatter(plan, c)


def _idle(plan: Plan, c: Chunk) -> None:
    idle_p = plan.require("motion.idle", Idle)
    ends_p = plan.get("motion.idle_ends", Graded)
    frac_on = plan.get("motion.idle", Idle) is not None
    if not frac_on and ends_p is None:
        return
    assert c.state is not None
    mask = c.joint_mask(idle_p.units)
    if not mask.any():
        return
    s = c.state[mask] if not mask.all() else c.state
    w = max(1, round(idle_p.window_s * plan.nominal_fps))
    n = s.shape[1]
    if n <= w:
        return
    disp = np.abs(s[:, w:] - s[:, :-w]).max(axis=0)  # motion in the window starting at t
    idle = disp < idle_p.threshold
    starts = c.starts
    stops = np.maximum(c.stops - w, starts)  # windows that stay inside the episode
    windows = stops - starts
    idle_count = seg_reduce(np.add, idle.astype(np.float64), starts, stops, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(windows > 0, idle_count / windows, np.nan)
    c.metric("idle_fraction", fraction)
    moving = np.flatnonzero(~idle)
    first = np.searchsorted(moving, starts)  # first moving window at or after each start
    last = np.searchsorted(moving, stops) - 1  # last moving window before each stop
    fps = plan.nominal_fps
    head = np.zeros(len(c))
    tail = np.zeros(len(c))
    for e in range(len(c)):
        if windows[e] <= 0:
            continue
        has = first[e] < len(moving) and moving[first[e]] < stops[e]
        if not has:  # never moves: the whole episode is idle
            head[e] = tail[e] = c.counts[e] / fps
            continue
        head[e] = (moving[first[e]] - starts[e]) / fps
        tail[e] = (c.stops[e] - (moving[last[e]] + w + 1)) / fps
    tail = np.maximum(tail, 0.0)
    c.metric("idle_head_s", head)
    c.metric("idle_tail_s", tail)
    for e in range(len(c)):
        n_e = int(c.counts[e])
        if frac_on and windows[e] > 0:
            plan.grade(
                "motion.idle",
                idle_p,
                c.ids[e],
                float(fraction[e]),
                f"the robot is idle {fraction[e]:.0%} of the episode",
                frames=(0, n_e),
            )
        if ends_p is None or windows[e] <= 0:
            continue
        for where, secs in (("start", head[e]), ("end", tail[e])):
            k = min(n_e, round(secs * fps))
            frames = (0, k) if where == "start" else (n_e - k, n_e)
            plan.grade(
                "motion.idle_ends",
                ends_p,
                c.ids[e],
                float(secs),
                f"idle for {secs:.1f} s at the {where}: trim frames {frames[0]}..{frames[1] - 1}",
                frames=frames,
                subject=where,
            )


def _chatter(plan: Plan, c: Chunk) -> None:
    p = plan.get("motion.gripper_chatter", Chatter)
    if p is None or c.state is None:
        return
    emb = c.embodiment
    pattern = re.compile(p.joint_pattern)
    joints = [
        j for j, name in enumerate(emb.joint_names) if pattern.search(name) and j < c.state.shape[0]
    ]
    if not joints:
        return
    n = c.state.shape[1]
    owner = np.repeat(np.arange(len(c)), c.counts)
    is_start = np.zeros(n, dtype=bool)
    is_start[c.starts[c.starts < n]] = True
    worst = np.zeros(len(c))
    for j in joints:
        g = c.state[j].astype(np.float64)
        lo = seg_reduce(np.fmin, g, c.starts, c.stops, np.nan)
        hi = seg_reduce(np.fmax, g, c.starts, c.stops, np.nan)
        full = 1.0
        if emb.position_lower is not None and emb.position_upper is not None:
            full = emb.position_upper[j] - emb.position_lower[j]
        amp = hi - lo
        live = amp >= p.min_amplitude * full
        if not live.any():
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            x = (g - lo[owner]) / amp[owner]
        state = np.zeros(n, dtype=np.int8)
        state[x > p.high] = 1
        state[x < p.low] = -1
        state[is_start & (state == 0)] = 2  # unknown until the first threshold is crossed
        idx = np.where(state != 0, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        filled = state[idx]
        change = np.zeros(n, dtype=bool)
        change[1:] = (filled[1:] != filled[:-1]) & (np.abs(filled[1:]) == 1)
        change &= ~is_start
        change[1:] &= np.abs(filled[:-1]) == 1
        total = seg_reduce(np.add, change.astype(np.float64), c.starts, c.stops, 0.0)
        window = p.window_s * plan.nominal_fps
        for e in np.flatnonzero(live & (total > 0)).tolist():
            t = np.flatnonzero(change[c.starts[e] : c.stops[e]])
            counts = np.searchsorted(t, t + window) - np.arange(t.size)
            k = int(np.argmax(counts))
            worst[e] = max(worst[e], float(counts[k]))
            gr = p.grade(float(counts[k]))
            if gr:
                end = int(t[k + counts[k] - 1]) + 1
                plan.out.add(
                    "motion.gripper_chatter",
                    c.ids[e],
                    gr[0],
                    f"{emb.joint_names[j]} opens/closes {int(counts[k])} times within "
                    f"{p.window_s:g} s",
                    measured=float(counts[k]),
                    threshold=gr[1],
                    frames=(int(t[k]), end),
                    subject=emb.joint_names[j],
                )
    c.metric("gripper_transitions_max", worst)
