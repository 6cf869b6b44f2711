"""Batch: episodes compared with each other — outlier durations and final poses (IQR rule),
exact and near duplicates."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..chunk import Chunk
from .base import Flag, RuleSpec
from .context import Plan

__all__ = ["SPECS", "BatchInputs", "check_batch"]


class Outlier(Flag):
    iqr_k: float
    min_group: int
    group_by: str | None
    min_spread: float


class PoseOutlier(Outlier):
    units: list[str]


class Duplicate(Flag):
    near_rms: float
    max_length_ratio: float
    units: list[str]


SPECS = [
    RuleSpec(
        "batch.duration_outlier",
        Outlier,
        "s",
        "Duration outside [Q1 - k*IQR, Q3 + k*IQR] of the episodes of its group (group_by, "
        "e.g. skill; the whole batch when the group has fewer than min_group); the IQR is at "
        "least min_spread x the median.",
        "batch",
    ),
    RuleSpec(
        "batch.final_pose_outlier",
        PoseOutlier,
        "rad",
        "Distance of the final pose from its group's median final pose beyond Q3 + k*IQR of "
        "those distances (IQR at least min_spread x their median).",
        "batch",
    ),
    RuleSpec(
        "batch.duplicate",
        Duplicate,
        "rad",
        "Exact (identical samples) or near duplicate (RMS difference of the resampled "
        "trajectory below near_rms) of an earlier episode of the batch; the later one is "
        "flagged.",
        "batch",
    ),
]

POINTS = 32  # samples per trajectory fingerprint


@dataclass
class BatchInputs:
    """What batch rules need from each episode, gathered while chunks stream past."""

    ids: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    final: list[np.ndarray] = field(default_factory=list)
    fingerprint: list[np.ndarray] = field(default_factory=list)
    exact: list[bytes] = field(default_factory=list)

    def merge(self, other: BatchInputs) -> None:
        """Append what a worker gathered from later episodes (their order is kept)."""
        self.ids += other.ids
        self.rows += other.rows
        self.final += other.final
        self.fingerprint += other.fingerprint
        self.exact += other.exact

    def add_chunk(self, c: Chunk, units: list[str]) -> None:
        if c.state is None:
            return
        mask = c.joint_mask(units)
        s = c.state[mask]
        for e, row in enumerate(c.rows):
            a, b = int(c.starts[e]), int(c.stops[e])
            idx = a + np.rint(np.linspace(0, b - a - 1, POINTS)).astype(np.int64)
            self.ids.append(row["episode_id"])
            self.rows.append(row)
            self.final.append(s[:, b - 1].astype(np.float64))
            self.fingerprint.append(s[:, idx].astype(np.float64).ravel())
            parts = [np.int64(b - a).tobytes(), np.ascontiguousarray(c.state[:, idx]).tobytes()]
            if c.action is not None:
                parts.append(np.ascontiguousarray(c.action[:, idx]).tobytes())
            self.exact.append(b"".join(parts))


def _groups(
    rows: list[dict[str, Any]], key: str | None, min_group: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(members, reference) pairs: each group is judged against itself; members of groups
    smaller than ``min_group`` are judged against the whole batch (when that is big enough)."""
    everyone = np.arange(len(rows))
    if len(rows) < min_group:
        return []
    if key is None:
        return [(everyone, everyone)]
    by: dict[Any, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by[r.get(key)].append(i)
    out = [(np.array(v), np.array(v)) for v in by.values() if len(v) >= min_group]
    small = [i for v in by.values() if len(v) < min_group for i in v]
    if small:
        out.append((np.array(small), everyone))
    return out


def _upper_fence(values: np.ndarray, k: float, min_spread: float) -> tuple[float, float, float]:
    q1, med, q3 = (float(x) for x in np.percentile(values, [25, 50, 75]))
    iqr = max(q3 - q1, min_spread * abs(med))
    return q1 - k * iqr, q3 + k * iqr, med


def check_batch(plan: Plan, b: BatchInputs, all_rows: list[dict[str, Any]]) -> None:
    _durations(plan, all_rows)
    _final_pose(plan, b)
    _duplicates(plan, b)


def _durations(plan: Plan, rows: list[dict[str, Any]]) -> None:
    p = plan.get("batch.duration_outlier", Outlier)
    if p is None or not rows:
        return
    dur = np.array([float(r["duration_s"]) for r in rows])
    for members, ref in _groups(rows, p.group_by, p.min_group):
        lo, hi, med = _upper_fence(dur[ref], p.iqr_k, p.min_spread)
        for i in members:
            d = float(dur[i])
            if d > hi or d < lo:
                word, fence = ("longer", hi) if d > hi else ("shorter", lo)
                plan.out.add(
                    "batch.duration_outlier",
                    rows[i]["episode_id"],
                    p.severity,
                    f"{d:.1f} s is far {word} than its peers (median {med:.1f} s, fence "
                    f"{fence:.1f} s)",
                    measured=d,
                    threshold=fence,
                )


def _final_pose(plan: Plan, b: BatchInputs) -> None:
    p = plan.get("batch.final_pose_outlier", PoseOutlier)
    if p is None or not b.ids:
        return
    shapes = {f.shape for f in b.final}
    if len(shapes) != 1:
        return
    final = np.stack(b.final)
    for members, ref in _groups(b.rows, p.group_by, p.min_group):
        centre = np.median(final[ref], axis=0)
        dist_ref = np.linalg.norm(final[ref] - centre, axis=1)
        _, hi, med = _upper_fence(dist_ref, p.iqr_k, p.min_spread)
        for i in members:
            d = float(np.linalg.norm(final[i] - centre))
            if d > hi:
                plan.out.add(
                    "batch.final_pose_outlier",
                    b.ids[i],
                    p.severity,
                    f"final pose is {d:.2f} rad from its peers' median final pose (typical "
                    f"{med:.2f}, fence {hi:.2f})",
                    measured=d,
                    threshold=hi,
                    frames=(int(b.rows[i]["frame_count"]) - 1, int(b.rows[i]["frame_count"])),
                )


def _duplicates(plan: Plan, b: BatchInputs) -> None:
    p = plan.get("batch.duplicate", Duplicate)
    if p is None or len(b.ids) < 2:
        return
    first_seen: dict[bytes, int] = {}
    flagged: set[int] = set()
    for i, key in enumerate(b.exact):
        if key in first_seen:
            j = first_seen[key]
            flagged.add(i)
            plan.out.add(
                "batch.duplicate",
                b.ids[i],
                p.severity,
                f"exact duplicate of episode {b.ids[j]}",
                measured=0.0,
                threshold=p.near_rms,
                subject=b.ids[j],
            )
        else:
            first_seen[key] = i
    shapes = {f.shape for f in b.fingerprint}
    if len(shapes) != 1:
        return
    fp = np.stack(b.fingerprint)
    frames = np.array([int(r["frame_count"]) for r in b.rows])
    # |mean(a) - mean(b)| <= RMS(a - b): sorting by the mean and scanning a window of width
    # near_rms finds every near pair without comparing all pairs
    means = fp.mean(axis=1)
    order = np.argsort(means, kind="stable")
    for pos, i in enumerate(order):
        for j in order[pos + 1 :]:
            if means[j] - means[i] > p.near_rms:
                break
            a, c = (int(i), int(j)) if i < j else (int(j), int(i))
            if c in flagged:
                continue
            if max(frames[a], frames[c]) > p.max_length_ratio * min(frames[a], frames[c]):
                continue
            rms = float(np.sqrt(np.mean((fp[a] - fp[c]) ** 2)))
            if rms < p.near_rms:
                flagged.add(c)
                plan.out.add(
                    "batch.duplicate",
                    b.ids[c],
                    p.severity,
                    f"near duplicate of episode {b.ids[a]} (trajectories differ by "
                    f"{rms:.4f} rad RMS)",
                    measured=rms,
                    threshold=p.near_rms,
                    subject=b.ids[a],
                )
