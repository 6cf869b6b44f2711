"""The QC report: one self-contained HTML file (inline SVG charts, frames as data URIs).

Hours by scene type and skill, flagged episodes per rule, operator and robot scorecards,
the duration histogram, and for the worst episodes their findings, joint trajectories and
frame strips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..fsutil import atomic_write_bytes
from ..qc.manifest import (
    GroupStats,
    QCManifest,
    stale_reason,
)
from ..qc.report_figures import GroupCard, qc_report_figures
from ..qc.rules import RULES
from ..units import Unit, duration, in_unit, percent, unit_for
from .htmlkit import Raw, badge, episode_section, page, table
from .svg import VERDICT_COLOURS, hbar_chart, histogram

__all__ = ["QCReport", "qc_report", "write_report"]


def _pct(rate: str | None) -> str:
    return "—" if rate is None else percent(rate, 1)


def _hours_chart(title: str, groups: dict[str, GroupStats], u: Unit) -> str:
    names = list(groups)
    return hbar_chart(
        title,
        names,
        [
            ("PASS", VERDICT_COLOURS["PASS"], [in_unit(groups[n].hours_passed, u) for n in names]),
            ("WARN", VERDICT_COLOURS["WARN"], [in_unit(groups[n].hours_warned, u) for n in names]),
            ("FAIL", VERDICT_COLOURS["FAIL"], [in_unit(groups[n].hours_failed, u) for n in names]),
        ],
        unit=u,
        axis=f"recorded ({u})",
        empty="no episodes",
    )


def _group_rows(label: str, groups: dict[str, GroupStats], u: Unit) -> str:
    """Per scene type or skill: episodes, hours, pass rate and task success side by side."""
    rows = [
        (name, g.episodes, duration(g.hours, u), _pct(g.pass_rate), _pct(g.success_rate))
        for name, g in groups.items()
    ]
    return table(
        [label, "episodes", "recorded", "pass rate", "success"], rows, numeric=(1, 2, 3, 4)
    )


def _scorecard(title: str, cards: list[GroupCard], u: Unit) -> str:
    """Per group (operator or robot): counts, rates, their most frequent failures and
    motion-quality metrics, worst pass rate first."""
    order = [c.name for c in cards]
    groups = {c.name: c.stats for c in cards}
    rows = [
        (
            c.name,
            c.stats.episodes,
            duration(c.stats.hours, u),
            c.stats.passed,
            c.stats.warned,
            c.stats.failed,
            _pct(c.stats.pass_rate),
            _pct(c.stats.success_rate),
            ", ".join(f"{r} ×{n}" for r, n in c.top_failures) or "—",
            "—" if c.jerk_p95_median is None else f"{c.jerk_p95_median:.0f}",
            "—" if c.idle_fraction_median is None else f"{c.idle_fraction_median * 100:.0f} %",
        )
        for c in cards
    ]
    chart = hbar_chart(
        f"{title}: episodes by verdict",
        order,
        [
            ("PASS", VERDICT_COLOURS["PASS"], [groups[n].passed for n in order]),
            ("WARN", VERDICT_COLOURS["WARN"], [groups[n].warned for n in order]),
            ("FAIL", VERDICT_COLOURS["FAIL"], [groups[n].failed for n in order]),
        ],
        unit="episodes",
        axis="episodes (count)",
        empty=f"no {title}s",
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


@dataclass(frozen=True)
class QCReport:
    """A QC report just written: where, its size, and why the QC it shows is stale (None:
    it describes the current data)."""

    path: Path
    bytes: int
    stale: str | None

    def to_json(self) -> dict[str, Any]:
        return {"report": str(self.path), "bytes": self.bytes, "stale": self.stale}


def qc_report(dataset: str | Path, out: str | Path | None = None, *, worst: int = 5) -> QCReport:
    """Write the QC report of ``dataset`` to ``out`` (default ``DATASET/qc/report.html``) and
    say what was written (``embodex qc report``). Raises ``QCManifestError`` when QC has not
    run."""
    path = write_report(dataset, out or Path(dataset) / "qc" / "report.html", worst=worst)
    return QCReport(path, path.stat().st_size, stale_reason(dataset))


def write_report(dataset: str | Path, out: str | Path, *, worst: int = 5) -> Path:
    """Write the QC report of ``dataset`` (which must have a QC manifest) to ``out``.

    ``worst``: how many of the worst episodes get trajectories and frame strips. Raises
    ``QCManifestError`` when QC has not run. Returns the path written.

    Example::

        write_report("datasets/week01", "week01-qc.html")
    """
    figures = qc_report_figures(dataset, worst=worst)
    ds, manifest, profile = figures.dataset, figures.manifest, figures.profile
    agg = manifest.aggregates
    o = agg.overall
    stale = figures.stale
    u = unit_for([o.hours])  # one unit for every duration on the page

    def h(value: str) -> str:
        return duration(value, u)

    cards = [
        (f"{o.episodes:,}", "episodes" if o.episodes != 1 else "episode"),
        (h(o.hours), "recorded"),
        (f"{o.passed} · {h(o.hours_passed)}", "PASS"),
        (f"{o.warned} · {h(o.hours_warned)}", "WARN"),
        (f"{o.failed} · {h(o.hours_failed)}", "FAIL"),
        (_pct(o.pass_rate), "pass rate (PASS+WARN)"),
        (_pct(o.success_rate), "task success"),
        (str(figures.reviewed), "reviewed by people"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for v, k in cards
    )

    # flagged episodes per rule (a rule's "pass rate" = episodes it did not flag)
    flagged = figures.rules_flagged
    rule_ids = list(flagged)
    rule_chart = hbar_chart(
        "Episodes flagged per rule",
        rule_ids,
        [
            ("FAIL", VERDICT_COLOURS["FAIL"], [flagged[r].fail for r in rule_ids]),
            ("WARN", VERDICT_COLOURS["WARN"], [flagged[r].warn for r in rule_ids]),
        ],
        unit="episodes",
        axis="episodes flagged (count)",
        width=720,
        empty="no findings: no rule flagged an episode",
    )
    rule_rows = [
        (
            r,
            RULES[r].summary,
            _thresholds(profile.rules[r]),
            t.fail,
            t.warn,
            f"{100 * t.passing_share:.1f} %",
        )
        for r, t in figures.rules_enabled.items()
    ]

    durations = figures.durations_s
    hist = histogram(
        "Episode durations",
        [(v, VERDICT_COLOURS[v], durations[v]) for v in ("PASS", "WARN", "FAIL")],
        unit="s",
        x_label="episode duration (s)",
        y_label="episodes (count)",
        empty="no episodes",
    )

    worst_ids = figures.worst
    by_ep = figures.findings_by_episode
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
            f" · {duration(ev.hours, 's')}{escape(review)}</p>"
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
            f"{float(e.hours) * 3600:,.1f}",
            "—" if e.success is None else ("yes" if e.success else "no"),
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
            f"{_hours_chart('Hours by scene type', agg.by_scene_type, u)}"
            f"{_hours_chart('Hours by skill', agg.by_skill, u)}</div>",
            '<div class="grid">'
            f"<div>{_group_rows('scene type', agg.by_scene_type, u)}</div>"
            f"<div>{_group_rows('skill', agg.by_skill, u)}</div></div>",
            "<h2>Findings by rule</h2>",
            f'<div class="grid">{rule_chart}<div><h3>Top failure reasons</h3>{top}</div></div>',
            "<h2>Operator scorecards</h2>",
            '<p class="meta">Worst pass rate first: who to retrain on what.</p>',
            _scorecard("operator", figures.operators, u),
            "<h2>Robot scorecards</h2>",
            _scorecard("robot", figures.robots, u),
            "<h2>Durations</h2>",
            hist,
            f"<h2>Worst episodes ({len(worst_ids)})</h2>",
            "".join(worst_html) or '<p class="meta">No findings: no episode was flagged.</p>',
            # the reference after the findings: what each rule checks, at which thresholds
            '<h2 id="rules">Rules checked</h2>',
            table(
                ["rule", "checks", "thresholds", "fail", "warn", "episodes passing"],
                rule_rows,
                numeric=(3, 4, 5),
            ),
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
                    "duration (s)",
                    "success",
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
