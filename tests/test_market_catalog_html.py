"""The catalogue as an HTML page (`embodex catalog show --html`): totals, charts, exact prices,
escaping of what the centre wrote, the sample pack, folder and channel, headless Chromium."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.errors import SamplePackError
from embodex.market import (
    Catalog,
    build_catalog,
    build_sample_pack,
    default_price_sheet,
    find_sample_offer,
    open_catalog_url,
    publish_catalog,
)
from embodex.market.capacity import SceneInfo
from embodex.market.listing import SceneOffer
from embodex.reports import catalog_html, write_catalog_html
from embodex.trust import Signer, generate_key, load_signer
from embodex.trust.envelope import PAYLOAD_TYPES, sign_payload
from embodex.units import duration, percent

from ._market import listing, qc_dataset
from .test_cli_format import run
from .test_qc_report import _browser

EVIL = '<script>alert("x")</script> & <img src=x onerror=1>'


@pytest.fixture
def centre() -> Signer:
    generate_key("hubei-centre", "centre")
    return load_signer("hubei-centre")


def _hand_catalog(centre: Signer) -> Catalog:
    scenes = [
        SceneOffer(
            scene=SceneInfo(scene_id="S04", scene_type="restaurant", description=EVIL),
            capacity_hours_per_week=Decimal("2"),
            stock_hours=Decimal("3.5"),
        ),
        SceneOffer(
            scene=SceneInfo(scene_id="S10", scene_type="home", description="a flat"),
            capacity_hours_per_week=Decimal("0.75"),
            stock_hours=Decimal("4"),
        ),
    ]
    li = listing(centre, scenes=scenes, capacity_available_from="2026-02-02")
    env = sign_payload(PAYLOAD_TYPES["listing"], li.payload(), centre)
    return Catalog(listing=li, envelope=env, centre=centre.identity, chains={}, source="hand")


def _text(html: str) -> str:
    """The page's visible text, tags removed (entities kept)."""
    return re.sub(r"<[^>]+>", " ", html)


def test_page_shows_totals_prices_and_escapes(centre: Signer) -> None:
    cat = _hand_catalog(centre)
    html = catalog_html(cat)
    li, totals = cat.listing, cat.listing.totals()
    o = totals["overall"]
    text = _text(html)
    # who signed it, verified first
    assert "Hubei centre" in html and centre.key_id in html and "valid until 2026-12-31" in html
    # totals match the listing: 8 episodes, 8.25 h held, 8.00 h deliverable (PASS or WARN)
    assert o["episodes"] == 8 and o["hours"] == Decimal("8.25")
    # every duration on the page in one unit (h here), with two decimals
    assert "8.25 h" in text and "8.00 h" in text and "0.081955" not in text
    for group in ("by_scene_type", "by_skill", "by_robot"):
        for name, g in totals[group].items():
            row = re.search(rf"<tr><td>{re.escape(name)}</td>(.*?)</tr>", html)
            assert row, (group, name)
            cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
            hours = (duration(g[k], "h") for k in ("hours", "PASS", "WARN", "FAIL"))
            want = [str(g["episodes"]), *hours]
            assert cells == want, (group, name, cells)
    # charts: hours and episodes by scene type and by skill, capacity per scene
    assert html.count('<svg class="chart"') == 5
    for title in ("Hours by scene type", "Episodes by skill", "weekly collection capacity"):
        assert title in html
    assert "2.75 h/week" in text and "Collection can start on 2026-02-02" in text
    # every price term, exactly as its Decimal string
    p = li.prices
    assert "500.00 CNY" in text and "30 days" in text
    for factor in ("1.15", "1.00", "1.35", "1.05", "0.90", "1.50", "1.20"):
        assert f"×{factor}" in text, factor
    for tier in p.volume_discounts:
        # discounts as percentages, not fractions
        assert f">{tier.min_hours} h<" in html and f">{percent(tier.discount)}<" in html
    assert "Non-exclusive training" in html
    # licence terms as sentences, not JSON
    assert "You may use for model training" in text and '{"permissions"' not in html
    assert li.qc_profiles[0].digest in html and "humanoid-30fps" in html
    assert "No sample pack is published" in html
    # what the centre wrote is escaped
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in html
    assert len(re.findall(r"<script>", html)) == 1  # the page's own load hook only
    # self-contained
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<link" not in html and "@import" not in html


def test_write_is_whole_and_replaces(centre: Signer, tmp_path: Path) -> None:
    cat = _hand_catalog(centre)
    out = tmp_path / "catalog.html"
    out.write_text("old page")
    assert write_catalog_html(cat, out) == out
    assert out.read_text(encoding="utf-8") == catalog_html(cat)
    assert out.stat().st_mode & 0o777 == 0o644  # readable by others, like the QC report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.html"]  # no temp file left


def test_cli_html_for_a_folder_and_a_channel(
    centre: Signer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "ds"
    qc_dataset(data, episodes=6, seed=41)
    folder = tmp_path / "catalog"
    build_catalog([data], folder, centre, prices=default_price_sheet())
    pack = build_sample_pack(data, folder / "sample", centre, per_cell=1, max_episodes=2)
    ids = [e.episode_id for e in pack.episodes]

    out = tmp_path / "folder.html"
    code, stdout, err = run(["catalog", "show", str(folder), "--html", str(out)], capsys)
    assert code == 0, err
    assert f"wrote {out}" in err and "verified" in stdout  # the tables still print
    html = out.read_text(encoding="utf-8")
    cat = open_catalog_url(folder)
    o = cat.listing.totals()["overall"]
    assert f">{o['episodes']}<" in html and f">{duration(o['hours'])}<" in html
    assert html.count("<svg") >= 5
    assert all(i in html for i in ids) and "watermark" in html.lower()
    assert f"embodex catalog provenance {folder / 'sample'}" in html

    channel = tmp_path / "channel"
    publish_catalog(folder, str(channel), centre)
    out2 = tmp_path / "channel.html"
    code, stdout, err = run(
        ["catalog", "show", str(channel), "--html", str(out2), "--json"], capsys
    )
    assert code == 0, err
    assert stdout.lstrip().startswith("{")  # --json output stays parseable
    html2 = out2.read_text(encoding="utf-8")
    assert all(i in html2 for i in ids)
    assert f"embodex catalog pull {channel}" in html2 or "embodex catalog pull file://" in html2

    # a sample chain altered on the channel is caught (the signed manifest names its sha256)
    chain = channel / "catalog" / "sample" / "provenance" / "chain.json"
    chain.write_bytes(chain.read_bytes().replace(b'"statements"', b'"statements" '))
    with pytest.raises(SamplePackError, match="altered"):
        find_sample_offer(str(channel), open_catalog_url(channel))
    out3 = tmp_path / "bad.html"
    code, _, err = run(["catalog", "show", str(channel), "--html", str(out3)], capsys)
    assert code != 0 and "altered" in err and not out3.exists()


def test_page_renders_in_headless_chromium(centre: Signer, tmp_path: Path) -> None:
    path = write_catalog_html(_hand_catalog(centre), tmp_path / "catalog.html")
    dom = _browser(tmp_path, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("rendered") == "yes" and attrs["charts"] == "5", attrs
    assert "<script>alert" not in dom.stdout  # the planted script stayed text
