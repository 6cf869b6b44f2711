"""Numeric: finite values, joint limits, jumps, velocity/acceleration spikes, jerk, dead
channels and how well the state follows the commanded action."""

from __future__ import annotations

import numpy as np

from ...units import count, plural
from ..chunk import Chunk
from ..kernels import quantiles, runs, seg_percentiles, seg_reduce
from .base import Flag, Graded, RuleSpec
from .context import Plan

__all__ = ["SPECS", "ConstantDims", "check_chunk"]


class Limits(Flag):
    tolerance: float


class NearLimit(Flag):
    margin: float
    min_duration_s: float
    exclude_units: list[str]


class UnitGraded(Graded):
    units: list[str]


class DeadChannel(Flag):
    min_action_range: float


class Tracking(UnitGraded):
    max_lag_frames: int


SPECS = [
    RuleSpec("numeric.finite", Flag, "values", "No NaN or Inf in any numeric feature."),
    RuleSpec(
        "numeric.limits",
        Limits,
        "unit",
        "Joint positions stay within the robot's limits (plus tolerance x range); measured: "
        "the largest excess in the joint's unit.",
    ),
    RuleSpec(
        "numeric.near_limit",
        NearLimit,
        "s",
        "No joint stays within margin x range of a limit for longer than min_duration_s "
        "(joints with an excluded unit, e.g. normalised grippers, are skipped).",
    ),
    RuleSpec(
        "numeric.jump",
        UnitGraded,
        "rad",
        "Largest one-frame change of a joint position (joints with the listed units).",
    ),
    RuleSpec(
        "numeric.action_jump",
        UnitGraded,
        "rad",
        "Largest one-frame change of a commanded joint position (the action; joints with "
        "the listed units): a teleoperation glitch a policy would learn to imitate.",
    ),
    RuleSpec(
        "numeric.velocity",
        Graded,
        "ratio",
        "Largest joint speed as a multiple of the joint's velocity limit.",
    ),
    RuleSpec(
        "numeric.acceleration",
        UnitGraded,
        "rad/s²",
        "Largest joint acceleration (spikes), from real capture times.",
    ),
    RuleSpec(
        "numeric.jerk",
        UnitGraded,
        "rad/s³",
        "95th percentile over frames of the jerk norm across joints (the median is reported "
        "too): shaky or noisy motion.",
    ),
    RuleSpec(
        "numeric.dead_channel",
        DeadChannel,
        "unit",
        "A state channel reads one constant value for the whole episode while its commanded "
        "action moves more than min_action_range: a dead or stuck sensor.",
    ),
    RuleSpec(
        "numeric.tracking",
        Tracking,
        "rad",
        "Action-state tracking error: 95th percentile of the largest |state[t] - "
        "action[t-lag]| across joints, at the lag (0..max_lag_frames) that fits best.",
    ),
]


def check_chunk(plan: Plan, c: Chunk) -> None:
    _finite(plan, c)
    if c.state is None or c.state.shape[1] == 0:
        return
    _limits(plan, c)
    _derivatives(plan, c)
    _dead_and_tracking(plan, c)


def _finite(plan: Plan, c: Chunk) -> None:
    p = plan.get("numeric.finite", Flag)
    features = {}
    if c.state is not None:
        features["state"] = c.state
    if c.action is not None:
        features["action"] = c.action
    features.update(c.others)
    sums: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for name, x in features.items():
            sums[name] = seg_reduce(np.add, x, c.starts, c.stops, 0.0)
    if p is None:
        return
    names = {"state": _name(c, "state"), "action": _name(c, "action")}
    for name, total in sums.items():
        suspects = np.flatnonzero(~np.isfinite(total).all(axis=0))
        for e in suspects:
            seg = features[name][:, c.starts[e] : c.stops[e]]
            bad = ~np.isfinite(seg)
            k = int(bad.sum())
            if not k:
                continue  # a finite sum overflowed; nothing to report
            frames = np.flatnonzero(bad.any(axis=0))
            dims = np.flatnonzero(bad.any(axis=1))
            feature = names.get(name, name)
            plan.out.add(
                "numeric.finite",
                c.ids[e],
                p.severity,
                f"{count(k, 'NaN/Inf value')} in {feature} "
                f"({count(len(dims), 'dimension')}, frames {int(frames[0])}..{int(frames[-1])})",
                measured=k,
                threshold=0,
                frames=(int(frames[0]), int(frames[-1]) + 1),
                subject=feature,
            )


def _name(c: Chunk, role: str) -> str:
    for name, f in c.meta.feature_items():
        if f.role == role:
            return name
    return role


def _limits(plan: Plan, c: Chunk) -> None:
    emb = c.embodiment
    if emb.position_lower is None or emb.position_upper is None or c.state is None:
        return
    lo = np.asarray(emb.position_lower, dtype=np.float64)
    hi = np.asarray(emb.position_upper, dtype=np.float64)
    if len(lo) != c.state.shape[0]:
        return
    s = c.state
    with np.errstate(invalid="ignore"):
        mins = seg_reduce(np.fmin, s, c.starts, c.stops, np.nan)
        maxs = seg_reduce(np.fmax, s, c.starts, c.stops, np.nan)
    rng = (hi - lo)[:, None]
    lim = plan.get("numeric.limits", Limits)
    if lim is not None:
        tol = lim.tolerance * rng
        excess = np.fmax(lo[:, None] - tol - mins, maxs - hi[:, None] - tol)  # (D, E)
        for e in np.flatnonzero((excess > 0).any(axis=0)).tolist():
            j = int(np.nanargmax(excess[:, e]))
            x = s[j, c.starts[e] : c.stops[e]]
            out = np.flatnonzero((x < lo[j] - tol[j, 0]) | (x > hi[j] + tol[j, 0]))
            n_out = int((excess[:, e] > 0).sum())
            plan.out.add(
                "numeric.limits",
                c.ids[e],
                lim.severity,
                f"{c.joint_name(j)} goes {excess[j, e]:.3f} beyond its limits "
                f"[{lo[j]:g}, {hi[j]:g}] in {count(out.size, 'frame')}"
                + (f" ({n_out} joints out of limits)" if n_out > 1 else ""),
                measured=float(excess[j, e] + tol[j, 0]),
                threshold=float(tol[j, 0]),
                frames=(int(out[0]), int(out[-1]) + 1),
                subject=c.joint_name(j),
            )
    near = plan.get("numeric.near_limit", NearLimit)
    if near is not None:
        margin = near.margin * rng
        usable = c.joint_mask(exclude=near.exclude_units)
        close = ((mins < lo[:, None] + margin) | (maxs > hi[:, None] - margin)) & usable[:, None]
        min_frames = near.min_duration_s * plan.nominal_fps
        for j, e in zip(*(ix.tolist() for ix in np.nonzero(close)), strict=True):
            x = s[j, c.starts[e] : c.stops[e]]
            mask = (x < lo[j] + margin[j, 0]) | (x > hi[j] - margin[j, 0])
            a, b = runs(mask)
            if not a.size:
                continue
            k = int(np.argmax(b - a))
            length = int(b[k] - a[k])
            if length > min_frames:
                secs = length / plan.nominal_fps
                plan.out.add(
                    "numeric.near_limit",
                    c.ids[e],
                    near.severity,
                    f"{c.joint_name(int(j))} stays within {near.margin:.0%} of its range of a "
                    f"limit for {secs:.1f} s",
                    measured=secs,
                    threshold=near.min_duration_s,
                    frames=(int(a[k]), int(b[k])),
                    subject=c.joint_name(int(j)),
                )


def _grade_joint_max(
    plan: Plan,
    c: Chunk,
    rule: str,
    p: Graded,
    per_joint: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    k: int,
    scale: np.ndarray | None,
    describe: str,
) -> np.ndarray:
    """Grade the largest value across masked joints; locate the frame in flagged episodes."""
    vals = np.where(mask[:, None], per_joint, -np.inf)
    worst = vals.max(axis=0) if vals.shape[0] else np.zeros(len(c))
    worst = np.where(np.isfinite(worst), worst, np.nan)
    for e in range(len(c)):
        g = p.grade(float(worst[e]))
        if not g:
            continue
        j = int(np.nanargmax(vals[:, e]))
        seg = np.abs(x[j, c.starts[e] : max(c.stops[e] - k, c.starts[e])])
        if scale is not None:
            seg = seg / scale[j]
        i = int(np.argmax(seg)) if seg.size else 0
        plan.out.add(
            rule,
            c.ids[e],
            g[0],
            describe.format(joint=c.joint_name(j), value=worst[e], frame=i, unit=c.joint_unit(j)),
            measured=float(worst[e]),
            threshold=g[1],
            frames=(i, i + k + 1),
            subject=c.joint_name(j),
        )
    return np.asarray(worst)


#: rule -> (metric name, difference order, message); graded on the largest |value| over
#: the joints with the rule's units
_SPIKES = {
    "numeric.jump": (
        "max_step",
        1,
        "{joint} jumps {value:.3f} {unit} between frames {frame} and the next",
    ),
    "numeric.acceleration": (
        "max_acceleration",
        2,
        "{joint} accelerates at {value:.0f} {unit}/s² around frame {frame}",
    ),
}


def _derivatives(plan: Plan, c: Chunk) -> None:
    kin = c.kin
    for rule, (metric, k, text) in _SPIKES.items():
        p = plan.get(rule, UnitGraded)
        if p is not None:
            x = kin.dq if k == 1 else kin.acc
            per = kin.seg_max_abs(x, k)
            mask = c.joint_mask(p.units)
            c.metric(metric, _grade_joint_max(plan, c, rule, p, per, mask, x, k, None, text))
    act = plan.get("numeric.action_jump", UnitGraded)
    state_shape = None if c.state is None else c.state.shape
    if act is not None and c.action is not None and c.action.shape == state_shape:
        da = c.action[:, 1:] - c.action[:, :-1]
        per = kin.seg_max_abs(da, 1)
        text = "the command of {joint} jumps {value:.3f} {unit} between frames {frame} and the next"
        worst = _grade_joint_max(
            plan, c, "numeric.action_jump", act, per, c.joint_mask(act.units), da, 1, None, text
        )
        c.metric("max_action_step", worst)
    vel = plan.get("numeric.velocity", Graded)
    limit = c.embodiment.velocity_limit
    if vel is not None and limit is not None and len(limit) == kin.dq.shape[0]:
        vlim = np.asarray(limit, dtype=np.float64)
        per = kin.seg_max_abs(kin.vel, 1) / vlim[:, None]
        every = np.isfinite(vlim)  # joints without a declared limit are skipped
        text = "{joint} moves at {value:.2f}x its velocity limit at frame {frame}"
        worst = _grade_joint_max(
            plan, c, "numeric.velocity", vel, per, every, kin.vel, 1, vlim, text
        )
        c.metric("max_velocity_ratio", worst)
    jerk = plan.get("numeric.jerk", UnitGraded)
    if jerk is not None:
        mask = c.joint_mask(jerk.units)
        if mask.any():
            jr = kin.jerk[mask] if not mask.all() else kin.jerk
            norm = np.sqrt(np.einsum("ij,ij->j", jr, jr, dtype=np.float64))
            starts, stops = kin.span(3)
            pct = seg_percentiles(norm, starts, stops, [50.0, 95.0])
            c.metric("jerk_median", pct[:, 0])
            c.metric("jerk_p95", pct[:, 1])
            for e in range(len(c)):
                plan.grade(
                    "numeric.jerk",
                    jerk,
                    c.ids[e],
                    float(pct[e, 1]),
                    f"jerk p95 {pct[e, 1]:.0f} rad/s³ (median {pct[e, 0]:.0f}): shaky motion",
                    frames=(0, int(c.counts[e])),
                )


def _dead_and_tracking(plan: Plan, c: Chunk) -> None:
    s, a = c.state, c.action
    if s is None or a is None or a.shape != s.shape:
        return
    dead = plan.get("numeric.dead_channel", DeadChannel)
    if dead is not None:
        with np.errstate(invalid="ignore"):
            s_rng = seg_reduce(np.fmax, s, c.starts, c.stops, np.nan) - seg_reduce(
                np.fmin, s, c.starts, c.stops, np.nan
            )
            a_rng = seg_reduce(np.fmax, a, c.starts, c.stops, np.nan) - seg_reduce(
                np.fmin, a, c.starts, c.stops, np.nan
            )
        flagged = (s_rng == 0) & (a_rng > dead.min_action_range) & (c.counts > 1)[None, :]
        for j, e in zip(*(ix.tolist() for ix in np.nonzero(flagged)), strict=True):
            plan.out.add(
                "numeric.dead_channel",
                c.ids[e],
                dead.severity,
                f"{c.joint_name(int(j))} reads {s[j, c.starts[e]]:.4g} in every frame while its "
                f"command moves over {a_rng[j, e]:.3f}: dead or stuck sensor",
                measured=float(a_rng[j, e]),
                threshold=dead.min_action_range,
                frames=(0, int(c.counts[e])),
                subject=c.joint_name(int(j)),
            )
    trk = plan.get("numeric.tracking", Tracking)
    if trk is None:
        return
    mask = c.joint_mask(trk.units)
    if not mask.any():
        return
    sm, am = (s[mask], a[mask]) if not mask.all() else (s, a)
    lag = _best_lags(sm, am, c.starts, c.stops, trk.max_lag_frames)
    p95 = np.full(len(c), np.nan)
    for e in range(len(c)):
        st, sp, L = int(c.starts[e]), int(c.stops[e]), int(lag[e])
        if sp - st <= L:
            continue
        err = np.abs(sm[:, st + L : sp] - am[:, st : sp - L]).max(axis=0)
        p95[e] = float(quantiles(err, [95.0])[0])
        g = trk.grade(p95[e])
        if g:
            j = int(np.argmax(np.abs(sm[:, st + L : sp] - am[:, st : sp - L]).max(axis=1)))
            names = [c.joint_name(int(i)) for i in np.flatnonzero(mask)]
            bad = np.flatnonzero(err > g[1])
            plan.out.add(
                "numeric.tracking",
                c.ids[e],
                g[0],
                f"state misses the commanded action by {p95[e]:.3f} rad (p95, lag {L} "
                f"frames); worst joint {names[j]}",
                measured=p95[e],
                threshold=g[1],
                frames=(int(bad[0]) + L, int(bad[-1]) + L + 1) if bad.size else None,
                subject=names[j],
            )
    c.metric("tracking_p95", p95)
    c.metric("tracking_lag_frames", lag.astype(np.float64))


def _best_lags(
    s: np.ndarray, a: np.ndarray, starts: np.ndarray, stops: np.ndarray, max_lag: int
) -> np.ndarray:
    """Per episode, the lag L (frames) minimising the mean |state[t] - action[t-L]|, judged
    on every 4th frame of the episode (choosing a lag does not need them all). The frames
    are counted from each episode's own start, so an episode's lag does not depend on which
    episodes share its chunk (a Ray run checks smaller chunks than a local one)."""
    stride = 4
    n = s.shape[1]
    count = len(starts)
    best = np.full(count, np.inf)
    lag = np.zeros(count, dtype=np.int64)
    lengths = (stops - starts).astype(np.int64)
    owner = np.repeat(np.arange(count), lengths)
    pos = (
        np.concatenate([np.arange(a0, b0) for a0, b0 in zip(starts, stops, strict=True)])
        if count
        else np.zeros(0, np.int64)
    )
    rel = pos - starts[owner]
    sampled = rel % stride == 0
    for L in range(max_lag + 1):
        if n <= L:
            break
        keep = sampled & (rel + L < lengths[owner])
        q = pos[keep]
        err = np.abs(s[:, q + L] - a[:, q]).max(axis=0) if q.size else np.zeros(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.bincount(owner[keep], weights=err, minlength=count)
            mean = total / np.bincount(owner[keep], minlength=count)
        better = mean < best
        best = np.where(better, mean, best)
        lag = np.where(better, L, lag)
    return lag


class ConstantDims:
    """Per dimension of the state and action, the range over the whole dataset: a dimension
    that never changes has a standard deviation of 0, and mean/std normalisation (what
    training code does by default) divides by it. Said once, as a dataset note."""

    def __init__(self) -> None:
        self.lo: dict[str, np.ndarray] = {}
        self.hi: dict[str, np.ndarray] = {}

    def merge(self, other: ConstantDims) -> None:
        """Widen the ranges by a worker's (the result is the same in any order)."""
        for role in other.lo:
            lo, hi = other.lo[role], other.hi[role]
            self.lo[role] = np.fmin(self.lo[role], lo) if role in self.lo else lo
            self.hi[role] = np.fmax(self.hi[role], hi) if role in self.hi else hi

    def add(self, c: Chunk) -> None:
        for role, x in (("state", c.state), ("action", c.action)):
            if x is None or x.shape[1] == 0:
                continue
            lo, hi = np.fmin.reduce(x, axis=1), np.fmax.reduce(x, axis=1)
            self.lo[role] = np.fmin(self.lo[role], lo) if role in self.lo else lo
            self.hi[role] = np.fmax(self.hi[role], hi) if role in self.hi else hi

    def note(self, plan: Plan, names: list[str]) -> None:
        if plan.get("numeric.dead_channel", DeadChannel) is None:
            return
        for role in ("state", "action"):
            if role not in self.lo:
                continue
            same = np.flatnonzero(self.lo[role] == self.hi[role]).tolist()
            if not same:
                continue
            dims = ", ".join(names[j] if j < len(names) else f"[{j}]" for j in same)
            plan.note(
                "numeric.dead_channel",
                f"{role} {plural('dimension', len(same))} {dims} "
                f"{'holds' if len(same) == 1 else 'hold'} one value in every frame of the dataset: "
                "their standard deviation is 0, so mean/std normalisation divides by zero "
                "(normalise them with min/max, or leave them out)",
                subject=role,
            )
