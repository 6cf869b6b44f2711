"""examples/lerobot_roundtrip.py and examples/export_pulled.sh (the DEMO_EXPORT step), run as
a user would (short form)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from huggingface_hub import DatasetCard

from embodex.delivery import publish, pull
from embodex.format import open_dataset
from embodex.format.exporters.rerun import rrd_entities
from embodex.qc import load_qc_manifest

from ._delivery import PROFILE, at, centre_dataset, contract
from ._lerobot import ROOT, lerobot_python

EXAMPLE = ROOT / "examples" / "lerobot_roundtrip.py"
EXPORT_PULLED = ROOT / "examples" / "export_pulled.sh"


def _run(python: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    proc = subprocess.run(
        [python, str(EXAMPLE), "--out", str(tmp_path / "rt"), "--episodes", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_example_round_trip_without_lerobot(tmp_path: Path) -> None:
    out = _run(sys.executable, tmp_path)
    assert "exported 2 episodes" in out and "round trip ok" in out
    assert "skipped loading it in LeRobot" in out or "LeRobotDataset:" in out


def test_example_loads_in_lerobot(tmp_path: Path) -> None:
    """Run as a user would, in the venv scripts/lerobot_venv.sh builds: nothing added."""
    out = _run(str(lerobot_python()), tmp_path)
    assert "LeRobotDataset: " in out and "match" in out, out
    assert "round trip ok" in out


def test_export_pulled_runs_on_data_pulled_from_a_channel(tmp_path: Path) -> None:
    """What `DEMO_EXPORT=1 make demo` does after the pull, on a real pull's dataset."""
    terms, centre, buyer = contract(tmp_path)
    centre_dataset(tmp_path / "centre", 3)
    channel = str(tmp_path / "channel")
    publish(tmp_path / "centre", channel, terms, centre, profile=PROFILE, now=at(5))
    pull(channel, terms, buyer, tmp_path / "buyer", now=at(5, 12))
    pulled = open_dataset(tmp_path / "buyer" / "dataset")
    assert len(pulled) >= 1
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = tmp_path / "exports"
    proc = subprocess.run(
        ["bash", str(EXPORT_PULLED), str(pulled.root), str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Dataset(" in proc.stdout and f"num_rows: {pulled.num_frames}" in proc.stdout
    back = open_dataset(out / "lerobot-back")
    assert back.episode_ids == pulled.episode_ids  # the pulled episodes, whole
    assert list((out / "lerobot-av1" / "videos").rglob("*.mp4"))
    card = DatasetCard.load(out / "hf" / "README.md")
    buyer_qc = load_qc_manifest(pulled.root).aggregates.overall
    assert card.data["embodex"]["qc"]["episodes"] == buyer_qc.episodes
    assert card.data["embodex"]["qc"]["matches_this_dataset"] is True
    assert rrd_entities(out / "episode0.rrd")["/episode"] == 1
    usage = subprocess.run(["bash", str(EXPORT_PULLED)], capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
    assert usage.returncode == 2 and "Usage" in usage.stderr
