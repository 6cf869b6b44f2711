"""What the catalogue commands show, computed once: the figures of a catalogue (hours by
verdict, deliverable hours, weekly capacity by scene type, episodes by verdict) and the
one-call results the CLI and the HTML page render (``embodex catalog build|show|match``,
``embodex quote``).

Example::

    view = show_catalog("catalog")
    f = view.figures
    print(f.deliverable_hours, f.capacity_hours_per_week, f.capacity_by_scene_type)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..trust.keys import Identity, Signer
from .capacity import load_capacity
from .catalog import DEFAULT_VALID_DAYS, Catalog, build_catalog
from .demand import load_demand
from .listing import DELIVERABLE, Listing
from .matching import MatchResult, match_demand
from .prices import load_price_sheet
from .publish import find_sample_offer, open_catalog_url
from .quote import Quote, build_quote, write_quote

__all__ = [
    "BuiltCatalog",
    "CatalogFigures",
    "CatalogView",
    "catalog_figures",
    "make_catalog",
    "match_demand_file",
    "quote_demand",
    "show_catalog",
]

VERDICTS = ("PASS", "WARN", "FAIL")
UNKNOWN = "(unknown)"


def _blank_group() -> dict[str, Any]:
    return {"episodes": 0, "hours": Decimal(0), "PASS": Decimal(0), "WARN": Decimal(0),
            "FAIL": Decimal(0)}  # fmt: skip


@dataclass(frozen=True)
class CatalogFigures:
    """Every figure a view of a catalogue shows, computed once from its listing.

    ``totals`` is :meth:`Listing.totals` (episodes and hours by verdict, scene type, skill,
    robot, and deliverable hours by skill × scene type)."""

    totals: dict[str, Any]
    #: hours a buyer can be delivered now (final QC verdict PASS or WARN)
    deliverable_hours: Decimal
    #: deliverable hours per week the centre can collect, over every scene
    capacity_hours_per_week: Decimal
    #: the same, per scene type (only the scene types the catalogue lists scenes of)
    capacity_by_scene_type: dict[str, Decimal]
    #: episodes by final verdict, per scene type and per skill
    episodes_by_verdict: dict[str, dict[str, dict[str, int]]]

    @property
    def overall(self) -> dict[str, Any]:
        return dict(self.totals["overall"])

    @property
    def scene_types(self) -> list[str]:
        """Scene types held in stock or with capacity to collect, sorted."""
        held = set(self.totals["by_scene_type"])
        return sorted(held | {k for k, v in self.capacity_by_scene_type.items() if v})

    def scene_type_group(self, scene_type: str) -> dict[str, Any]:
        """Episodes and hours by verdict of one scene type (zeros when none is held)."""
        return dict(self.totals["by_scene_type"].get(scene_type, _blank_group()))


def catalog_figures(listing: Listing) -> CatalogFigures:
    """The figures of a catalogue listing (see :class:`CatalogFigures`)."""
    totals = listing.totals()
    overall = totals["overall"]
    capacity: dict[str, Decimal] = {}
    for s in listing.scenes:
        st = s.scene.scene_type
        capacity[st] = capacity.get(st, Decimal(0)) + s.capacity_hours_per_week
    episodes: dict[str, dict[str, dict[str, int]]] = {}
    for attr in ("scene_type", "skill"):
        by: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
        for h in listing.holdings:
            by[getattr(h, attr) or UNKNOWN][h.verdict] += h.episodes
        episodes[attr] = dict(by)
    return CatalogFigures(
        totals=totals,
        deliverable_hours=sum((overall[v] for v in DELIVERABLE), Decimal(0)),
        capacity_hours_per_week=sum(
            (s.capacity_hours_per_week for s in listing.scenes), Decimal(0)
        ),
        capacity_by_scene_type=capacity,
        episodes_by_verdict=episodes,
    )


@dataclass(frozen=True)
class BuiltCatalog:
    """A catalogue just built and signed into ``path`` (``embodex catalog build``)."""

    path: Path
    listing: Listing
    signer: Identity

    @property
    def figures(self) -> CatalogFigures:
        return catalog_figures(self.listing)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "digest": self.listing.digest,
            "listing": self.listing.payload(),
        }


def make_catalog(
    datasets: Sequence[str | Path],
    out: str | Path,
    signer: Signer,
    *,
    capacity: str | Path | None = None,
    prices: str | Path | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    on_dataset: Callable[[str], None] | None = None,
) -> BuiltCatalog:
    """:func:`build_catalog` with the capacity and price sheet read from their YAML files
    (None: no capacity file, the built-in price sheet)."""
    listing = build_catalog(
        list(datasets),
        out,
        signer,
        capacity=load_capacity(capacity),
        prices=load_price_sheet(prices),
        valid_days=valid_days,
        on_dataset=on_dataset,
    )
    return BuiltCatalog(Path(out), listing, signer.identity)


@dataclass(frozen=True)
class CatalogView:
    """A verified catalogue as ``embodex catalog show`` shows it: the figures, and the HTML
    page when one was written."""

    source: str
    catalog: Catalog
    figures: CatalogFigures
    html: Path | None = None

    def to_json(self) -> dict[str, Any]:
        cat = self.catalog
        return {
            "source": self.source,
            "verified": True,
            "digest": cat.digest,
            "signed_by": cat.centre.model_dump(mode="json"),
            "totals": self.figures.totals,
            "listing": cat.listing.payload(),
            "provenance": {d: c.describe() for d, c in cat.chains.items()},
        }


def show_catalog(
    source: str | Path,
    trusted: Sequence[Identity] | None = None,
    *,
    html: str | Path | None = None,
) -> CatalogView:
    """Open and verify the catalogue at ``source`` (a folder or a channel URL) and, with
    ``html``, write its page (with the sample pack published beside it, if any)."""
    cat = open_catalog_url(source, trusted)
    page = None
    if html is not None:
        from ..reports.catalog_page import write_catalog_html

        page = Path(html)
        write_catalog_html(cat, page, sample=find_sample_offer(source, cat))
    return CatalogView(str(source), cat, catalog_figures(cat.listing), page)


def match_demand_file(
    source: str | Path, demand: str | Path, trusted: Sequence[Identity] | None = None
) -> MatchResult:
    """Match the demand file ``demand`` against the verified catalogue at ``source``."""
    return match_demand(open_catalog_url(source, trusted).listing, load_demand(demand))


def quote_demand(
    source: str | Path,
    demand: str | Path,
    trusted: Sequence[Identity] | None = None,
    *,
    out: str | Path | None = None,
    now: datetime | None = None,
) -> Quote:
    """Price the demand file ``demand`` against the verified catalogue at ``source`` as of
    ``now`` (default: the clock); with ``out``, also write the quote JSON there."""
    quote, _match = build_quote(
        open_catalog_url(source, trusted).listing, load_demand(demand), catalog=str(source),
        now=now,
    )  # fmt: skip
    if out is not None:
        write_quote(out, quote)
    return quote
