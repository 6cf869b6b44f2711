"""The review console in a real browser: Debian's Chromium in headless mode, driven by
Playwright (pointed at the system's executable; no browser is downloaded). Load the queue,
play an episode, click a finding, decide with the keyboard, check the signed log."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodex.console import RunningConsole, build_settings, start
from embodex.qc.manifest import load_qc_manifest
from embodex.qc.review import review_queue
from embodex.trust import Signer, check_review_log
from tests._browser import launch
from tests.qc_helpers import Batch

ROOT = Path(__file__).resolve().parents[1]
REVIEWER = Signer.ephemeral("rev-007", "reviewer")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    from embodex.demo.defects import write_defective_dataset
    from embodex.demo.synth import synth_meta
    from embodex.qc import run_qc
    from embodex.qc.manifest import write_qc

    root = tmp_path_factory.mktemp("console-browser") / "batch"
    meta = synth_meta(image_size=96, cameras=("head", "hand_left"), depth=True)
    _, labels = write_defective_dataset(
        root, meta=meta, clean=6, kinds=["acceleration_spike", "jitter"], seed=7, duration_s=(4, 5)
    )
    write_qc(root, run_qc(root))
    return root, labels


@pytest.fixture(scope="module")
def console(dataset: Batch) -> Iterator[RunningConsole]:
    running = start(build_settings(dataset[0], REVIEWER))
    yield running
    running.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # Playwright's waits evaluate strings, which the console's CSP (script-src 'self')
    # forbids; the CSP itself is checked in tests/test_console.py
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == []


def _frame(pg: Any) -> int:
    return int(pg.get_attribute("#player", "data-frame"))


def test_play_seek_and_decide_with_the_keyboard(
    console: RunningConsole, dataset: Batch, page: Any, tmp_path: Path
) -> None:
    root, labels = dataset
    pg = page
    pg.goto(console.url)
    pg.wait_for_selector("#queue tbody tr")
    rows = pg.eval_on_selector_all("#queue tbody tr", "rs => rs.map(r => r.dataset.episode)")
    assert rows == [q.episode_id for q in review_queue(root)]
    spike = next(e for e, k in labels.items() if k == "acceleration_spike")
    assert spike in rows  # a WARN: first in the queue
    pg.keyboard.press("j")
    pg.keyboard.press("k")
    index = rows.index(spike)
    for _ in range(index):
        pg.keyboard.press("j")
    pg.keyboard.press("Enter")
    pg.wait_for_function("(document.body.dataset.firstFrame || '') !== ''")
    assert _frame(pg) == 0
    assert pg.locator("#player img").count() == 3  # every camera, depth included

    # play: the frame shown advances, in step on every camera
    pg.keyboard.press(" ")
    pg.wait_for_function("Number(document.querySelector('#player').dataset.frame) >= 10")
    pg.keyboard.press(" ")
    # paused, every camera shows the same frame
    pg.wait_for_function(
        "new Set([...document.querySelectorAll('#player img')].map(i => i.dataset.frame)).size"
        " === 1"
    )
    assert _frame(pg) >= 10

    # click the finding on the timeline: playback seeks to its first frame
    finding = pg.locator(".span.finding:not(.whole)").first
    start_frame = int(finding.get_attribute("data-start"))
    assert start_frame > 0
    finding.click()
    pg.wait_for_function(f"document.querySelector('#player').dataset.frame === '{start_frame}'")
    assert pg.input_value("#scrub") == str(start_frame)
    pg.screenshot(path=str(tmp_path / "episode-view.png"))
    if os.environ.get("EMBODEX_DOCS_SCREENSHOT"):  # refresh the README's picture
        pg.screenshot(path=str(ROOT / "docs" / "console-episode.png"))

    # accept (a): recorded, signed, and the console moves on to the next episode
    pg.keyboard.press("c")
    pg.keyboard.type("spike is a glitch of the gripper cable, motion fine")
    pg.keyboard.press("Escape")
    pg.keyboard.press("a")
    pg.wait_for_function("document.body.dataset.decisions === '1'")
    nxt = rows[index + 1]
    pg.wait_for_function(
        "document.querySelector('#ep-title').textContent.startsWith(" + repr(nxt) + ")"
    )
    # reject (r, then 4: the fourth reject reason)
    pg.wait_for_function("(document.body.dataset.firstFrame || '') !== ''")
    pg.keyboard.press("r")
    reasons = pg.eval_on_selector_all("#reasons button", "bs => bs.map(b => b.dataset.reason)")
    pg.keyboard.press("4")
    pg.wait_for_function("document.body.dataset.decisions === '2'")
    # p goes back, n forward again, f flags for a second look
    third = rows[index + 2]

    def on(eid: str) -> None:
        pg.wait_for_function(
            "id => document.querySelector('#ep-title').textContent.startsWith(id)"
            " && (document.body.dataset.firstFrame || '') !== ''",
            arg=eid,
        )

    on(third)
    pg.keyboard.press("p")
    on(nxt)
    pg.keyboard.press("n")
    on(third)
    pg.keyboard.press("f")
    pg.wait_for_function("document.body.dataset.decisions === '3'")

    checked = check_review_log(root, [REVIEWER.identity])
    assert [(c.entry.episode_id, c.entry.verdict, c.entry.reason) for c in checked] == [
        (spike, "accept", "warning_acceptable"),
        (nxt, "reject", reasons[3]),
        (third, "flag", "second_look"),
    ]
    assert all(c.status == "signed" and c.signer == REVIEWER.identity for c in checked)
    assert checked[0].entry.note == "spike is a glitch of the gripper cable, motion fine"
    manifest = load_qc_manifest(root)
    assert manifest.episode(spike).verdict == "PASS"
    assert manifest.episode(nxt).verdict == "FAIL"
    assert manifest.episode(third).review is None  # a flag decides nothing


def test_without_the_token_the_browser_gets_nothing(console: RunningConsole, page: Any) -> None:
    res = page.goto(console.base + "/")
    assert res is not None and res.status == 403
    assert "access token" in page.content()
    assert page.locator("#queue").count() == 0
    res = page.goto(console.base + "/static/..%2F..%2Fapp.py?token=" + console.token)
    assert res is not None and res.status == 404


def test_the_qc_report_renders_under_its_policy(console: RunningConsole, browser: Any) -> None:
    """Served by the console, under its Content-Security-Policy (not bypassed here), the QC
    report's own script still runs and its embedded frames still load; the console's app
    shell runs too."""
    context = browser.new_context()
    try:
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda m: m.type == "error" and errors.append(m.text))
        pg.goto(console.base + "/pages/qc?token=" + console.token)
        pg.wait_for_selector("body[data-rendered=yes]")
        assert pg.get_attribute("body", "data-images-loaded") == pg.get_attribute(
            "body", "data-images"
        )
        pg.click("nav a >> text=Review queue")
        pg.wait_for_selector("#queue tbody tr")
        assert errors == []
    finally:
        context.close()
