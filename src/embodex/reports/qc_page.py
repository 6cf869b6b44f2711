"""The QC report: one self-contained HTML file (inline SVG charts, frames as data URIs).

Hours by scene type and skill, flagged episodes per rule, operator and robot scorecards,
the duration histogram, and for the worst episodes their findings, joint trajectories and
frame strips.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..format import open_dataset
from ..fsutil import atomic_write_bytes
from ..qc.aggregates import UNKNOWN
from ..qc.manifest import (
    GroupStats,
    QCManifest,
    load_findings,
    load_metrics,
    load_qc_manifest,
    load_qc_profile,
    stale_reason,
)
from ..qc.rules import RULES
from .htmlkit import Raw, badge, episode_section, page, table
from .svg import VERDICT_COLOURS, hbar_chart, histogram

__all__ = ["write_report"]


def _pct(rate: str | None) -> str:
    return "—" if rate is None else f"{float(rate) * 100:.1f} %"


def _h(hours: str) -> str:
    """Hours for people: minutes below a tenth of an hour."""
    h = float(hours)
    return f"{h:,.2f} h" if h >= 0.1 or h == 0 else f"{h * 60:,.1f} min"


def _hours_chart(title: str, groups: dict[str, GroupStats], total: float) -> str:
    names = list(groups)
    scale, unit = (1.0, "h") if total >= 1 else (60.0, "min")
    return hbar_chart(
        title,
        names,
        [
            (
                "PASS",
                VERDICT_COLOURS["PASS"],
                [scale * float(groups[n].hours_passed) for n in names],
            ),
            (
                "WARN",
                VERDICT_COLOURS["WARN"],
                [scale * float(groups[n].hours_warned) for n in names],
            ),
            (
                "FAIL",
                VERDICT_COLOURS["FAIL"],
                [scale * float(groups[n].hours_failed) for n in names],
            ),
        ],
        unit=unit,
    )


def _scorecard(
    title: str,
    groups: dict[str, GroupStats],
    key: str,
    manifest: QCManifest,
    fail_rules: dict[str, set[str]],
    metrics: dict[str, dict[str, float]],
) -> str:
    """Per group (operator or robot): counts, rates, their most frequent failures and
    motion-quality metrics, worst pass rate first."""
    members: dict[str, list[str]] = defaultdict(list)
    for ep in manifest.episodes:
        members[getattr(ep, key) or UNKNOWN].append(ep.episode_id)
    rows = []
    order = sorted(groups, key=lambda g: (float(groups[g].pass_rate or 0), g))
    for name in order:
        g = groups[name]
        ids = members.get(name, [])
        top = Counter(r for eid in ids for r in fail_rules.get(eid, ()))
        jerk = [metrics.get(e, {}).get("jerk_p95", np.nan) for e in ids]
        idle = [metrics.get(e, {}).get("idle_fraction", np.nan) for e in ids]
        rows.append(
            (
                name,
                g.episodes,
                _h(g.hours),
                g.passed,
                g.warned,
                g.failed,
                _pct(g.pass_rate),
                _pct(g.success_rate),
                ", ".join(f"{r} ×{c}" for r, c in top.most_common(3)) or "—",
                "—" if np.all(np.isnan(jerk)) else f"{np.nanmedian(jerk):.0f}",
                "—" if np.all(np.isnan(idle)) else f"{np.nanmedian(idle) * 100:.0f} %",
            )
        )
    chart = hbar_chart(
        f"{title}: episodes by verdict",
        order,
        [
            ("PASS", VERDICT_COLOURS["PASS"], [groups[n].passed for n in order]),
            ("WARN", VERDICT_COLOURS["WARN"], [groups[n].warned for n in order]),
            ("FAIL", VERDICT_COLOURS["FAIL"], [groups[n].failed for n in order]),
        ],
        unit="episodes",
    )
    return chart + table(
        [
            title,
            "episodes",
            "recorded",
            "pass",
            "warn",
            "fail",
            "pass rate",
            "success",
            "most frequent failures",
            "jerk p95 (median)",
            "idle (median)",
        ],
        rows,
        numeric=(1, 2, 3, 4, 5, 6, 7, 9, 10),
    )


def _worst(manifest: QCManifest, findings: list[dict[str, Any]], n: int) -> list[str]:
    fails = Counter(f["episode_id"] for f in findings if f["severity"] == "fail")
    warns = Counter(f["episode_id"] for f in findings if f["severity"] == "warn")
    rank = {"FAIL": 0, "WARN": 1, "PASS": 2}
    flagged = [e for e in manifest.episodes if e.verdict != "PASS"]
    flagged.sort(
        key=lambda e: (rank[e.verdict], -fails[e.episode_id], -warns[e.episode_id], e.episode_id)
    )
    return [e.episode_id for e in flagged[:n]]


def write_report(dataset: str | Path, out: str | Path, *, worst: int = 5) -> Path:
    """Write the QC report of ``dataset`` (which must have a QC manifest) to ``out``.

    ``worst``: how many of the worst episodes get trajectories and frame strips. Raises
    ``QCManifestError`` when QC has not run. Returns the path written.

    Example::

        write_report("datasets/week01", "week01-qc.html")
    """
    root = Path(dataset)
    manifest = load_qc_manifest(root)
    findings = load_findings(root, manifest).to_pylist()
    metrics_rows = load_metrics(root, manifest).to_pylist()
    metrics = {r.pop("episode_id"): r for r in metrics_rows}
    profile = load_qc_profile(root, manifest)
    ds = open_dataset(root)
    agg = manifest.aggregates
    o = agg.overall
    fail_rules: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        if f["severity"] == "fail":
            fail_rules[f["episode_id"]].add(f["rule"])
    reviewed = sum(1 for e in manifest.episodes if e.review is not None)
    stale = stale_reason(ds, manifest)

    cards = [
        (str(o.episodes), "episodes"),
        (_h(o.hours), "recorded"),
        (f"{o.passed} · {_h(o.hours_passed)}", "PASS"),
        (f"{o.warned} · {_h(o.hours_warned)}", "WARN"),
        (f"{o.failed} · {_h(o.hours_failed)}", "FAIL"),
        (_pct(o.pass_rate), "pass rate (PASS+WARN)"),
        (_pct(o.success_rate), "task success"),
        (str(reviewed), "reviewed by people"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in cards
    )

    # flagged episodes per rule (a rule's "pass rate" = episodes it did not flag)
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[tuple[str, str], str] = {}
    for f in findings:
        key = (f["rule"], f["episode_id"])
        if seen.get(key) != "fail":
            seen[key] = f["severity"]
    for (rule, _eid), sev in seen.items():
        per_rule[rule][sev] += 1
    rule_ids = [r for r in RULES if r in per_rule]
    total = max(o.episodes, 1)
    rule_chart = hbar_chart(
        "Episodes flagged per rule",
        rule_ids,
        [
            ("FAIL", VERDICT_COLOURS["FAIL"], [per_rule[r]["fail"] for r in rule_ids]),
            ("WARN", VERDICT_COLOURS["WARN"], [per_rule[r]["warn"] for r in rule_ids]),
        ],
        unit="episodes",
        width=720,
    )
    rule_rows = [
        (
            r,
            RULES[r].summary,
            _thresholds(profile.rules[r]),
            per_rule[r]["fail"] if r in per_rule else 0,
            per_rule[r]["warn"] if r in per_rule else 0,
            f"{100 * (1 - (per_rule[r]['fail'] + per_rule[r]['warn']) / total):.1f} %"
            if r in per_rule
            else "100.0 %",
        )
        for r in RULES
        if profile.rules[r].get("enabled", True)
    ]

    durations = {
        v: [float(Decimal(e.hours) * 3600) for e in manifest.episodes if e.verdict == v]
        for v in ("PASS", "WARN", "FAIL")
    }
    hist = histogram(
        "Episode durations",
        [(v, VERDICT_COLOURS[v], durations[v]) for v in ("PASS", "WARN", "FAIL")],
        unit="s",
    )

    worst_ids = _worst(manifest, findings, worst)
    by_ep: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_ep[f["episode_id"]].append(f)
    worst_html = []
    for eid in worst_ids:
        ev = manifest.episode(eid)
        review = (
            f" · review: {ev.review.verdict} ({ev.review.reason}) by {ev.review.reviewer}"
            if ev.review
            else ""
        )
        header = (
            f"<h3>{escape(eid)} {badge(ev.verdict)}</h3>"
            f'<p class="meta">{escape(ev.scene_type or "—")} · {escape(ev.skill or "—")} · '
            f"operator {escape(ev.operator_id or '—')} · robot {escape(ev.robot_model or '—')}"
            f" · {float(ev.hours) * 3600:.1f} s{escape(review)}</p>"
        )
        worst_html.append(episode_section(ds, eid, by_ep.get(eid, []), header))

    episode_rows = [
        (
            e.episode_id,
            badge(e.auto_verdict),
            badge(e.verdict),
            e.review.reason if e.review else None,
            e.scene_type,
            e.skill,
            e.operator_id,
            f"{float(e.hours) * 3600:.1f}",
            ", ".join(e.rules) or "—",
        )
        for e in manifest.episodes
    ]
    top = (
        table(
            ["rule", "episodes failed"],
            [(t.rule, t.episodes) for t in agg.top_failures],
            numeric=(1,),
        )
        if agg.top_failures
        else '<p class="meta">No episode fails.</p>'
    )
    warning = (
        f'<p class="meta stale" style="color:#a00">Stale: {escape(stale)}. Run '
        "<code>embodex qc run</code> again.</p>"
        if stale
        else ""
    )
    body = "".join(
        [
            f"<h1>QC report: {escape(ds.meta.name)}</h1>",
            f'<p class="meta">{escape(ds.meta.provenance.centre_name)} · dataset '
            f"<code>{escape(manifest.dataset_digest)}</code></p>",
            f'<p class="meta">profile <b>{escape(manifest.profile.id)}</b> '
            f"v{manifest.profile.version} <code>{escape(manifest.profile.digest)}</code> · "
            f"images checked: {escape(manifest.images)} · QC of {escape(manifest.created_at)} "
            f"· embodex {escape(manifest.tool.version)}</p>",
            warning,
            f'<div class="cards">{card_html}</div>',
            _notes_html(manifest),
            "<h2>Hours by scene type and skill</h2>",
            f'<div class="grid">'
            f"{_hours_chart('Hours by scene type', agg.by_scene_type, float(o.hours))}"
            f"{_hours_chart('Hours by skill', agg.by_skill, float(o.hours))}</div>",
            "<h2>Rules</h2>",
            f'<div class="grid">{rule_chart}<div><h3>Top failure reasons</h3>{top}</div></div>',
            table(
                ["rule", "checks", "thresholds", "fail", "warn", "episodes passing"],
                rule_rows,
                numeric=(3, 4, 5),
            ),
            "<h2>Operator scorecards</h2>",
            '<p class="meta">Worst pass rate first: who to retrain on what.</p>',
            _scorecard("operator", agg.by_operator, "operator_id", manifest, fail_rules, metrics),
            "<h2>Robot scorecards</h2>",
            _scorecard("robot", agg.by_robot, "robot_model", manifest, fail_rules, metrics),
            "<h2>Durations</h2>",
            hist,
            f"<h2>Worst episodes ({len(worst_ids)})</h2>",
            "".join(worst_html) or '<p class="meta">No episode was flagged.</p>',
            "<h2>All episodes</h2>",
            table(
                [
                    "episode",
                    "auto",
                    "final",
                    "review",
                    "scene",
                    "skill",
                    "operator",
                    "seconds",
                    "rules",
                ],
                episode_rows,
                numeric=(7,),
            ),
        ]
    )
    path = Path(out)
    atomic_write_bytes(path, page(f"QC report {ds.meta.name}", body).encode("utf-8"), mode=0o644)
    return path


def _notes_html(manifest: QCManifest) -> str:
    """Dataset notes, apart from the episodes' findings (they change no verdict)."""
    if not manifest.notes:
        return ""
    return (
        "<h2>Dataset notes</h2>"
        '<p class="meta">Said once for the whole dataset; they change no episode\'s verdict.'
        "</p>" + table(["rule", "note"], [(n.rule, n.message) for n in manifest.notes])
    )


def _thresholds(params: dict[str, Any]) -> Raw:
    shown: Sequence[tuple[str, Any]] = [
        (k, v) for k, v in params.items() if k != "enabled" and v is not None
    ]
    return Raw("<br>".join(f"{escape(k)}: {escape(str(v))}" for k, v in shown))
