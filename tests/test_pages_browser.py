"""Every HTML page a manager reads — QC report, review page, catalogue, supply status — opened
in one headless Chromium (Debian's, driven by Playwright as in tests/test_console_browser.py),
screenshotted into the test's folder and checked by layout assertions run in the page:
nothing overflows its box, every chart has a title and axis labels naming their units, all
chart text lies inside its chart, durations are in one unit, times in one zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from embodex.contract import supply_status
from embodex.contract.supply import net_supply
from embodex.delivery.channel_supply import SupplyReport, _alerts
from embodex.delivery.overview import BatchLine
from embodex.reports import write_catalog_html, write_review_page, write_supply_report
from embodex.reports.qc_page import write_report
from embodex.reports.svg import empty_chart, hbar_chart, histogram
from embodex.trust import generate_key, load_signer

from ._browser import launch
from ._trust import batch, episode, week
from .test_market_catalog_html import _hand_catalog
from .test_trust_checking import CONTRACT, _receipt

VIEWPORT = {"width": 1280, "height": 900}

# Run in each page: what overflows, which charts lack a title, axis labels or units, which
# chart text is drawn outside its chart (screen boxes, so rotated labels count as drawn).
LAYOUT_JS = """
() => {
  const bad = [];
  const boxes = document.querySelectorAll(
    'body, .cards, .card, .grid, .tablewrap, .episode, .strip, .empty-chart');
  for (const el of boxes) {
    if (el.scrollWidth > el.clientWidth + 1) {
      bad.push(`overflow ${el.className || el.tagName}: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  const charts = [...document.querySelectorAll('svg.chart')];
  for (const svg of charts) {
    const title = svg.querySelector(':scope > title');
    const name = title ? title.textContent.trim() : '';
    if (!name) bad.push('a chart without a title');
    const axes = [...svg.querySelectorAll('text.axis-label')];
    if (!axes.length) bad.push(`${name}: no axis label`);
    for (const a of axes) {
      if (!/\\(.+\\)/.test(a.textContent)) bad.push(`${name}: axis "${a.textContent}" has no unit`);
    }
    const box = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 ||
          r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        bad.push(`${name}: "${t.textContent.slice(0, 40)}" drawn outside the chart`);
      }
    }
    for (const a of axes) {  // the brief's check, in the chart's own coordinates
      if (a.getAttribute('transform')) continue;
      const b = a.getBBox();
      if (b.x < vb.x - 1 || b.x + b.width > vb.x + vb.width + 1) {
        bad.push(`${name}: axis label outside the viewBox`);
      }
    }
  }
  const units = new Set();
  for (const td of document.querySelectorAll('td, .card b')) {
    const m = td.textContent.trim().match(/^[\\d,.]+ (h|min|s)(\\/week)?( short)?$/);
    if (m) units.add(m[1]);
  }
  return {bad, charts: charts.length, units: [...units],
          empties: document.querySelectorAll('.empty-chart').length};
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


def _open(browser: Any, path: Path, shots: Path) -> tuple[Any, dict[str, Any], Any]:
    """Open ``path``, screenshot it next to it, and run the layout checks."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(path.as_uri())
    pg.wait_for_selector("body[data-rendered='yes']")
    shot = shots / f"{path.stem}.png"
    pg.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000, "the screenshot is blank"
    assert errors == []
    return pg, pg.evaluate(LAYOUT_JS), context


def _check(result: dict[str, Any]) -> None:
    assert result["bad"] == [], "\n".join(result["bad"])
    assert len(result["units"]) <= 1, f"durations in several units: {result['units']}"


def _supply_report() -> SupplyReport:
    """A supply status with every kind of period: short on time, late and short, missing,
    open; batches published in UTC, deadlines in the contract's zone (Asia/Shanghai)."""
    b1 = batch(1, week(1))  # 25 h on time, short of the 38.462 h due
    b2 = batch(2, week(2) + timedelta(days=5), [episode(2000 + i) for i in range(40)], period=2)
    b3 = batch(3, week(4), [episode(3000 + i, "0.25") for i in range(100)])
    receipts = {1: _receipt(b1), 2: _receipt(b2, rejected=("hubei:2000", "hubei:2001"))}
    batches = [b1, b2, b3]
    status = supply_status(CONTRACT, receipts.values(), batches, week(4) + timedelta(days=2))
    net = net_supply(status, batches, receipts, {})
    lines = [
        BatchLine(
            number=b.batch_number,
            published_at=b.delivered_at,
            period=b.period,
            episodes=len(b.episodes),
            hours=b.hours,
            receipt=b.batch_number in receipts,
            accepted=len(receipts[b.batch_number].accepted) if b.batch_number in receipts else None,
            rejected=len(receipts[b.batch_number].rejected) if b.batch_number in receipts else None,
            accepted_hours=receipts[b.batch_number].accepted_hours
            if b.batch_number in receipts
            else None,
        )
        for b in batches
    ]
    return SupplyReport(
        url="s3://acme/deliveries",
        channel_id="ch-1",
        head_sequence=3,
        head_expires_at=None,
        head_fresh=True,
        status=status,
        batches=lines,
        notices=[],
        revoked_accepted_hours=net.revoked_accepted_hours,
        net_accepted_hours=net.net_accepted_hours,
        net_amount_due=net.net_amount_due,
        alerts=_alerts(status, net, lines),
    )


def test_every_page_reads_at_a_glance(browser: Any, qc_dataset: Path, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()

    # -- QC report: the rule table after the findings, success columns
    qc = write_report(qc_dataset, tmp_path / "qc-report.html", worst=2)
    pg, result, ctx = _open(browser, qc, shots)
    _check(result)
    assert result["charts"] >= 8
    order = pg.eval_on_selector_all("h2", "hs => hs.map(h => h.textContent)")
    worst = next(i for i, h in enumerate(order) if h.startswith("Worst episodes"))
    assert order.index("Rules checked") > worst, order
    headers = pg.eval_on_selector_all("th", "ts => ts.map(t => t.textContent)")
    assert headers.count("success") >= 4  # scene types, skills, operators, robots, episodes
    ctx.close()

    # -- review page of a flagged episode
    flagged = next(e for e in _flagged(qc_dataset))
    review = write_review_page(qc_dataset, flagged, tmp_path)
    pg, result, ctx = _open(browser, review, shots)
    _check(result)
    assert result["charts"] >= 1  # joint trajectories, time (s) against position (unit)
    ctx.close()

    # -- catalogue: licence terms as sentences, discounts in per cent, stock apart from capacity
    generate_key("hubei-centre", "centre")
    cat = write_catalog_html(_hand_catalog(load_signer("hubei-centre")), tmp_path / "cat.html")
    pg, result, ctx = _open(browser, cat, shots)
    _check(result)
    text = pg.inner_text("body")
    assert "You may use" in text and '{"permissions"' not in text
    assert re.search(r"\b\d+(\.\d+)? %", text), "no discount in per cent"
    legend = pg.eval_on_selector_all(".legend text", "ts => ts.map(t => t.textContent)")
    assert "stock (h)" in legend and "capacity (h/week)" in legend
    ctx.close()

    # -- supply status: a shortfall card, strong colours for short periods, one time zone
    supply = write_supply_report(_supply_report(), tmp_path / "supply.html")
    pg, result, ctx = _open(browser, supply, shots)
    _check(result)
    card = pg.query_selector(".card.alert")
    assert card is not None and "short" in card.inner_text()
    assert (
        pg.evaluate("() => getComputedStyle(document.querySelector('.card.alert')).backgroundColor")
        != "rgba(0, 0, 0, 0)"
    )
    states = pg.eval_on_selector_all(
        ".state", "ss => ss.map(s => [s.textContent, getComputedStyle(s).backgroundColor])"
    )
    colours = dict(states)
    assert {"short", "missing", "open"} <= set(colours), colours
    assert colours["short"] == "rgb(198, 40, 40)" and colours["missing"] == "rgb(183, 28, 28)"
    body = pg.inner_text("body")
    assert "(Asia/Shanghai)" in body and not re.search(r"[+-]\d\d:\d\d", body)
    ctx.close()

    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{p.stem}.png" for p in (qc, review, cat, supply)
    )


def _flagged(root: Path) -> list[str]:
    from embodex.qc.manifest import load_qc_manifest

    return [e.episode_id for e in load_qc_manifest(root).episodes if e.rules]


@pytest.fixture(scope="module")
def qc_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from embodex.demo.defects import write_defective_dataset
    from embodex.demo.synth import synth_meta
    from embodex.qc import run_qc
    from embodex.qc.manifest import write_qc

    root = tmp_path_factory.mktemp("pages") / "batch"
    meta = synth_meta(image_size=48, cameras=("head",), depth=False)
    write_defective_dataset(
        root, meta=meta, clean=4, kinds=["jitter", "nan"], seed=5, duration_s=(3, 4)
    )
    write_qc(root, run_qc(root))
    return root


def test_a_chart_with_nothing_to_draw_says_so() -> None:
    assert hbar_chart("Episodes flagged per rule", [], [], empty="no findings") == empty_chart(
        "Episodes flagged per rule", "no findings"
    )
    zeros = hbar_chart("Flagged", ["a", "b"], [("FAIL", "#c00", [0, 0])], unit="episodes")
    assert "<svg" not in zeros and "no findings" in zeros
    assert "<svg" not in histogram("Durations", [("PASS", "#0a0", [])]) and "no data" in histogram(
        "Durations", [("PASS", "#0a0", [])]
    )
    drawn = hbar_chart("Hours", ["a"], [("PASS", "#0a0", [1.0])], unit="h")
    assert 'class="axis-label"' in drawn and ">(h)<" in drawn


def test_the_layout_checks_catch_what_they_look_for(browser: Any) -> None:
    # a label drawn left of its chart (the old category labels), an axis without a unit, a
    # chart without a title, a table wider than its box, a column mixing h and s
    from embodex.reports.htmlkit import page, table

    broken = page(
        "broken",
        '<svg class="chart" width="200" height="60" viewBox="0 0 200 60">'
        '<text x="-40" y="20">a long category label</text>'
        '<text class="axis-label" x="100" y="50">hours</text></svg>'
        '<div style="width:300px">' + table(["x" * 80, "y"], [["30.5 s", "2.00 h"]]) + "</div>",
    )
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_content(broken)
    result = pg.evaluate(LAYOUT_JS)
    context.close()
    bad = "\n".join(result["bad"])
    assert "a chart without a title" in bad
    assert 'axis "hours" has no unit' in bad
    assert '"a long category label" drawn outside the chart' in bad
    assert "overflow tablewrap" in bad
    assert sorted(result["units"]) == ["h", "s"]
