"""A catalogue's figures are computed once (market.views) and the CLI's text and the HTML page
both render them."""

from __future__ import annotations

from decimal import Decimal

from embodex.market import CatalogView, catalog_figures
from embodex.reports import catalog_html
from embodex.trust import Signer
from embodex_cli.render_market import catalog_lines

from .test_market_catalog_html import _hand_catalog, _text, centre

__all__ = ["centre"]  # the fixture, imported for the tests below


def test_figures_are_computed_once_and_shown_by_both_views(centre: Signer) -> None:
    cat = _hand_catalog(centre)
    f = catalog_figures(cat.listing)
    o = cat.listing.totals()["overall"]
    assert f.totals == cat.listing.totals()
    assert f.deliverable_hours == o["PASS"] + o["WARN"] == Decimal("8.00")
    assert f.capacity_by_scene_type == {"restaurant": Decimal("2"), "home": Decimal("0.75")}
    assert f.capacity_hours_per_week == Decimal("2.75")
    assert f.scene_types == sorted({*f.totals["by_scene_type"], "restaurant", "home"})
    episodes = f.episodes_by_verdict["scene_type"]
    assert sum(sum(v.values()) for v in episodes.values()) == o["episodes"]
    assert f.scene_type_group("nowhere") == {
        "episodes": 0, "hours": 0, "PASS": 0, "WARN": 0, "FAIL": 0,
    }  # fmt: skip

    page = _text(catalog_html(cat))
    assert "8.00 h" in page and "2.75 h/week" in page  # one unit, two decimals
    text = "\n".join(catalog_lines(CatalogView("hand", cat, f)))
    assert "(8.00 h deliverable: QC PASS or WARN)" in text
    restaurant = next(line for line in text.splitlines() if line.startswith("restaurant"))
    home = next(line for line in text.splitlines() if line.startswith("home "))
    assert restaurant.endswith("2.00 h/wk") and home.endswith("0.75 h/wk")
