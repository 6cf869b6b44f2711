"""The supply status page: one self-contained HTML file that renders in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

from embodex.delivery import channel_supply, publish, pull
from embodex.reports.supply_page import write_supply_report

from ._delivery import PROFILE, at, centre_dataset, contract
from .test_qc_report import _browser


def test_supply_page_is_self_contained_and_renders(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path, min_pass_rate="0.5")
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3, defects={2: "nan"})
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(src, 2, first=3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(12))  # no receipt yet: pending
    page = write_supply_report(channel_supply(url, terms, now=at(15)), tmp_path / "supply.html")
    text = page.read_text()
    assert page.stat().st_mode & 0o777 == 0o644  # readable by others, like the QC report
    assert "Supply status" in text and "2 accepted, 1 rejected" in text
    assert not re.search(r"""(src|href)=["']?https?:""", text)  # nothing fetched from anywhere
    dom = _browser(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("rendered") == "yes" and int(attrs["charts"]) == 3
