"""The QC report is one self-contained HTML file, and it renders in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_meta
from embodex.qc import run_qc
from embodex.qc.manifest import write_qc
from embodex.qc.review import record_review
from embodex.reports import write_review_page
from embodex.reports.qc_page import write_report

WIDTH, HEIGHT = 1280, 2400
KINDS = ["nan", "jitter", "undecodable_images", "idle_head", "missing_metadata", "dead_channel"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: apt-get install -y chromium (.ci/run does this)")


def _browser(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("report")
    root = tmp / "batch"
    meta = synth_meta(image_size=48, cameras=("head", "hand_left"), depth=True)
    _, labels = write_defective_dataset(
        root, meta=meta, clean=8, kinds=KINDS, seed=8, duration_s=(5, 7)
    )
    write_qc(root, run_qc(root))
    jitter = next(e for e, k in labels.items() if k == "jitter")
    record_review(root, jitter, verdict="reject", reason="operator_error", reviewer="rev-5")
    return root, write_report(root, tmp / "report.html", worst=4), labels


def test_report_is_self_contained(report: tuple[Path, Path, dict[str, str]]) -> None:
    _, path, labels = report
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html), "fetches something"
    assert "<link" not in html and "<script src" not in html and "@import" not in html
    assert "http://" not in html and "https://" not in html
    for section in (
        "Hours by scene type",
        "Hours by skill",
        "Episodes flagged per rule",
        "Operator scorecards",
        "Robot scorecards",
        "Episode durations",
        "Worst episodes",
    ):
        assert section in html, section
    assert "data:image/jpeg;base64," in html and "data:image/png;base64," in html  # depth
    assert "undecodable" in html  # a frame that does not decode is shown as such
    nan = next(e for e, k in labels.items() if k == "nan")
    assert html.index(nan) < html.index("All episodes")  # a FAIL is among the worst
    assert "review.operator_error" in html  # the manual reject counts as a failure reason
    assert "reviewed by people" in html


def test_report_renders_in_headless_chromium(report: tuple[Path, Path, dict[str, str]]) -> None:
    _, path, _ = report
    tmp = path.parent
    dom = _browser(tmp, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("rendered") == "yes", attrs
    assert int(attrs["images"]) >= 20
    assert attrs["images-loaded"] == attrs["images"], "some embedded frame failed to decode"
    assert int(attrs["charts"]) >= 10  # hours x2, rules, scorecards x2, histogram, joints...

    shot = tmp / "report.png"
    out = _browser(tmp, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", path.as_uri())
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    assert shot.stat().st_size > 50_000
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape == (HEIGHT, WIDTH, 3)
    assert img.std() > 20, "the screenshot is blank"
    not_white = (img < 235).any(axis=2).mean()
    assert not_white > 0.05, f"only {not_white:.1%} of the page is drawn"

    def near(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(img - np.array(rgb)).sum(axis=2) < 30).sum())

    assert near((0x2E, 0x7D, 0x32)) > 500, "no PASS bars were drawn"
    assert near((0xC6, 0x28, 0x28)) > 500, "no FAIL bars were drawn"
    assert near((0xF9, 0xA8, 0x25)) > 200, "no WARN bars were drawn"


def test_review_page_renders_in_headless_chromium(
    report: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    root, _, labels = report
    page = write_review_page(root, next(e for e, k in labels.items() if k == "idle_head"), tmp_path)
    dom = _browser(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    attrs = dict(
        re.findall(r'data-([a-z-]+)="([^"]*)"', re.search(r"<body([^>]*)>", dom.stdout)[1])
    )
    assert attrs["rendered"] == "yes" and attrs["images-loaded"] == attrs["images"] != "0"
    assert int(attrs["charts"]) >= 3 and "motion.idle_ends" in dom.stdout
