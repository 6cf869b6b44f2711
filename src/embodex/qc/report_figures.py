"""Every figure of the QC report, computed in the QC layer (``reports.qc_page`` lays it out).

From the stored results — manifest, findings, metrics, profile — :func:`qc_report_figures`
counts who reviewed what, how many episodes each rule flagged, the durations by verdict, the
worst episodes, and the operator and robot scorecards.

Example::

    f = qc_report_figures("datasets/week01")
    print(f.reviewed, f.worst, [c.name for c in f.operators])  # worst pass rate first
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ..format import Dataset, open_dataset
from .aggregates import UNKNOWN
from .manifest import (
    GroupStats,
    QCManifest,
    load_findings,
    load_metrics,
    load_qc_manifest,
    load_qc_profile,
    stale_reason,
)
from .profile import Profile
from .rules import RULES

__all__ = ["GroupCard", "QCReportFigures", "RuleTally", "qc_report_figures"]

VERDICTS = ("PASS", "WARN", "FAIL")


@dataclass(frozen=True)
class RuleTally:
    """Episodes one rule flagged (an episode counts once, at its worst severity)."""

    fail: int
    warn: int
    #: the share of all episodes the rule did not flag
    passing_share: float


@dataclass(frozen=True)
class GroupCard:
    """One operator's or robot's scorecard: counts and rates, their most frequent failures
    and the medians of two motion-quality metrics (None when no episode has the metric)."""

    name: str
    stats: GroupStats
    top_failures: list[tuple[str, int]]
    jerk_p95_median: float | None
    idle_fraction_median: float | None


@dataclass(frozen=True)
class QCReportFigures:
    """What the QC report of a dataset shows, computed once."""

    dataset: Dataset
    manifest: QCManifest
    profile: Profile
    findings: list[dict[str, Any]]
    stale: str | None
    #: episodes with a manual review on record
    reviewed: int
    #: rules with findings, in rule order
    rules_flagged: dict[str, RuleTally]
    #: every enabled rule, in rule order, with its tally (zeros when it flagged nothing)
    rules_enabled: dict[str, RuleTally]
    #: episode lengths in seconds, by final verdict
    durations_s: dict[str, list[float]]
    #: the worst episodes: FAIL before WARN, then most fail and warn findings
    worst: list[str]
    findings_by_episode: dict[str, list[dict[str, Any]]]
    #: scorecards, worst pass rate first
    operators: list[GroupCard]
    robots: list[GroupCard]


def _worst(manifest: QCManifest, findings: list[dict[str, Any]], n: int) -> list[str]:
    fails = Counter(f["episode_id"] for f in findings if f["severity"] == "fail")
    warns = Counter(f["episode_id"] for f in findings if f["severity"] == "warn")
    rank = {"FAIL": 0, "WARN": 1, "PASS": 2}
    flagged = [e for e in manifest.episodes if e.verdict != "PASS"]
    flagged.sort(
        key=lambda e: (rank[e.verdict], -fails[e.episode_id], -warns[e.episode_id], e.episode_id)
    )
    return [e.episode_id for e in flagged[:n]]


def _tallies(findings: list[dict[str, Any]], episodes: int) -> dict[str, RuleTally]:
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[tuple[str, str], str] = {}
    for f in findings:
        key = (f["rule"], f["episode_id"])
        if seen.get(key) != "fail":
            seen[key] = f["severity"]
    for (rule, _eid), sev in seen.items():
        per_rule[rule][sev] += 1
    total = max(episodes, 1)
    return {
        r: RuleTally(
            per_rule[r]["fail"],
            per_rule[r]["warn"],
            1 - (per_rule[r]["fail"] + per_rule[r]["warn"]) / total,
        )
        for r in RULES
        if r in per_rule
    }


def _median(values: list[float]) -> float | None:
    arr = np.asarray(values, dtype=float)
    return None if arr.size == 0 or np.all(np.isnan(arr)) else float(np.nanmedian(arr))


def _cards(
    groups: dict[str, GroupStats],
    key: str,
    manifest: QCManifest,
    fail_rules: dict[str, list[str]],
    metrics: dict[str, dict[str, float]],
) -> list[GroupCard]:
    members: dict[str, list[str]] = defaultdict(list)
    for ep in manifest.episodes:
        members[getattr(ep, key) or UNKNOWN].append(ep.episode_id)
    cards = []
    for name in sorted(groups, key=lambda g: (float(groups[g].pass_rate or 0), g)):
        ids = members.get(name, [])
        top = Counter(r for eid in ids for r in fail_rules.get(eid, ()))
        cards.append(
            GroupCard(
                name,
                groups[name],
                top.most_common(3),
                _median([metrics.get(e, {}).get("jerk_p95", np.nan) for e in ids]),
                _median([metrics.get(e, {}).get("idle_fraction", np.nan) for e in ids]),
            )
        )
    return cards


def qc_report_figures(dataset: Dataset | str | Path, *, worst: int = 5) -> QCReportFigures:
    """The figures of the QC report of ``dataset`` (``worst``: how many worst episodes).

    Raises ``QCManifestError`` when QC has not run."""
    root = dataset.root if isinstance(dataset, Dataset) else Path(dataset)
    manifest = load_qc_manifest(root)  # first: "run QC first" is the error a bare folder gets
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(root)
    findings = load_findings(root, manifest).to_pylist()
    metrics = {r.pop("episode_id"): r for r in load_metrics(root, manifest).to_pylist()}
    profile = load_qc_profile(root, manifest)
    # the rules failing each episode, in rule order: ties among a scorecard's most frequent
    # failures then come out in the same order on every run (a set's order varies by process)
    failing: dict[str, set[str]] = defaultdict(set)
    by_episode: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_episode[f["episode_id"]].append(f)
        if f["severity"] == "fail":
            failing[f["episode_id"]].add(f["rule"])
    fail_rules = {eid: [r for r in RULES if r in rules] for eid, rules in failing.items()}
    flagged = _tallies(findings, manifest.aggregates.overall.episodes)
    clean = RuleTally(0, 0, 1.0)
    agg = manifest.aggregates
    return QCReportFigures(
        dataset=ds,
        manifest=manifest,
        profile=profile,
        findings=findings,
        stale=stale_reason(ds, manifest),
        reviewed=sum(1 for e in manifest.episodes if e.review is not None),
        rules_flagged=flagged,
        rules_enabled={
            r: flagged.get(r, clean) for r in RULES if profile.rules[r].get("enabled", True)
        },
        durations_s={
            v: [float(Decimal(e.hours) * 3600) for e in manifest.episodes if e.verdict == v]
            for v in VERDICTS
        },
        worst=_worst(manifest, findings, worst),
        findings_by_episode=dict(by_episode),
        operators=_cards(agg.by_operator, "operator_id", manifest, fail_rules, metrics),
        robots=_cards(agg.by_robot, "robot_model", manifest, fail_rules, metrics),
    )
