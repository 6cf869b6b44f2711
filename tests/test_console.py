"""The review console over HTTP (a real uvicorn server on a free port): the access token,
traversal, the queue and its filters, episodes and frames, signed decisions from several
reviewers at once, and the command line. The browser itself: tests/test_console_browser.py."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from PIL import Image

from embodex.console import RunningConsole, build_settings, exposure_warning, start
from embodex.console.data import ConsoleData
from embodex.errors import ConsoleError, ReviewError, SignatureError, TrustError
from embodex.format import open_dataset
from embodex.qc.manifest import load_qc_manifest
from embodex.qc.review import record_review, review_queue
from embodex.qc.reviewlog import LOG_FILE, read_log
from embodex.trust import Signer, check_review_log, verify_review
from tests.qc_helpers import Batch, private_copy

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["jitter", "missing_instruction", "nan", "jump"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    from embodex.demo.defects import strip_calibration, write_defective_dataset
    from embodex.demo.synth import synth_meta
    from embodex.qc import run_qc
    from embodex.qc.manifest import write_qc

    root = tmp_path_factory.mktemp("console") / "batch"
    # no calibration for the depth camera: a dataset note, said once, never a verdict
    meta = strip_calibration(
        synth_meta(image_size=32, cameras=("head",), depth=True), ["head_depth"]
    )
    _, labels = write_defective_dataset(
        root, meta=meta, clean=14, kinds=KINDS, seed=5, duration_s=(3, 4)
    )
    write_qc(root, run_qc(root))
    return root, labels


@pytest.fixture
def batch(source: Batch, tmp_path: Path) -> Batch:
    return private_copy(source, tmp_path)


REVIEWER = Signer.ephemeral("rev-007", "reviewer")
SECOND = Signer.ephemeral("rev-012", "reviewer")


@pytest.fixture
def console(batch: Batch) -> Iterator[RunningConsole]:
    running = start(build_settings(batch[0], REVIEWER))
    yield running
    running.stop()


def _kind(labels: dict[str, str], kind: str) -> str:
    return next(e for e, k in labels.items() if k == kind)


def request(
    console: RunningConsole,
    path: str,
    *,
    method: str = "GET",
    token: str | None = "header",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request (the path is sent exactly as given, nothing normalised)."""
    parts = urlsplit(console.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    hdrs = dict(headers or {})
    if token == "header":
        hdrs["X-Embodex-Token"] = console.token
    elif token == "query":
        path += ("&" if "?" in path else "?") + "token=" + quote(console.token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    res = conn.getresponse()
    out = res.read()
    conn.close()
    return res.status, {k.lower(): v for k, v in res.getheaders()}, out


def decide(console: RunningConsole, eid: str, **body: Any) -> tuple[int, dict[str, Any]]:
    status, _, data = request(
        console, f"/api/episodes/{quote(eid, safe='')}/decision", method="POST", body=body
    )
    return status, json.loads(data)


# -- the access token ----------------------------------------------------------------------


def test_every_request_needs_the_token(console: RunningConsole) -> None:
    for path in ("/", "/api/queue", "/static/console.js", "/pages/qc", "/api/session"):
        status, _, body = request(console, path, token=None)
        assert status == 403, path
        assert b"access token" in body
    status, _, _ = request(console, "/api/queue", token=None, headers={"X-Embodex-Token": "x"})
    assert status == 403
    status, _, _ = request(console, "/api/queue?token=wrong", token=None)
    assert status == 403
    # the URL printed at start opens the app; the page carries the token for its requests
    status, headers, body = request(console, "/", token="query")
    assert status == 200
    assert console.token.encode() in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in headers


def test_a_state_changing_request_needs_the_header(console: RunningConsole, batch: Batch) -> None:
    root, labels = batch
    eid = _kind(labels, "jitter")
    path = f"/api/episodes/{quote(eid, safe='')}/decision"
    body = {"verdict": "accept", "reason": "warning_acceptable"}
    # the token in the query (as a link could carry it) or a cookie is not enough to write
    status, _, text = request(console, path, method="POST", token="query", body=body)
    assert status == 403 and b"X-Embodex-Token header" in text
    cookie = {"Cookie": f"token={console.token}"}
    status, _, _ = request(console, path, method="POST", token=None, body=body, headers=cookie)
    assert status == 403
    assert not (root / LOG_FILE).exists()  # nothing was recorded
    assert decide(console, eid, **body)[0] == 200


def test_paths_never_leave_the_dataset(console: RunningConsole, batch: Batch) -> None:
    root, labels = batch
    eid = quote(_kind(labels, "jitter"), safe="")
    secret = root.parent / "secret.txt"
    secret.write_text("not for the browser")
    for path in (
        "/static/../../../../etc/passwd",
        "/static/..%2F..%2Fapp.py",
        "/static/%2e%2e%2fdata.py",
        "/static/index.html%00.js",
        "/api/episodes/..%2F..%2Fsecret.txt",
        "/api/episodes/..%2Fsecret.txt/cameras/head/frames/0",
        f"/api/episodes/{eid}/cameras/..%2F..%2Fsecret.txt/frames/0",
        f"/api/episodes/{eid}/cameras/head/video",
        "/pages/..%2F..%2Fsecret.txt",
        "/pages/%2Fetc%2Fpasswd",
    ):
        status, _, body = request(console, path)
        assert status == 404, (path, status)
        assert b"not for the browser" not in body and b"root:" not in body


# -- the queue and the episode view --------------------------------------------------------


def test_the_queue_is_the_sampling_plan_and_filters(console: RunningConsole, batch: Batch) -> None:
    root, labels = batch
    status, _, body = request(console, "/api/queue")
    assert status == 200
    q = json.loads(body)
    assert [r["episode_id"] for r in q["rows"]] == [i.episode_id for i in review_queue(root)]
    assert q["rows"][0]["why"] == "warn"
    fail = _kind(labels, "nan")
    assert fail not in {r["episode_id"] for r in q["rows"]}  # FAILs are labelled, not queued
    # every episode, then filtered by rule, skill and verdict
    everything = json.loads(request(console, "/api/queue?scope=all")[2])
    assert len(everything["rows"]) == len(open_dataset(root)) == everything["total"]
    by_rule = json.loads(request(console, "/api/queue?scope=all&rule=numeric.finite")[2])
    assert [r["episode_id"] for r in by_rule["rows"]] == [fail]
    skill = q["rows"][0]["skill"]
    by_skill = json.loads(request(console, f"/api/queue?skill={skill}")[2])["rows"]
    assert by_skill and all(r["skill"] == skill for r in by_skill)
    warns = json.loads(request(console, "/api/queue?verdict=WARN")[2])["rows"]
    assert {r["episode_id"] for r in warns} == {
        i.episode_id for i in review_queue(root) if i.why == "warn"
    }
    op = q["rows"][-1]["operator_id"]
    assert all(
        r["operator_id"] == op
        for r in json.loads(request(console, f"/api/queue?operator={op}")[2])["rows"]
    )
    assert set(q["filters"]) == {"scene_type", "skill", "operator", "robot", "verdict", "rule"}
    notes = [n.model_dump(mode="json") for n in load_qc_manifest(root).notes]
    assert q["notes"] == notes and "head_depth" in notes[0]["message"]
    assert "numeric.finite" in q["filters"]["rule"]


def test_episode_view_data_and_frames(console: RunningConsole, batch: Batch) -> None:
    root, labels = batch
    eid = _kind(labels, "jump")
    status, _, body = request(console, f"/api/episodes/{quote(eid, safe='')}")
    assert status == 200
    ep = json.loads(body)
    view = open_dataset(root).episode(eid)
    assert ep["frame_count"] == view.frame_count == len(ep["time_s"])
    assert [s["skill"] for s in ep["segments"]] == [s.skill for s in view.meta.segments]
    jump = next(f for f in ep["findings"] if f["rule"] == "numeric.jump")
    assert 0 <= jump["frame_start"] < jump["frame_end"] <= view.frame_count
    assert ep["meta"]["instruction_en"] == view.meta.instruction_en
    assert {c["name"]: c["source"] for c in ep["cameras"]} == {
        "head": "frames",
        "head_depth": "frames",
    }
    names = [n for p in ep["plots"] for n in p["names"]]
    assert len(names) == view.feature("state").shape[1]
    # the plotted values are the stored ones
    plot = ep["plots"][0]
    j = list(open_dataset(root).meta.features["state"].names or []).index(plot["names"][0])
    assert plot["series"][0][:5] == pytest.approx(view.feature("state")[:5, j], abs=1e-4)
    # a colour frame is served as stored; a depth frame as an 8-bit PNG a browser can show
    status, headers, jpeg = request(console, f"/api/episodes/{quote(eid)}/cameras/head/frames/3")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert jpeg == view.images("head").encoded(3)
    status, headers, png = request(
        console, f"/api/episodes/{quote(eid)}/cameras/head_depth/frames/3", token="query"
    )
    assert status == 200 and headers["content-type"] == "image/png"
    depth = np.asarray(Image.open(io.BytesIO(png)))
    assert depth.dtype == np.uint8 and depth.max() > 200
    n = view.frame_count
    for bad in (f"head/frames/{n}", "nope/frames/0"):
        assert request(console, f"/api/episodes/{quote(eid)}/cameras/{bad}")[0] == 404


def test_the_pages_are_served_with_links(console: RunningConsole) -> None:
    status, headers, body = request(console, "/pages/qc", token="query")
    assert status == 200
    html = body.decode()
    assert "embodex console" in html and f"/?token={quote(console.token)}" in html
    assert "QC report" in html
    assert "connect-src" not in headers["content-security-policy"]  # default-src 'none'
    assert request(console, "/pages/catalog")[0] == 404  # not configured for this console
    session = json.loads(request(console, "/api/session")[2])
    assert [p["id"] for p in session["pages"]] == ["qc"]
    assert session["reviewer"] == "rev-007" and session["key_id"] == REVIEWER.key_id


# -- decisions -----------------------------------------------------------------------------


def test_decisions_are_signed_and_change_the_verdicts(
    console: RunningConsole, batch: Batch
) -> None:
    root, labels = batch
    warn = _kind(labels, "jitter")
    status, out = decide(console, warn, verdict="accept", reason="warning_acceptable")
    assert status == 200, out
    assert out["verdict"] == "PASS"
    assert out["entry"]["signature"]["keyid"] == REVIEWER.key_id
    other = _kind(labels, "missing_instruction")
    status, out = decide(console, other, verdict="flag", reason="second_look", note="look again")
    assert status == 200 and out["verdict"] == "WARN"  # a flag decides nothing
    q = json.loads(request(console, "/api/queue?verdict=flagged")[2])["rows"]
    assert [r["episode_id"] for r in q] == [other]  # and the episode stays in the queue
    status, out = decide(console, other, verdict="reject", reason="label_error")
    assert status == 200 and out["verdict"] == "FAIL"
    # an automatic FAIL cannot be accepted; a bad reason is refused; nothing logged for them
    status, out = decide(console, _kind(labels, "nan"), verdict="accept", reason="meets_spec")
    assert status == 400 and "cannot accept" in out["error"]
    status, out = decide(console, warn, verdict="reject", reason="meets_spec")
    assert status == 400 and "does not go with reject" in out["error"]
    checked = check_review_log(root, [REVIEWER.identity])
    assert [(c.entry.verdict, c.status, c.signer) for c in checked] == [
        ("accept", "signed", REVIEWER.identity),
        ("flag", "signed", REVIEWER.identity),
        ("reject", "signed", REVIEWER.identity),
    ]
    manifest = load_qc_manifest(root)
    assert manifest.episode(warn).verdict == "PASS"
    assert manifest.episode(other).review is not None
    assert manifest.episode(other).review.reason == "label_error"  # type: ignore[union-attr]
    ep = json.loads(request(console, f"/api/episodes/{quote(other, safe='')}")[2])
    assert [(h["verdict"], h["signed"], h["signer"]) for h in ep["history"]] == [
        ("flag", "signed", "rev-007"),
        ("reject", "signed", "rev-007"),
    ]


def test_a_decision_on_changed_data_is_refused(console: RunningConsole, batch: Batch) -> None:
    from embodex.demo.synth import synth_dataset

    root, labels = batch
    meta = open_dataset(root).meta
    synth_dataset(root, 1, seed=99, meta=meta, append=True, duration_s=(3, 3), first_index=900)
    status, out = decide(console, _kind(labels, "jitter"), verdict="reject", reason="other")
    # the SDK's advice (the console is not the CLI): run QC again
    assert status == 409 and "run_qc(dataset)" in out["hint"]


def test_several_reviewers_at_once_lose_and_duplicate_nothing(batch: Batch) -> None:
    """Two consoles (two reviewers, two keys) and the CLI's code path, all writing the same
    log at once: every decision lands exactly once, in one unbroken chain."""
    root, _ = batch
    ids = [e.episode_id for e in load_qc_manifest(root).episodes]
    ids = [e for e in ids if load_qc_manifest(root).episode(e).auto_verdict != "FAIL"]
    consoles = [start(build_settings(root, REVIEWER)), start(build_settings(root, SECOND))]
    results: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        con = consoles[k % 2]
        for eid in ids[k::6]:
            status, _ = decide(con, eid, verdict="reject", reason="operator_error", note=str(k))
            with lock:
                results.append((eid, status))

    def cli_path() -> None:  # what `review set` does, unsigned, at the same time
        for eid in ids[:4]:
            record_review(root, eid, verdict="accept", reason="other", reviewer="cli", note="x")

    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        threads.append(threading.Thread(target=cli_path))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for con in consoles:
            con.stop()
    assert sorted(results) == sorted((e, 200) for e in ids)
    log = read_log(root, expect=load_qc_manifest(root).review_log)
    assert [e.seq for e in log] == list(range(1, len(ids) + 5))
    web = [e for e in log if e.reviewer != "cli"]
    assert sorted(e.episode_id for e in web) == sorted(ids)  # each exactly once
    checked = check_review_log(root, [REVIEWER.identity, SECOND.identity])
    signers = {c.entry.episode_id: c.signer for c in checked if c.entry.reviewer != "cli"}
    for k in range(6):
        expected = (REVIEWER if k % 2 == 0 else SECOND).identity
        assert all(signers[eid] == expected for eid in ids[k::6])
    assert [c.status for c in checked if c.entry.reviewer == "cli"] == ["unsigned"] * 4
    head = load_qc_manifest(root).review_log
    assert head is not None and head.entries == len(ids) + 4


def test_a_signature_binds_every_field(batch: Batch) -> None:
    from embodex.trust import record_signed_review

    root, labels = batch
    entry, _ = record_signed_review(
        root, _kind(labels, "jitter"), verdict="reject", reason="unsafe_motion", signer=REVIEWER
    )
    assert verify_review(entry, [REVIEWER.identity]) == REVIEWER.identity
    assert verify_review(entry, [SECOND.identity]) is None  # signed by a key not trusted here
    for change in ({"verdict": "accept"}, {"seq": 7}, {"note": "fine"}, {"reviewer": "rev-012"}):
        with pytest.raises(SignatureError, match="does not verify"):
            verify_review(entry.model_copy(update=change), [REVIEWER.identity])
    buyer = Signer.ephemeral("acme", "buyer")
    with pytest.raises(TrustError, match="buyer key"):
        record_signed_review(root, _kind(labels, "jitter"), verdict="flag", reason="second_look",
                             signer=buyer)  # fmt: skip
    with pytest.raises(ReviewError, match="does not go with flag"):
        record_signed_review(root, _kind(labels, "jitter"), verdict="flag", reason="other",
                             signer=REVIEWER)  # fmt: skip


def test_console_data_refuses_a_dataset_without_qc(tmp_path: Path) -> None:
    from embodex.demo.synth import synth_dataset
    from embodex.errors import QCManifestError

    synth_dataset(tmp_path / "ds", 1, duration_s=(2, 2))
    with pytest.raises(QCManifestError):
        ConsoleData(tmp_path / "ds")


# -- the command line ----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT / 'cli'}"
    return env


def test_embodex_help_does_not_load_the_web_stack() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from embodex_cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert 'console' in r.output, r.output\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'playwright')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    assert out.stdout.strip() == ""


def test_the_command_serves_until_stopped_and_warns_off_loopback(
    batch: Batch, tmp_path: Path
) -> None:
    from embodex.trust import generate_key

    root, _ = batch
    generate_key("rev-cli", "reviewer")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from embodex_cli.main import main; main()", "console",
         str(root), "--key", "rev-cli", "--port", "0", "--host", "0.0.0.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        url = lines[1].split("open: ", 1)[1].strip()
        assert "?token=" in url
        parts = urlsplit(url)
        conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
        conn.request("GET", "/api/session?" + parts.query)
        res = conn.getresponse()
        assert res.status == 200
        assert json.loads(res.read())["reviewer"] == "rev-cli"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "warning: the console listens on 0.0.0.0" in err


def test_exposure_warning_only_off_loopback() -> None:
    assert exposure_warning("127.0.0.1") is None
    assert exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    assert "0.0.0.0" in (exposure_warning("0.0.0.0") or "")
    assert exposure_warning("reviews.example.org") is not None


def test_a_taken_port_is_a_clear_error(batch: Batch) -> None:
    first = start(build_settings(batch[0], REVIEWER))
    try:
        port = urlsplit(first.base).port or 0
        with pytest.raises(ConsoleError, match="cannot listen"):
            start(build_settings(batch[0], REVIEWER), port=port)
    finally:
        first.stop()


def test_review_set_signs_with_a_key_and_flags(batch: Batch) -> None:
    from click.testing import CliRunner

    from embodex.trust import generate_key, load_identity
    from embodex_cli.main import cli

    root, labels = batch
    generate_key("rev-cli", "reviewer")
    eid = _kind(labels, "jitter")
    runner = CliRunner()
    base = ["review", "set", str(root), eid]
    flagged = runner.invoke(
        cli, [*base, "--verdict", "flag", "--reason", "second_look", "--key", "rev-cli"]
    )
    assert flagged.exit_code == 0, flagged.output
    assert "signed ed25519:" in flagged.output and "WARN -> WARN" in flagged.output
    rejected = runner.invoke(
        cli,
        [*base, "--verdict", "reject", "--reason", "sensor_fault", "--key", "rev-cli", "--json"],
    )
    assert rejected.exit_code == 0, rejected.output
    assert json.loads(rejected.output)["verdict"] == "FAIL"
    both = runner.invoke(
        cli, [*base, "--verdict", "accept", "--reason", "meets_spec", "--key", "rev-cli",
              "--reviewer", "x"],
    )  # fmt: skip
    neither = runner.invoke(cli, [*base, "--verdict", "accept", "--reason", "meets_spec"])
    assert both.exit_code == neither.exit_code == 2
    assert "--key NAME (signed) or --reviewer ID" in neither.output
    checked = check_review_log(root, [load_identity("rev-cli")])
    assert [(c.entry.verdict, c.entry.reviewer, c.status) for c in checked] == [
        ("flag", "rev-cli", "signed"),
        ("reject", "rev-cli", "signed"),
    ]


def test_catalogue_and_supply_pages_link_to_each_other(tmp_path: Path) -> None:
    from embodex.delivery import publish
    from embodex.market import build_catalog, default_price_sheet
    from embodex.qc import run_qc
    from embodex.qc.manifest import write_qc
    from tests._delivery import PROFILE, at, centre_dataset, contract

    terms, centre, _ = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    write_qc(src, run_qc(src, PROFILE))
    build_catalog([src], tmp_path / "catalog", centre, prices=default_price_sheet())
    settings = build_settings(
        src,
        REVIEWER,
        catalog=str(tmp_path / "catalog"),
        channel=url,
        contract=terms,
        supply_at=at(8),
    )
    running = start(settings)
    try:
        session = json.loads(request(running, "/api/session")[2])
        assert [p["id"] for p in session["pages"]] == ["qc", "catalog", "supply"]
        token = quote(running.token)
        for name, text in (("catalog", "Catalogue"), ("supply", "Supply status")):
            status, _, body = request(running, f"/pages/{name}", token="query")
            assert status == 200, body[:300]
            html = body.decode()
            assert text in html
            others = {"qc", "catalog", "supply"} - {name}
            for other in others:
                assert f'href="/pages/{other}?token={token}"' in html
            assert f'href="/?token={token}"' in html  # back to the queue
    finally:
        running.stop()
    with pytest.raises(ConsoleError, match="both `channel=` and `contract=`"):
        build_settings(src, REVIEWER, channel=url)


def test_without_the_web_extra_the_command_says_what_to_install(batch: Batch) -> None:
    from embodex.trust import generate_key

    generate_key("rev-cli", "reviewer")
    code = (
        "import sys\n"
        "sys.modules['uvicorn'] = None  # as if embodex[console] were not installed\n"
        "from embodex_cli.main import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "console", str(batch[0]), "--key", "rev-cli", "--port", "0"],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert "pip install 'embodex[console]'" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_tampered_log_is_shown_not_served_around(console: RunningConsole, batch: Batch) -> None:
    root, labels = batch
    assert decide(console, _kind(labels, "jitter"), verdict="reject", reason="privacy")[0] == 200
    assert decide(console, _kind(labels, "jump"), verdict="reject", reason="privacy")[0] == 200
    log = root / LOG_FILE
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0].replace(b"privacy", b"other") + lines[1])
    for path in ("/api/queue", f"/api/episodes/{quote(_kind(labels, 'jitter'), safe='')}"):
        status, _, body = request(console, path)
        assert status == 500, path
        out = json.loads(body)
        assert "edited, removed or reordered" in out["error"] and "backup" in out["hint"]
    status, out = decide(console, _kind(labels, "missing_instruction"), verdict="flag",
                         reason="second_look")  # fmt: skip
    assert status == 400 and "edited" in out["error"]
    assert log.read_bytes().count(b"\n") == 2  # nothing appended to a broken chain


def test_review_verify_lists_who_signed(batch: Batch) -> None:
    from click.testing import CliRunner

    from embodex.trust import generate_key, load_signer, record_signed_review
    from embodex_cli.main import cli

    root, labels = batch
    generate_key("rev-cli", "reviewer")
    record_signed_review(root, _kind(labels, "jitter"), verdict="reject", reason="privacy",
                         signer=load_signer("rev-cli"))  # fmt: skip
    record_review(root, _kind(labels, "jump"), verdict="reject", reason="duplicate",
                  reviewer="rev-x")  # fmt: skip
    record_signed_review(root, _kind(labels, "missing_instruction"), verdict="flag",
                         reason="second_look", signer=SECOND)  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(cli, ["review", "verify", str(root)])
    assert out.exit_code == 0, out.output
    assert "signed by rev-cli" in out.output and "unsigned" in out.output
    assert "untrusted" in out.output  # SECOND's key is not in the key store
    assert "1 of 3 decisions signed by trusted keys" in out.output
    strict = runner.invoke(cli, ["review", "verify", str(root), "--require-signed"])
    assert strict.exit_code == 1 and "2 decisions are not signed" in str(strict.exception)
    rows = json.loads(runner.invoke(cli, ["review", "verify", str(root), "--json"]).output)
    assert [r["status"] for r in rows] == ["signed", "unsigned", "untrusted"]
    assert rows[2]["keyid"] == SECOND.key_id
