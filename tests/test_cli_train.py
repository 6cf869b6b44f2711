"""`embodex load` as a user runs it: the selection report, --json, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.demo.synth import synth_dataset, synth_meta

from ._train_data import write_qc_manifest
from .test_cli_format import run


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-train") / "ds"
    synth_dataset(
        path, 4, seed=5, meta=synth_meta(image_size=32, cameras=("head",)), duration_s=(1.0, 2.0)
    )
    return path


def test_load_reports_selection_and_sample(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["load", str(root), "--horizon", "5", "--qc", "all", "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["episodes"] == 4 and info["selection"]["episodes"] == 4
    assert info["sample"]["action"] == {"shape": [5, 20], "dtype": "float32"}
    assert info["sample"]["image.head"]["shape"] == [32, 32, 3]
    assert info["windows"]["action"] == [0, 1, 2, 3, 4]
    assert len(info["stats"]["state"]["mean"]) == 20
    code, out, _ = run(["load", str(root), "--qc", "all", "--no-cameras"], capsys)
    assert code == 0 and "4 episodes" in out and "image.head" not in out


def test_load_with_qc_and_where(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    ds = Path(shutil.copytree(root, tmp_path / "ds"))
    from embodex.format import open_dataset

    ids = open_dataset(ds).episode_ids
    write_qc_manifest(ds, {i: ("FAIL" if n == 0 else "PASS") for n, i in enumerate(ids)})
    code, out, _ = run(["load", str(ds), "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["episodes"] == 3 and info["selection"]["excluded_by_qc"] == 1
    skill = open_dataset(ds).episode(1).meta.skill
    code, out, _ = run(["load", str(ds), "--where", f"skill={skill}", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["episodes"] == sum(
        1 for e in open_dataset(ds) if e.meta.skill == skill and e.episode_id != ids[0]
    )


def test_load_errors_are_one_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["load", str(root)], capsys)
    assert code == 1 and "embodex qc run" in err and len(err.strip().splitlines()) == 1
    assert "--qc all" in err  # the CLI's own wording next to the Python one
    code, _, err = run(["load", str(root), "--qc", "all", "--horizon", "100000"], capsys)
    assert code == 1 and "--horizon" in err
    code, _, err = run(["load", str(root), "--qc", "all", "-f", "joints"], capsys)
    assert code == 1 and "feature 'joints' does not exist" in err
    code, _, err = run(["load", str(root), "--qc", "all", "--where", "colour=red"], capsys)
    assert code == 1 and "'colour'" in err
    code, _, err = run(["load", str(root), "--qc", "all", "--where", "novalue"], capsys)
    assert code == 2 and "KEY=VALUE" in err
