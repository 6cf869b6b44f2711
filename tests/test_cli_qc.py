"""The QC and review commands as a user runs them: tables, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.qc import default_profile
from tests.qc_helpers import Batch, defect_batch, private_copy
from tests.test_cli_format import run


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return defect_batch(
        tmp_path_factory, clean=6, kinds=["nan", "jitter"], seed=5, duration_s=(5, 6)
    )


@pytest.fixture
def batch(source: Batch, tmp_path: Path) -> Batch:
    return private_copy(source, tmp_path)


def test_qc_run_passes_clean_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "clean"
    synth_dataset(root, 4, seed=6, meta=synth_meta(image_size=32, cameras=("head",)))
    code, out, err = run(["qc", "run", str(root)], capsys)
    assert code == 0, err
    assert "PASS" in out and "verdict" in out and "wrote" in out
    assert (root / "qc" / "manifest.json").exists()
    code, out, _ = run(["qc", "run", str(root), "--json", "--no-write"], capsys)
    data = json.loads(out)
    assert code == 0 and data["counts"] == {"PASS": 4, "WARN": 0, "FAIL": 0}
    assert data["profile"]["digest"] == default_profile().digest and data["manifest"] is None
    # a reviewer's reject is final, also for a run that writes nothing
    eid = data["verdicts"][0]["episode_id"]
    code, _, err = run(["review", "set", str(root), eid, "--verdict", "reject", "--reason",
                        "operator_error", "--reviewer", "rev-1"], capsys)  # fmt: skip
    assert code == 0, err
    before = (root / "qc" / "manifest.json").read_bytes()
    code, out, err = run(["qc", "run", str(root), "--json", "--no-write"], capsys)
    data = json.loads(out)
    assert code == 3 and "1 of 4 episodes FAIL" in err and "review.operator_error" in err
    assert data["counts"] == {"PASS": 3, "WARN": 0, "FAIL": 1}
    verdict = next(v for v in data["verdicts"] if v["episode_id"] == eid)
    assert (verdict["auto_verdict"], verdict["verdict"]) == ("PASS", "FAIL")
    assert (root / "qc" / "manifest.json").read_bytes() == before  # nothing written


def test_qc_run_fails_with_one_line_and_exit_3(
    batch: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, labels = batch
    code, out, err = run(["qc", "run", str(root)], capsys)
    assert code == 3  # QC FAIL: its own exit code, so scripts tell it from bad input (1)
    # off a terminal the run's progress is one summary line, then the one error line
    assert re.fullmatch(r"checking: 8/8 in .*\n", err.split("error: ")[0])
    error = err.split("\n", 1)[1]
    assert error.count("\n") == 1 and error.startswith("error: 1 of 8 episodes FAIL")
    assert "numeric.finite" in err and "Traceback" not in err
    nan = next(e for e, k in labels.items() if k == "nan")
    assert nan in out and "numeric.finite" in out  # the table names the failing episode
    code, out, err = run(["qc", "run", str(root), "--json"], capsys)
    assert code == 3
    data = json.loads(out)
    assert data["counts"] == {"PASS": 6, "WARN": 1, "FAIL": 1}
    assert data["aggregates"]["overall"]["failed"] == 1
    verdicts = {v["episode_id"]: v for v in data["verdicts"]}
    assert verdicts[nan]["rules"] == ["numeric.finite"]
    # a looser profile lets the same data pass: the thresholds are the profile's
    off = ["--set", "numeric.finite.enabled=false", "--set", "timing.jitter.warn=null"]
    code, out, _ = run(["qc", "run", str(root), "--json", *off], capsys)
    assert code == 0 and json.loads(out)["counts"]["PASS"] == 8
    # input QC cannot run on is an error (1), not a QC verdict
    code, _, err = run(["qc", "run", str(root / "nowhere")], capsys)
    assert code == 1 and err.startswith("error: ")
    code, _, err = run(["qc", "run", str(root), "--set", "no.such.rule=1"], capsys)
    assert code == 1 and err.startswith("error: ")


def test_qc_show_report_and_profile(
    batch: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, labels = batch
    run(["qc", "run", str(root)], capsys)
    nan = next(e for e, k in labels.items() if k == "nan")
    code, out, _ = run(["qc", "show", str(root), nan], capsys)
    assert code == 0 and "FAIL (automatic)" in out and "numeric.finite" in out
    code, out2, _ = run(["qc", "show", str(root), nan, "--json"], capsys)
    info = json.loads(out2)
    assert info["verdict"] == "FAIL" and info["findings"][0]["rule"] == "numeric.finite"
    # frame ranges read the same everywhere: half-open, and the heading says so
    f = info["findings"][0]
    shown = f"[{f['frame_start']}, {f['frame_end']})"
    assert "frames [from, to)" in out and shown in out
    code, out, _ = run(["qc", "report", str(root), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 0 and (tmp_path / "r.html").stat().st_size > 10_000
    html = (tmp_path / "r.html").read_text()
    assert "frames [from, to)" in html and shown in html
    code, out, _ = run(["qc", "profile"], capsys)
    assert code == 0 and out.startswith(f"# digest: {default_profile().digest}")
    (tmp_path / "p.yaml").write_text(out)  # the printed profile loads back, same digest
    code, out, _ = run(["qc", "profile", str(tmp_path / "p.yaml"), "--json"], capsys)
    assert json.loads(out)["digest"] == default_profile().digest
    code, _, err = run(["qc", "show", str(root), "nobody:1"], capsys)
    assert code == 1 and "not in the QC manifest" in err
    code, _, err = run(["qc", "run", str(root), "--set", "timing.gap.wran=3"], capsys)
    assert code == 1 and err.startswith("error: QC profile") and err.count("\n") == 1
    code, _, err = run(["qc", "report", str(tmp_path)], capsys)
    assert code == 1 and "embodex qc run" in err


def test_review_flow_end_to_end(
    batch: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, labels = batch
    run(["qc", "run", str(root)], capsys)
    code, out, _ = run(["review", "next", str(root), "--json", "-o", str(tmp_path)], capsys)
    nxt = json.loads(out)
    jitter = next(e for e, k in labels.items() if k == "jitter")
    assert code == 0 and nxt["next"] == jitter and nxt["why"] == "warn"
    assert Path(nxt["page"]).exists() and Path(nxt["page"]).parent == tmp_path
    code, out, _ = run(["review", "next", str(root)], capsys)
    assert f"next: {jitter} (automatic WARN" in out and "page:" in out
    code, out, _ = run(
        [
            "review",
            "set",
            str(root),
            jitter,
            "--verdict",
            "accept",
            "--reason",
            "warning_acceptable",
            "--reviewer",
            "rev-007",
        ],
        capsys,
    )
    assert code == 0 and "WARN -> PASS" in out
    code, _, err = run(
        [
            "review",
            "set",
            str(root),
            jitter,
            "--verdict",
            "reject",
            "--reason",
            "nope",
            "--reviewer",
            "rev-007",
        ],
        capsys,
    )
    assert code == 2 and "'nope' is not one of 'meets_spec'" in err and err.count("\n") == 1
    code, out, _ = run(["review", "list", str(root)], capsys)
    assert code == 0 and "rev-007" in out and "1 reviewed (1 accepted, 0 rejected)" in out
    code, out, _ = run(["review", "list", str(root), "--json"], capsys)
    data = json.loads(out)
    assert data["reviews"][0]["episode_id"] == jitter and data["status"]["accepted"] == 1
    # the accepted WARN now passes, so QC's exit code reflects only the real failure
    code, out, _ = run(["qc", "run", str(root), "--json"], capsys)
    assert json.loads(out)["counts"] == {"PASS": 7, "WARN": 0, "FAIL": 1}
    # work through the queue until it is empty
    while True:
        code, out, _ = run(["review", "next", str(root), "--json"], capsys)
        eid = json.loads(out)["next"]
        if eid is None:
            break
        code, _, _ = run(
            [
                "review",
                "set",
                str(root),
                eid,
                "--verdict",
                "accept",
                "--reason",
                "meets_spec",
                "--reviewer",
                "rev-008",
            ],
            capsys,
        )
        assert code == 0
    code, out, _ = run(["review", "next", str(root)], capsys)
    assert "nothing to review" in out


def test_stale_manifest_is_never_used_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    meta = synth_meta(image_size=32, cameras=("head",))
    synth_dataset(root, 4, seed=8, meta=meta, duration_s=(4, 5))
    assert run(["qc", "run", str(root)], capsys)[0] == 0
    eid = json.loads(run(["review", "next", str(root), "--json"], capsys)[1])["next"]
    code, _, err = run(["qc", "show", str(root), eid], capsys)
    assert code == 0 and "warning" not in err
    # a batch is appended: the manifest now describes the older data
    synth_dataset(root, 2, seed=9, meta=meta, duration_s=(4, 5), append=True, first_index=4)
    for args in (["qc", "show", str(root), eid], ["qc", "report", str(root)],
                 ["review", "next", str(root)], ["review", "list", str(root)]):  # fmt: skip
        code, _, err = run(args, capsys)
        assert code == 0, (args, err)
        assert err.startswith("warning: the QC manifest of") and "is stale" in err, args
        assert "2 of its 6 episodes were never checked" in err and "embodex qc run" in err
        assert err.count("\n") == 1
    info = json.loads(run(["qc", "show", str(root), eid, "--json"], capsys)[1])
    assert "is stale" in info["stale"]
    report = json.loads(run(["qc", "report", str(root), "--json"], capsys)[1])
    assert "is stale" in report["stale"]
    assert "Stale: the QC manifest" in Path(report["report"]).read_text()
    # recording a decision on data QC never saw is refused
    code, _, err = run(["review", "set", str(root), eid, "--verdict", "accept", "--reason",
                        "meets_spec", "--reviewer", "rev-1"], capsys)  # fmt: skip
    assert code == 1 and "is stale" in err and "Run `embodex qc run DATASET` first" in err
    # QC again: current, quiet
    assert run(["qc", "run", str(root)], capsys)[0] == 0
    code, _, err = run(["qc", "show", str(root), eid], capsys)
    assert code == 0 and err == ""
    assert json.loads(run(["qc", "report", str(root), "--json"], capsys)[1])["stale"] is None
