"""QC never cries wolf on clean imports: recordings packaged from the AgiBot World layout and
from a LeRobot v3.0 dataset pass every rule of the default profile with no finding at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.demo.raw import write_agibot_sample
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import open_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.format.importers import import_recordings
from embodex.qc import default_profile, run_qc

from .test_cli_format import run


def _findings(dataset: Path) -> list[str]:
    result = run_qc(open_dataset(dataset), default_profile(), images="all")
    found = [f"{e.episode_id} {f.rule}: {f.message}" for e in result.episodes for f in e.findings]
    return found + [f"{e.episode_id}: {e.auto_verdict}" for e in result.episodes if e.rules]


def test_clean_agibot_import_has_no_findings(tmp_path: Path) -> None:
    # 4-6 s episodes (the default profile warns under 3 s), head depth included
    src = write_agibot_sample(tmp_path / "raw", episodes=3, seed=3, frames=(120, 180))
    import_recordings("agibot", src, tmp_path / "ds")
    meta = open_dataset(tmp_path / "ds").meta
    assert "head_depth" in {c.name for c in meta.cameras}
    assert _findings(tmp_path / "ds") == []


def test_clean_lerobot_import_has_no_findings(tmp_path: Path) -> None:
    synth_dataset(tmp_path / "ds", 3, seed=4, meta=synth_meta(image_size=32), duration_s=(6, 8))
    export_lerobot(open_dataset(tmp_path / "ds"), tmp_path / "lerobot")
    import_recordings("lerobot", tmp_path / "lerobot", tmp_path / "back")
    assert _findings(tmp_path / "back") == []


def test_default_agibot_sample_from_the_cli_passes_qc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`embodex synth --layout agibot` with its defaults writes realistic 8-20 s episodes,
    so the sample packages and passes QC as is (it used to write 1.2-1.8 s ones)."""
    raw, ds = tmp_path / "raw", tmp_path / "ds"
    code, _, err = run(["synth", str(raw), "--layout", "agibot", "-n", "2", "--seed", "3"], capsys)
    assert code == 0, err
    assert run(["package", str(raw), str(ds), "--from", "agibot"], capsys)[0] == 0
    durations = open_dataset(ds).episodes.column("duration_s").to_pylist()
    assert all(8 <= d <= 20.1 for d in durations), durations
    code, out, err = run(["qc", "run", str(ds), "--json", "--no-write"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"] == {"PASS": 2, "WARN": 0, "FAIL": 0}
