"""The console with format 1.1 video cameras: the MP4 streamed with HTTP range requests, and
the <video> element following the console's clock in headless Chromium."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from embodex.console import RunningConsole, build_settings, start
from embodex.format import DatasetWriter
from embodex.format.videostore import VideoClip
from embodex.qc import run_qc
from embodex.qc.manifest import write_qc
from embodex.trust import Signer
from tests._browser import ARGS, chromium
from tests.test_format_video import _episode, _meta, _pictures, _record


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConsole]:
    tmp = tmp_path_factory.mktemp("console-video")
    source = _record(tmp / "head.mp4", 60)
    with DatasetWriter(tmp / "ds", _meta()) as w:
        w.add_episode(_episode("e0", 60, VideoClip(source)))
        w.add_episode(_episode("e1", 20, _pictures(20, seed=3), t0=5_000_000_000))
    write_qc(tmp / "ds", run_qc(tmp / "ds"))
    running = start(build_settings(tmp / "ds", Signer.ephemeral("rev-007", "reviewer")))
    yield running
    running.stop()


def _get(console: RunningConsole, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(console.base.rsplit(":", 1)[1]), timeout=30)
    conn.request("GET", path, headers={"X-Embodex-Token": console.token, **headers})
    res = conn.getresponse()
    out = res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    conn.close()
    return out


def test_a_video_camera_is_streamed_with_range_requests(console: RunningConsole) -> None:
    ep = json.loads(_get(console, "/api/episodes/e0")[2])
    assert {c["name"]: c["source"] for c in ep["cameras"]} == {"head": "video", "wrist": "frames"}
    status, headers, whole = _get(console, "/api/episodes/e0/cameras/head/video")
    assert status == 200 and headers["content-type"] == "video/mp4"
    assert headers["accept-ranges"] == "bytes"
    status, headers, part = _get(
        console, "/api/episodes/e0/cameras/head/video", Range="bytes=100-199"
    )
    assert status == 206 and part == whole[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(whole)}"
    status, _, _ = _get(console, "/api/episodes/e0/cameras/head/video", Range="bytes=999999-")
    assert status == 416
    # a video camera has no frames to hand out one by one, a frame camera no video
    assert _get(console, "/api/episodes/e0/cameras/head/frames/0")[0] == 404
    assert _get(console, "/api/episodes/e0/cameras/wrist/video")[0] == 404


def test_the_video_element_follows_playback(console: RunningConsole) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
        try:
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(console.url + "#/episode/e0")
            page.wait_for_function(  # the element exists once the episode has loaded
                "document.querySelector('video') && document.querySelector('video').readyState >= 2"
            )
            page.keyboard.press(" ")
            page.wait_for_function("document.querySelector('video').currentTime > 0.3")
            page.keyboard.press(" ")
            page.keyboard.press("Home")
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("document.querySelector('#player').dataset.frame === '3'")
            t: Any = page.evaluate("document.querySelector('video').currentTime")
            assert 3 / 30 <= t < 4 / 30  # inside frame 3
        finally:
            browser.close()
