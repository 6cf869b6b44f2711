"""`embodex view`: an episode as a Rerun .rrd file, read back with rerun's own reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from embodex.errors import SchemaError
from embodex.format import Dataset
from embodex.format.exporters.rerun import export_rerun, rrd_entities
from embodex_cli.main import cli

from .test_cli_format import run


def test_rrd_holds_joints_cameras_and_segments(small_dataset: Dataset, tmp_path: Path) -> None:
    view = small_dataset.episode(2)
    out = tmp_path / "ep.rrd"
    report = export_rerun(small_dataset, view.episode_id, out)
    assert report["frames"] == view.frame_count and out.stat().st_size == report["bytes"]
    entities = rrd_entities(out)
    n = view.frame_count
    joints = small_dataset.meta.features["state"].names or []
    # one scalar per frame (+1 static series style) for every joint of state and action
    assert entities[f"/state/{joints[0]}"] == n + 1
    assert entities[f"/action/{joints[-1]}"] == n + 1
    for cam in ("head", "hand_left"):
        assert entities[f"/cameras/{cam}"] == n + 1  # frames + the static pinhole
    assert entities["/segments"] == len(view.meta.segments)
    assert entities["/segments/index"] == n + 1
    assert entities["/episode"] == 1
    assert not list(tmp_path.glob(".*partial*"))


def test_cli_view(small_dataset: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "v.rrd"
    res = CliRunner().invoke(cli, ["view", str(small_dataset.root), "0", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["episode_id"] == small_dataset.episode_ids[0]
    assert out.is_file()
    with pytest.raises(SchemaError, match="not in dataset"):
        export_rerun(small_dataset, "no:such", tmp_path / "x.rrd")
    assert not (tmp_path / "x.rrd").exists()


def test_cli_view_of_a_position_out_of_range(
    small_dataset: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = len(small_dataset)
    for position in (str(n), "99"):
        code, out, err = run(["view", str(small_dataset.root), "-o", str(tmp_path / "x.rrd"),
                              position], capsys)  # fmt: skip
        assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
        assert err.startswith("error: ") and "internal error" not in err
        assert f"episode position {position} is out of range" in err and f"has {n} episode" in err
    code, _, err = run(["view", str(small_dataset.root), "-o", str(tmp_path / "x.rrd"), "--",
                        "-1"], capsys)  # fmt: skip
    assert code == 0, err  # the last episode
    with pytest.raises(IndexError):  # still an IndexError for Python callers
        small_dataset.episode(-n - 1)
