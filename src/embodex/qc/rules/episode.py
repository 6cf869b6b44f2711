"""Episode: duration, horizon, labels, instruction, segments, unique ids, metadata.

These read the episode table only, never a frame.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import model_validator

from ...format.importers.common import REPAIRS_KEY
from .base import Flag, RuleParams, RuleSpec
from .context import Plan

__all__ = ["SPECS", "check_rows"]


class Duration(RuleParams):
    warn_min_s: float | None
    warn_max_s: float | None
    fail_min_s: float | None
    fail_max_s: float | None

    @model_validator(mode="after")
    def _order(self) -> Duration:
        pairs = (
            (self.fail_min_s, self.warn_min_s),
            (self.warn_min_s, self.warn_max_s),
            (self.warn_max_s, self.fail_max_s),
        )
        for a, b in pairs:
            if a is not None and b is not None and a > b:
                raise ValueError("need fail_min_s <= warn_min_s <= warn_max_s <= fail_max_s")
        return self


class Horizon(Flag):
    action_horizon_frames: int


class Instruction(Flag):
    languages: list[str]


class Metadata(Flag):
    fields: list[str]


SPECS = [
    RuleSpec(
        "episode.duration",
        Duration,
        "s",
        "Episode duration within [warn_min_s, warn_max_s] (WARN outside) and "
        "[fail_min_s, fail_max_s] (FAIL outside).",
        "episode",
    ),
    RuleSpec(
        "episode.horizon",
        Horizon,
        "frames",
        "At least action_horizon_frames frames: shorter episodes cannot give one training "
        "sample with a full action chunk.",
        "episode",
    ),
    RuleSpec("episode.success_label", Flag, "", "The success label is present.", "episode"),
    RuleSpec(
        "episode.instruction",
        Instruction,
        "",
        "A non-empty task instruction in each listed language (en, zh).",
        "episode",
    ),
    RuleSpec(
        "episode.segments",
        Flag,
        "",
        "Sub-task segments are ordered, do not overlap and lie inside the episode.",
        "episode",
    ),
    RuleSpec(
        "episode.unique_id",
        Flag,
        "",
        "The episode id appears once in the dataset and in no earlier delivery passed to QC.",
        "episode",
    ),
    RuleSpec(
        "episode.metadata",
        Metadata,
        "",
        "The listed episode fields (scene, robot, operator, skill...) are filled in.",
        "episode",
    ),
    RuleSpec(
        "episode.import_repairs",
        Flag,
        "",
        "What the importer repaired or dropped (a clipped segment, filled actions...), "
        "one finding per repair with its frames (extra.import_repairs).",
        "episode",
    ),
]


def check_rows(
    plan: Plan, rows: Sequence[dict[str, Any]], known_ids: Iterable[str] | None = None
) -> None:
    out = plan.out
    dur = plan.get("episode.duration", Duration)
    hor = plan.get("episode.horizon", Horizon)
    succ = plan.get("episode.success_label", Flag)
    ins = plan.get("episode.instruction", Instruction)
    seg = plan.get("episode.segments", Flag)
    uid = plan.get("episode.unique_id", Flag)
    md = plan.get("episode.metadata", Metadata)
    rep = plan.get("episode.import_repairs", Flag)
    counts = Counter(r["episode_id"] for r in rows)
    known = set(known_ids or ())
    seen: set[str] = set()
    for r in rows:
        eid = r["episode_id"]
        n = int(r["frame_count"])
        if rep is not None:
            _repairs(plan, rep, eid, r.get("extra"))
        if dur is not None:
            _duration(plan, dur, eid, float(r["duration_s"]), n)
        if hor is not None and n < hor.action_horizon_frames:
            out.add(
                "episode.horizon",
                eid,
                hor.severity,
                f"{n} frames, fewer than the action horizon of {hor.action_horizon_frames}",
                measured=n,
                threshold=hor.action_horizon_frames,
                frames=(0, n),
            )
        if succ is not None and r.get("success") is None:
            out.add("episode.success_label", eid, succ.severity, "no success label")
        if ins is not None:
            for lang in ins.languages:
                text = r.get(f"instruction_{lang}")
                if not (text or "").strip():
                    out.add(
                        "episode.instruction",
                        eid,
                        ins.severity,
                        f"no instruction in {lang}",
                        subject=lang,
                    )
        if seg is not None:
            for problem, (a, b) in _segment_problems(r.get("segments") or [], n):
                # the frames concerned, clipped to the episode
                a = min(max(a, 0), n - 1)
                frames = (a, max(min(b, n), a + 1))
                out.add("episode.segments", eid, seg.severity, problem, frames=frames)
        if uid is not None:
            if counts[eid] > 1 and eid in seen:
                out.add(
                    "episode.unique_id",
                    eid,
                    uid.severity,
                    f"episode id appears {counts[eid]} times in the dataset",
                    measured=counts[eid],
                    threshold=1,
                )
            elif eid in known:
                out.add(
                    "episode.unique_id",
                    eid,
                    uid.severity,
                    "episode id was already delivered in an earlier batch",
                )
            seen.add(eid)
        if md is not None:
            missing = [f for f in md.fields if r.get(f) in (None, "")]
            if missing:
                out.add(
                    "episode.metadata",
                    eid,
                    md.severity,
                    f"missing metadata: {', '.join(missing)}",
                    measured=len(missing),
                    threshold=0,
                    subject=",".join(missing),
                )


def _duration(plan: Plan, p: Duration, eid: str, secs: float, n: int) -> None:
    checks = (
        ("fail", p.fail_min_s, secs < (p.fail_min_s or 0.0), "shorter"),
        ("fail", p.fail_max_s, p.fail_max_s is not None and secs > p.fail_max_s, "longer"),
        ("warn", p.warn_min_s, secs < (p.warn_min_s or 0.0), "shorter"),
        ("warn", p.warn_max_s, p.warn_max_s is not None and secs > p.warn_max_s, "longer"),
    )
    for sev, limit, hit, word in checks:
        if limit is not None and hit:
            plan.out.add(
                "episode.duration",
                eid,
                "fail" if sev == "fail" else "warn",
                f"{secs:.1f} s is {word} than {limit:g} s",
                measured=secs,
                threshold=limit,
                frames=(0, n),
            )
            return


def _segment_problems(
    segments: Sequence[dict[str, Any]], n: int
) -> list[tuple[str, tuple[int, int]]]:
    problems: list[tuple[str, tuple[int, int]]] = []
    prev_end = 0
    prev_start = -1
    for k, s in enumerate(segments):
        a, b = int(s["start_frame"]), int(s["end_frame"])
        name = f"segment {k} ({s.get('skill') or '?'})"
        if b <= a:
            problems.append((f"{name} is empty or reversed: [{a}, {b})", (min(a, b), max(a, b))))
        if b > n:
            problems.append((f"{name} ends at frame {b}, after the episode's {n} frames", (a, b)))
        if a < prev_start:
            problems.append((f"{name} starts at {a}, before the previous segment", (a, b)))
        elif a < prev_end:
            problems.append(
                (f"{name} overlaps the previous segment (starts at {a} < {prev_end})", (a, b))
            )
        prev_end = max(prev_end, b)
        prev_start = a
    return problems


def _repairs(plan: Plan, p: Flag, eid: str, extra: str | None) -> None:
    """One finding per entry of the episode's ``extra.import_repairs``."""
    if not extra or REPAIRS_KEY not in extra:
        return  # cheap: most episodes have no repairs, and then no JSON is parsed
    try:
        repairs = json.loads(extra).get(REPAIRS_KEY) or []
    except (ValueError, AttributeError):
        return
    for item in repairs if isinstance(repairs, list) else []:
        if not isinstance(item, dict):
            continue
        a, b = item.get("frame_start"), item.get("frame_end")
        frames = (int(a), int(b)) if isinstance(a, int) and isinstance(b, int) else None
        plan.out.add(
            "episode.import_repairs",
            eid,
            p.severity,
            f"the importer repaired this recording: {item.get('message', item.get('kind'))}",
            frames=frames,
            subject=str(item.get("kind")) if item.get("kind") else None,
        )
