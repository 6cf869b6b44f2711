"""A verified catalogue as one self-contained HTML page for buyers (``embodex catalog show
--html``): who signed it, hours and episodes by scene type and skill split by QC verdict,
robots and cameras, scenes and weekly capacity, the price sheet, licence terms, QC profiles
and the sample pack published with it.

Everything in a catalogue comes from another party, so every string is escaped; money
and multipliers are printed as their exact Decimal strings, discounts as percentages, hours
in one unit for the whole page (``embodex.units``; charts alone use floats, to size their
bars), licence terms as sentences.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from ..contract.model import PolicyRule, UsagePolicy
from ..fsutil import atomic_write_bytes
from ..market.catalog import Catalog
from ..market.listing import Listing
from ..market.publish import SampleOffer
from ..market.views import catalog_figures
from ..trust.types import dec_str
from ..units import Unit, count, duration, in_unit, percent, unit_for
from .htmlkit import Raw, badge, page, table
from .svg import VERDICT_COLOURS, grouped_bar_chart, hbar_chart

__all__ = ["catalog_html", "write_catalog_html"]

_VERDICTS = ("PASS", "WARN", "FAIL")


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _verdict_charts(
    title: str, groups: dict[str, dict[str, Any]], eps: dict[str, dict[str, int]], u: Unit
) -> str:
    names = list(groups)
    hours = hbar_chart(
        f"Hours by {title} (QC verdict)",
        names,
        [(v, VERDICT_COLOURS[v], [in_unit(groups[n][v], u) for n in names]) for v in _VERDICTS],
        unit=u,
        axis=f"recorded ({u})",
        width=560,
        empty="no episodes",
    )
    episodes = hbar_chart(
        f"Episodes by {title} (QC verdict)",
        names,
        [(v, VERDICT_COLOURS[v], [float(eps[n][v]) for n in names]) for v in _VERDICTS],
        unit="episodes",
        axis="episodes (count)",
        width=560,
        empty="no episodes",
    )
    return f'<div class="grid">{hours}{episodes}</div>'


def _group_table(label: str, groups: dict[str, dict[str, Any]], u: Unit) -> str:
    rows = [
        [name, g["episodes"], *(duration(g[k], u) for k in ("hours", *_VERDICTS))]
        for name, g in groups.items()
    ]
    return table(
        [label, "episodes", "recorded", "PASS", "WARN", "FAIL"], rows, numeric=(1, 2, 3, 4, 5)
    )


def _d(value: Any) -> Any:
    """Decimals as plain decimal text (never ``1E-7``); anything else as it is."""
    return dec_str(value) if isinstance(value, Decimal) else value


def _multipliers(values: dict[str, Decimal], default: Decimal) -> list[list[object]]:
    rows: list[list[object]] = [[k, f"×{dec_str(v)}"] for k, v in sorted(values.items())]
    return [*rows, [Raw("<i>any other</i>"), f"×{dec_str(default)}"]]


def _prices(listing: Listing) -> str:
    p = listing.prices
    head = (
        f'<p class="meta">Currency {escape(p.currency)}; base price '
        f"<b>{escape(dec_str(p.base_per_accepted_hour))} {escape(p.currency)}</b> per accepted "
        f"hour before multipliers; payment terms: {escape(p.payment_terms)}"
        + (f"; prices valid until {p.valid_until}" if p.valid_until else "")
        + "</p>"
    )
    general = table(
        ["term", "factor"],
        [
            ["exclusive licence", f"×{dec_str(p.exclusivity)}"],
            ["customised collection", f"×{dec_str(p.customised_collection)}"],
        ],
    )
    scenes = table(
        ["scene type", "multiplier"],
        _multipliers(p.scene_complexity, p.default_scene_complexity),
    )
    skills = table(
        ["skill", "multiplier"], _multipliers(p.skill_difficulty, p.default_skill_difficulty)
    )
    cameras = table(
        ["cameras (at least)", "multiplier"],
        [[t.min_cameras, f"×{dec_str(t.multiplier)}"] for t in p.cameras],
        numeric=(0,),
    )
    volume = (
        table(
            ["order of at least", "discount"],
            [[f"{dec_str(v.min_hours)} h", percent(v.discount)] for v in p.volume_discounts],
            numeric=(0, 1),
        )
        if p.volume_discounts
        else '<p class="meta">no volume discounts</p>'
    )
    return (
        head
        + '<div class="grid">'
        + "".join(f"<div>{x}</div>" for x in (general, scenes, skills, cameras, volume))
        + "</div>"
    )


def _rule(r: PolicyRule) -> str:
    what = r.action.replace("_", " ") + (f" {r.target}" if r.target else "")
    if r.purposes:
        what += " for " + ", ".join(p.replace("_", " ") for p in r.purposes)
    return what


def usage_sentences(usage: UsagePolicy) -> list[str]:
    """A licence's usage policy as sentences a buyer reads (the page shows the terms, not
    their JSON)."""
    out = ["You may " + "; ".join(_rule(r) for r in usage.permissions) + "."]
    if usage.prohibitions:
        out.append("You may not " + "; ".join(_rule(r) for r in usage.prohibitions) + ".")
    out.append(f"Delete the data {count(usage.retention_days, 'day')} after receipt.")
    regions = ", ".join(usage.allowed_regions)
    where = f"Recorded in {usage.origin_region}; it may be kept and used in {regions}"
    if usage.transfer_approval_ref:
        where += f" (cross-border transfer approved: {usage.transfer_approval_ref})"
    out.append(where + ".")
    return out


def _licences(listing: Listing) -> str:
    rows = [
        [
            lic.id,
            lic.title,
            "yes" if lic.exclusive else "no",
            Raw("<br>".join(escape(s) for s in usage_sentences(lic.usage))),
        ]
        for lic in listing.prices.licences
    ]
    return table(["licence", "title", "exclusive", "terms"], rows)


def _sample(sample: SampleOffer | None) -> str:
    if sample is None:
        return '<p class="meta">No sample pack is published with this catalogue.</p>'
    return (
        f'<p class="meta">{count(len(sample.episodes), "episode")} of {escape(sample.source_name)} '
        f"(<code>{escape(sample.source_digest)}</code>), published as "
        f"{escape(sample.dataset_name)} (<code>{escape(sample.dataset_digest)}</code>) under "
        f"the licence {escape(sample.licence)}</p>"
        f'<p class="meta">Watermark: {escape(sample.watermark)}</p>'
        f'<p class="meta">Where: {escape(sample.where)} — {escape(sample.action)} '
        f"<code>{escape(sample.command)}</code></p>"
        + table(
            ["sample episode", "source episode"],
            [[e.episode_id, e.source_episode_id] for e in sample.episodes],
        )
    )


def catalog_html(catalog: Catalog, *, sample: SampleOffer | None = None) -> str:
    """The HTML page of a verified catalogue (nothing fetched to view it).

    ``sample`` is the sample pack published with it (see ``find_sample_offer``).

    Example::

        html = catalog_html(open_catalog("catalog"))
    """
    li = catalog.listing
    c = li.centre
    figures = catalog_figures(li)
    t = figures.totals
    o = t["overall"]
    eps = figures.episodes_by_verdict
    # one unit for every duration on the page, from the largest figure it shows
    u = unit_for([o["hours"], figures.capacity_hours_per_week, *(s.stock_hours for s in li.scenes)])
    cards = [
        _card(f"{o['episodes']:,}", "episodes" if o["episodes"] != 1 else "episode"),
        _card(duration(o["hours"], u), "recorded"),
        _card(duration(figures.deliverable_hours, u), "deliverable (QC PASS or WARN)"),
        _card(f"{duration(figures.capacity_hours_per_week, u)}/week", "collection capacity"),
        _card(f"{li.prices.base_per_accepted_hour} {li.prices.currency}", "per accepted hour"),
        _card(f"{len(li.datasets):,}", "datasets" if len(li.datasets) != 1 else "dataset"),
    ]
    signed = (
        f'<p class="meta">Verified: the listing is signed by <b>{escape(c.centre_name)}</b> '
        f"({escape(c.centre_id)}{', ' + escape(c.site) if c.site else ''}) with key "
        f"<code>{escape(c.identity.key_id)}</code> ({escape(c.identity.name)}); "
        f"{count(len(catalog.chains), 'provenance chain')} check out. Catalogue #{li.sequence}, "
        f"issued {escape(li.issued_at)}, <b>valid until {li.valid_until}</b>"
        + (f"; contact {escape(c.contact)}" if c.contact else "")
        + f'</p><p class="meta">Source {escape(catalog.source)}; listing digest '
        f"<code>{escape(catalog.digest)}</code></p>"
    )
    by_scene = t["by_scene_type"]
    by_skill = t["by_skill"]
    datasets = table(
        ["dataset", "episodes", "duration", "recorded", "robots", "licence", "digest"],
        [
            [d.name, d.episodes, duration(d.hours, u),
             f"{d.recorded_from or '?'} .. {d.recorded_to or '?'}",
             ", ".join(d.robot_models) or None, d.licence,
             Raw(f"<code>{escape(d.digest)}</code>")]
            for d in li.datasets
        ],
        numeric=(1, 2),
    )  # fmt: skip
    cameras = table(
        ["dataset", "camera", "kind", "resolution", "encoding", "rate (Hz)", "calibrated"],
        [
            [d.name, cam.name, cam.kind, f"{cam.width}×{cam.height}", cam.encoding,
             _d(cam.rate_hz), "yes" if cam.calibrated else "no"]
            for d in li.datasets
            for cam in d.cameras
        ],
        numeric=(5,),
    )  # fmt: skip
    shown = [s for s in li.scenes if s.capacity_hours_per_week or s.stock_hours]
    # stock (hours held now) and capacity (hours a week) are different quantities: two bars
    # per scene, each on its own scale, never stacked into one sum
    capacity_chart = grouped_bar_chart(
        "Deliverable stock and weekly collection capacity per scene",
        [f"{s.scene.scene_id} {s.scene.scene_type}" for s in shown],
        [
            ("stock", "#2e7d32", [in_unit(s.stock_hours, u) for s in shown], u),
            ("capacity", "#1f77b4", [in_unit(s.capacity_hours_per_week, u) for s in shown],
             f"{u}/week"),
        ],
        width=760,
        empty="no scene has stock or capacity",
    )  # fmt: skip
    scenes = table(
        ["scene", "type", "description", "lighting", "objects", "in stock", "capacity"],
        [
            [s.scene.scene_id, s.scene.scene_type, s.scene.description, s.scene.lighting,
             ", ".join(s.scene.objects) or None, duration(s.stock_hours, u),
             f"{duration(s.capacity_hours_per_week, u)}/week"]
            for s in li.scenes
        ],
        numeric=(5, 6),
    )  # fmt: skip
    profiles = table(
        ["QC profile", "version", "digest"],
        [[p.id, p.version, Raw(f"<code>{escape(p.digest)}</code>")] for p in li.qc_profiles],
    )
    verdicts = " ".join(f"{badge(v)} {duration(o[v], u)}" for v in _VERDICTS)
    body = (
        f"<h1>Catalogue — {escape(c.centre_name)}</h1>{signed}"
        f'<div class="cards">{"".join(cards)}</div>'
        f'<p class="meta">Hours by final QC verdict: {verdicts}</p>'
        "<h2>Hours and episodes by scene type</h2>"
        + _verdict_charts("scene type", by_scene, eps["scene_type"], u)
        + _group_table("scene type", by_scene, u)
        + "<h2>Hours and episodes by skill</h2>"
        + _verdict_charts("skill", by_skill, eps["skill"], u)
        + _group_table("skill", by_skill, u)
        + "<h2>Robots</h2>"
        + _group_table("robot model", t["by_robot"], u)
        + f"<h2>Datasets</h2>{datasets}<h2>Cameras and rates</h2>{cameras}"
        + f"<h2>Scenes and collection capacity</h2>{capacity_chart}"
        + (
            f'<p class="meta">Collection can start on {li.capacity_available_from}</p>'
            if li.capacity_available_from
            else ""
        )
        + scenes
        + "<h2>Prices</h2>"
        + _prices(li)
        + "<h2>Licence terms offered</h2>"
        + _licences(li)
        + f"<h2>QC profiles certified against</h2>{profiles}"
        + "<h2>Sample pack</h2>"
        + _sample(sample)
    )
    return page(f"Catalogue {c.centre_name} #{li.sequence}", body)


def write_catalog_html(
    catalog: Catalog, path: str | Path, *, sample: SampleOffer | None = None
) -> Path:
    """Write :func:`catalog_html` to ``path`` atomically (no partial file), mode 0644 like
    every report page; return the path."""
    out = Path(path)
    atomic_write_bytes(out, catalog_html(catalog, sample=sample).encode("utf-8"), mode=0o644)
    return out
