"""The review console, timed in headless Chromium against baselines measured in the same run.

* **first frame**: from opening an episode in the console (the view asks for the episode,
  builds the player, fetches frame 0 of every camera) until every camera shows a frame,
  against writing the static review page ``embodex review next`` writes for the same
  episode and loading it in the same browser (what a reviewer waited for before there was
  a console);
* **decisions per minute**: a scripted keyboard user goes through every episode of the
  dataset (waits for the first frame, presses ``a``, or ``r`` ``1`` for an automatic FAIL;
  each decision signed and appended to the log), against typing ``embodex review set`` once
  per decision (a new process each time, as in a terminal) and against calling
  ``record_signed_review`` in a loop (the floor: the signed, fsynced, locked append and the
  manifest rewrite every decision costs).

Usage: python benchmarks/console.py [--episodes 200] [--first-frames 20] [--cli 8]
(Chromium: /usr/bin/chromium or chromium on PATH; the dataset is written under .bench/.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from embodex.console import build_settings, start
from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_meta
from embodex.qc import run_qc
from embodex.qc.manifest import load_qc_manifest, write_qc
from embodex.qc.review import list_reviews
from embodex.reports import write_review_page
from embodex.trust import generate_key, load_signer, record_signed_review

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KINDS = ["jitter", "acceleration_spike", "missing_instruction", "nan", "idle_head", "tremor"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("benchmarks/console.py needs Chromium (apt-get install chromium)")


def dataset(root: Path, episodes: int) -> None:
    clean = max(episodes - len(KINDS), 1)
    meta = synth_meta(cameras=("head", "hand_left", "hand_right"), depth=True)
    t = time.perf_counter()
    write_defective_dataset(root, meta=meta, clean=clean, kinds=KINDS, seed=11, duration_s=(6, 12))
    write_qc(root, run_qc(root))
    print(f"dataset: {clean + len(KINDS)} episodes, 4 cameras, in {time.perf_counter() - t:.0f} s")


def first_frames(page: Any, url: str, ids: list[str]) -> list[float]:
    """Open each episode by its address; the console reports when frame 0 is on screen."""
    out = []
    page.goto(url)
    page.wait_for_selector("#queue tbody tr")
    for eid in ids:
        page.evaluate("id => { location.hash = '#/episode/' + encodeURIComponent(id); }", eid)
        page.wait_for_function(
            "id => document.querySelector('#ep-title').textContent.startsWith(id)"
            " && (document.body.dataset.firstFrame || '') !== ''",
            arg=eid,
        )
        out.append(float(page.evaluate("document.body.dataset.firstFrame")))
    return out


def keyboard_user(page: Any, url: str, auto: dict[str, str]) -> tuple[int, float]:
    """Every episode of the dataset with the keyboard alone; returns decisions and seconds."""
    page.goto(url)
    page.wait_for_selector("#queue tbody tr")
    page.select_option("select[name=scope]", "all")
    page.wait_for_function(f"document.querySelectorAll('#queue tbody tr').length === {len(auto)}")
    start_t = time.perf_counter()
    page.keyboard.press("Enter")
    done = 0
    seen: set[str] = set()
    for _ in range(len(auto)):
        page.wait_for_function(
            "(document.body.dataset.firstFrame || '') !== '' && window.embodexConsole.state.ep"
        )
        eid = page.evaluate("window.embodexConsole.state.ep.episode_id")
        assert eid not in seen, f"{eid} came twice"
        seen.add(eid)
        if auto[eid] == "FAIL":
            page.keyboard.press("r")
            page.keyboard.press("1")
        else:
            page.keyboard.press("a")
        done += 1
        page.wait_for_function(f"document.body.dataset.decisions === '{done}'")
    return done, time.perf_counter() - start_t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--first-frames", type=int, default=20, help="episodes opened for timing")
    ap.add_argument("--cli", type=int, default=8, help="decisions typed with `review set`")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    (ROOT / ".bench").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="console-", dir=ROOT / ".bench"))
    os.environ["EMBODEX_HOME"] = str(work / "home")
    try:
        root = work / "ds"
        dataset(root, args.episodes)
        fresh = work / "ds-cli"  # for the baselines, before any decision
        shutil.copytree(root, fresh)
        manifest = load_qc_manifest(root)
        auto = {e.episode_id: e.auto_verdict for e in manifest.episodes}
        ids = list(auto)[: args.first_frames]

        generate_key("rev-bench", "reviewer")
        signer = load_signer("rev-bench")
        running = start(build_settings(root, signer))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
                ctx = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
                page = ctx.new_page()
                first_frames(page, running.url, ids[:2])  # warm the browser's caches
                ff = first_frames(page, running.url, ids)
                # baseline 1: the static review page, written and opened in the same browser
                page_s = []
                for eid in ids:
                    t = time.perf_counter()
                    path = write_review_page(root, eid, work / "pages")
                    page.goto(path.as_uri(), wait_until="load")  # its frames are inline
                    page_s.append(time.perf_counter() - t)
                decisions, seconds = keyboard_user(page, running.url, auto)
                browser.close()
            logged = [e.episode_id for e in list_reviews(root)]
            assert sorted(logged) == sorted(auto), "every episode decided exactly once"
        finally:
            running.stop()

        # baseline 2: `embodex review set` once per decision, a process each time
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT / 'cli'}")
        cli_ids = [e for e, v in auto.items() if v != "FAIL"][: args.cli]
        t = time.perf_counter()
        for eid in cli_ids:
            subprocess.run(
                [sys.executable, "-c", "from embodex_cli.main import main; main()", "review",
                 "set", str(fresh), eid, "--verdict", "accept", "--reason", "other",
                 "--note", "bench", "--key", "rev-bench"],
                check=True, env=env, capture_output=True,
            )  # fmt: skip
        cli_s = (time.perf_counter() - t) / len(cli_ids)

        # the floor: the SDK call alone
        floor_ids = [e for e, v in auto.items() if v != "FAIL"][args.cli : args.cli + 40]
        t = time.perf_counter()
        for eid in floor_ids:
            record_signed_review(fresh, eid, verdict="accept", reason="meets_spec", signer=signer)
        sdk_s = (time.perf_counter() - t) / max(len(floor_ids), 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med_ff = statistics.median(ff) / 1000
    med_page = statistics.median(page_s)
    rate = 60 * decisions / seconds
    print(f"first frame shown   {1000 * med_ff:7.1f} ms median, {max(ff):.0f} ms max "
          f"({len(ff)} episodes)")  # fmt: skip
    print(f"review page shown   {1000 * med_page:7.1f} ms median (written, then loaded)  -> "
          f"console / page = {med_ff / med_page:.2f} (below 1: the console is sooner)")  # fmt: skip
    print(
        f"keyboard user       {rate:7.1f} decisions/min ({decisions} in {seconds:.1f} s, "
        "each signed; the user waits for the first frame of every episode)"
    )
    print(
        f"`review set` typed  {60 / cli_s:7.1f} decisions/min (process per decision) "
        f"-> console {rate * cli_s / 60:.1f}x"
    )
    print(f"SDK floor           {60 / sdk_s:7.1f} decisions/min (record_signed_review alone)")


if __name__ == "__main__":
    main()
