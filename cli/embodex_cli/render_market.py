"""Text rendering of catalogues, matches, quotes, sample packs and provenance for people.

Numbers stay Decimals all the way to the screen (no float formatting of money or hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embodex.units import count, duration, percent, unit_for

from .render import hours_header, table
from .render_trust import short

if TYPE_CHECKING:
    from embodex.market import (
        BuiltCatalog,
        CatalogView,
        MatchResult,
        Provenance,
        PublishReport,
        Quote,
        SamplePack,
    )
    from embodex.market.provenance import EpisodeOrigin
    from embodex.market.quote import Factor, QuotePart

__all__ = [
    "built_catalog_lines",
    "catalog_lines",
    "chain_lines",
    "match_lines",
    "money",
    "origin_lines",
    "provenance_lines",
    "publish_report_lines",
    "quote_lines",
    "sample_lines",
]


def money(value: Decimal, currency: str = "") -> str:
    text = f"{value:,.2f}"
    return f"{text} {currency}".rstrip()


def _factor(f: Factor) -> str:
    return f"{f.value} ({f.label})"


def built_catalog_lines(built: BuiltCatalog) -> list[str]:
    li, total, signer = built.listing, built.figures.overall, built.signer
    return [
        f"wrote {built.path / 'listing.json'}: catalogue #{li.sequence} of "
        f"{count(len(li.datasets), 'dataset')}, {count(total['episodes'], 'episode')}, "
        f"{duration(total['hours'])}, signed by "
        f"{signer.name} ({signer.key_id}), valid until {li.valid_until}"
    ]


def catalog_lines(view: CatalogView) -> list[str]:
    """The buyer's view of a verified catalogue: who, what, how much, at what price."""
    catalog, figures = view.catalog, view.figures
    li = catalog.listing
    t = figures.totals
    c = li.centre
    deliverable = figures.deliverable_hours
    u = unit_for([t["overall"]["hours"], *(s.capacity_hours_per_week for s in li.scenes)])

    def hh(value: Decimal) -> str:  # one unit for the whole view, so columns compare
        return duration(value, u)

    lines = [
        f"{c.centre_name} ({c.centre_id}{', ' + c.site if c.site else ''}) — catalogue "
        f"#{li.sequence}, issued {li.issued_at}, valid until {li.valid_until}",
        f"  verified     listing signed by {c.identity.name} ({c.identity.key_id}); "
        f"{count(len(catalog.chains), 'provenance chain')} check out",
        f"  holds        {count(t['overall']['episodes'], 'episode')}, "
        f"{hh(t['overall']['hours'])} ({hh(deliverable)} deliverable: QC PASS or WARN) "
        f"in {count(len(li.datasets), 'dataset')}",
        "  QC profiles  "
        + "; ".join(f"{p.id} v{p.version} {short(p.digest)}" for p in li.qc_profiles),
        "",
        "Hours by scene type (QC verdict; capacity in deliverable hours per week):",
    ]
    capacity = figures.capacity_by_scene_type
    rows = []
    for st in figures.scene_types:
        g = figures.scene_type_group(st)
        rows.append(
            [
                st,
                g["episodes"],
                hh(g["hours"]),
                hh(g["PASS"]),
                hh(g["WARN"]),
                hh(g["FAIL"]),
                hh(capacity.get(st, Decimal(0))) + "/wk",
            ]
        )
    headers = ["scene type", "episodes", hours_header(u), "PASS", "WARN", "FAIL", "capacity"]
    lines.append(table(headers, rows))
    for title, label, key in (("skill", "skill", "by_skill"),
                              ("robot model", "robot", "by_robot")):  # fmt: skip
        lines += ["", f"Hours by {title} (QC verdict):"]
        lines.append(
            table(
                [label, "episodes", hours_header(u), "PASS", "WARN", "FAIL"],
                [
                    [k, g["episodes"], *(hh(g[v]) for v in ("hours", "PASS", "WARN", "FAIL"))]
                    for k, g in t[key].items()
                ],
            )
        )
    cross = t["deliverable_hours_by_skill_and_scene_type"]
    if cross:
        cols = sorted({st for v in cross.values() for st in v})
        lines += ["", "Deliverable hours, skill × scene type:"]
        lines.append(
            table(
                ["skill", *cols],
                [[sk, *(hh(v[c]) if c in v else "-" for c in cols)] for sk, v in cross.items()],
            )
        )
    lines += ["", "Robots, cameras and rates:"]
    for d in li.datasets:
        cams = ", ".join(
            f"{cam.name} {cam.width}x{cam.height} {cam.kind} @ {cam.rate_hz} Hz"
            + ("" if cam.calibrated else " (uncalibrated)")
            for cam in d.cameras
        )
        lines.append(
            f"  {d.name}: {', '.join(d.robot_models) or '-'}; {cams}; licence {d.licence}; "
            f"digest {short(d.digest)}"
        )
    lines += ["", "Scenes (the centre's catalogue of scenes):"]
    lines.append(
        table(
            ["scene", "type", "description", "in stock", "capacity"],
            [
                [
                    s.scene.scene_id,
                    s.scene.scene_type,
                    s.scene.description or "-",
                    hh(s.stock_hours),
                    hh(s.capacity_hours_per_week) + "/wk",
                ]
                for s in li.scenes
            ],
        )
    )
    p = li.prices
    lines += [
        "",
        f"Prices ({p.currency}): {money(p.base_per_accepted_hour)} per accepted hour before "
        f"multipliers; exclusivity ×{p.exclusivity}; customised collection "
        f"×{p.customised_collection}" + (f"; valid until {p.valid_until}" if p.valid_until else ""),
        "  scene types  " + _multipliers(p.scene_complexity, p.default_scene_complexity),
        "  skills       " + _multipliers(p.skill_difficulty, p.default_skill_difficulty),
        "  cameras      "
        + ", ".join(f"≥{tier.min_cameras}: ×{tier.multiplier}" for tier in p.cameras),
        "  volume       "
        + (
            ", ".join(f"≥{v.min_hours} h: -{percent(v.discount)}" for v in p.volume_discounts)
            or "none"
        ),
        "  licences     " + "; ".join(f"{lic.id} ({lic.title})" for lic in p.licences),
    ]
    return lines


def _multipliers(table_: dict[str, Decimal], default: Decimal) -> str:
    """``restaurant ×1.15, home ×1.00; any other ×1.00`` (highest first, then by name)."""
    listed = sorted(table_.items(), key=lambda kv: (-kv[1], kv[0]))
    return (
        ", ".join(f"{k} ×{v}" for k, v in listed)
        + ("; " if listed else "")
        + (f"any other ×{default}")
    )


def match_lines(m: MatchResult) -> list[str]:
    """Per demand line: stock now, hours to collect and by when, shortfall."""
    lines = [
        f"{m.demand_title}: {m.start} .. {m.horizon} ({m.weeks_to_horizon} whole weeks; "
        f"collection from {m.collection_from})",
        "",
    ]
    rows = [
        [
            line.line,
            line.skill,
            line.scene_type,
            duration(line.hours_wanted),
            duration(line.available_now),
            duration(line.from_stock),
            duration(line.to_collect),
            duration(line.capacity_hours_per_week) + "/wk",
            str(line.ready_by or "never"),
            duration(line.shortfall),
            line.status,
        ]
        for line in m.lines
    ]
    lines.append(
        table(
            [
                "line",
                "skill",
                "scene type",
                "wanted",
                "available",
                "from stock",
                "to collect",
                "capacity",
                "ready by",
                "shortfall",
                "status",
            ],
            rows,
        )
    )
    excluded = [
        f"  line {line.line} {line.skill} × {line.scene_type}: "
        + ", ".join(f"{duration(h)} ({why})" for why, h in line.excluded.items())
        for line in m.lines
        if line.excluded
    ]
    if excluded:
        lines += ["", "Stock left out by the demand's filters:", *excluded]
    tot = m.totals
    lines += [
        "",
        f"total: {duration(tot.hours_wanted)} wanted, {duration(tot.from_stock)} from stock, "
        f"{duration(tot.to_collect)} to collect "
        f"({duration(tot.collected_by_horizon)} by the horizon); "
        + (
            f"all ready by {tot.ready_by}"
            if tot.shortfall == 0
            else f"SHORTFALL {duration(tot.shortfall)} at the horizon"
        ),
    ]
    return lines


def _part(part: QuotePart, currency: str) -> list[str]:
    terms = " × ".join(_factor(f) for f in part.factors)
    from embodex.market.matching import tidy

    exact, unit = tidy(part.unit_price_exact), money(part.unit_price)
    return [
        f"    {part.source:<11}{terms}",
        f"               = {exact} → {unit} {currency}/h (to cents, half up); "
        f"{part.hours} h × {unit} = {money(part.amount, currency)}",
    ]


def quote_lines(q: Quote) -> list[str]:
    """Every term of the quote's arithmetic, line by line."""
    cur = q.currency
    lines = [
        f"Quote {q.quote_id} from {q.centre.centre_name} for {q.demand.title!r} "
        f"(listing {short(q.listing_digest)} #{q.listing_sequence}; valid until {q.valid_until})",
        f"  licence      {q.licence.id}: {q.licence.title}",
        f"  QC           profile {q.qc_profile.id} v{q.qc_profile.version} "
        f"{short(q.qc_profile.digest)}",
        "",
    ]
    for line in q.lines:
        note = f", shortfall {line.shortfall} h" if line.shortfall else ""
        lines.append(
            f"line {line.line}: {line.skill} × {line.scene_type}"
            + (" (customised)" if line.customised else "")
            + f" — {line.hours_wanted} h wanted, {line.hours_quoted} h quoted{note}"
            + (f", ready by {line.ready_by}" if line.ready_by else "")
        )
        for part in line.parts:
            lines += _part(part, cur)
        lines.append(f"    line total {money(line.amount, cur)}")
    lines += ["", f"subtotal     {money(q.subtotal, cur)} for {q.hours} h"]
    if q.volume_tier is not None:
        lines.append(
            f"discount     {money(q.subtotal)} × {q.volume_tier.discount} (volume ≥ "
            f"{q.volume_tier.min_hours} h) = -{money(q.discount, cur)} (to cents, half up)"
        )
    else:
        lines.append("discount     none (below the first volume tier)")
    lines.append(f"TOTAL        {money(q.total, cur)}")
    first, last = q.deliveries[0], q.deliveries[-1]
    n = len(q.deliveries)
    lines.append(
        f"deliveries   {n} × every {q.demand.cadence} from {first.start}: "
        + (
            f"{first.hours} h / {money(first.amount, cur)} each"
            + (f", the last {last.hours} h / {money(last.amount, cur)}" if n > 1 else "")
        )
    )
    lines.append(
        f"contract     {money(q.blended_per_accepted_hour or Decimal(0), cur)} per accepted hour"
        f" (total / hours, to cents): {money(q.contract_value, cur)} at {q.hours} h"
    )
    if q.shortfall:
        lines.append(f"shortfall    {q.shortfall} h cannot be delivered by {q.demand.horizon}")
    if q.budget is not None and q.budget_left is not None:
        state = "within budget" if q.budget_left >= 0 else "OVER BUDGET"
        lines.append(
            f"budget       {money(q.budget.amount, cur)}: {state} "
            f"({money(q.budget_left, cur)} left)"
        )
    return lines


def origin_lines(origin: EpisodeOrigin) -> Iterator[str]:
    for k, v in origin.model_dump(mode="json").items():
        yield f"{k:<16} {v}"


def provenance_lines(prov: Provenance) -> Iterator[str]:
    """Every verified chain of a sample pack, catalogue or channel."""
    for d in prov.describe():
        yield from chain_lines(d)


def publish_report_lines(r: PublishReport, source: Path) -> list[str]:
    return [
        f"published {source} at {r.url}: {r.files} files, {r.bytes:,} bytes"
        + (", with the sample pack" if r.sample else ", no sample pack")
        + (f"; removed {r.removed} stale sample files" if r.removed else "")
    ]


def chain_lines(d: dict[str, Any]) -> list[str]:
    """A verified provenance chain (``ProvenanceChain.describe()``)."""
    col, qc = d["collected"], d["qc"]
    lines = [
        f"{d['dataset']['name']} {short(d['dataset']['digest'])} — chain head {short(d['head'])}, "
        f"signed by {d['centre']['centre_name']} ({d['centre']['key_id']})",
        f"  collected    {count(col['episodes'], 'episode')} at {col['site'] or '-'}, "
        f"{col['from']} .. {col['to']}",
        f"  robots       {', '.join(col['robot_serials']) or '-'}",
        f"  operators    {', '.join(col['operators']) or '-'}",
    ]
    for step in d["steps"]:
        details = ", ".join(f"{k} {v}" for k, v in step["details"].items())
        lines.append(
            f"  {step['step']:<12} {count(step['episodes'], 'episode')} by {step['tool']};"
            f" {details}"
        )
    lines.append(
        f"  qc           {qc['profile_id']} v{qc['profile_version']} "
        f"{short(qc['profile_digest'])}: "
        f"{qc['passed']} PASS, {qc['warned']} WARN, {qc['failed']} FAIL "
        f"(manifest {short(qc['manifest_digest'])})"
    )
    if "sample" in d:
        s = d["sample"]
        lines.append(
            f"  sample       {count(len(s['episodes']), 'episode')} of {s['source']['name']}, "
            f"licence {s['licence']}; watermark: {s['watermark']}"
        )
    if "delivery" in d:
        dl = d["delivery"]
        lines.append(
            f"  delivery     batch {dl['batch']} ({count(dl['episodes'], 'episode')}, "
            f"{duration(Decimal(dl['hours']))}) published {dl['published_at']} on channel "
            f"{dl['channel_id']} under {dl['contract_id']} to buyer {dl['buyer_key_id']}; "
            f"manifest {short(dl['batch_manifest_digest'])}"
        )
    lines.append("  links        " + " → ".join(link["statement"] for link in d["links"]))
    return lines


def sample_lines(pack: SamplePack) -> list[str]:
    d = pack.describe()
    lines = [
        f"sample pack {pack.path}: {count(len(pack.episodes), 'episode')}, digest "
        f"{short(pack.dataset_digest)}, provenance head {short(pack.provenance.head)}",
    ]
    if "cells" in d:
        lines.append(
            table(
                ["skill × scene type", "episodes"],
                [[cell, len(ids)] for cell, ids in d["cells"].items()],
            )
        )
        for key, label in (
            ("cells_without_deliverable_episodes", "no deliverable episode (all FAIL)"),
            ("cells_left_out", "left out by --max"),
        ):
            if d[key]:
                lines.append(f"{label}: {', '.join(d[key])}")
    rows = []
    for e in d["episodes"]:
        o = e["origin"]
        rows.append(
            [
                e["episode_id"],
                o["scene_id"] or "-",
                o["skill"] or "-",
                o["robot_serial"] or "-",
                f"{o['operator_id']} ({o['operator_level']})",
                o["recorded_from"],
            ]
        )
    lines.append(table(["episode", "scene", "skill", "robot", "operator", "recorded"], rows))
    return lines
