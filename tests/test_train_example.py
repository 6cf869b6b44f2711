"""examples/train_bc.py: the training path end to end, briefly (the loss must fall)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from embodex.demo.synth import synth_dataset, synth_meta

from ._train_data import write_qc_manifest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_bc.py"


def test_train_bc_loss_falls(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    ds = synth_dataset(root, 8, seed=2, meta=synth_meta(cameras=()), duration_s=(3.0, 5.0))
    ids = ds.episode_ids
    write_qc_manifest(root, {i: ("FAIL" if n == 0 else "PASS") for n, i in enumerate(ids)})
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(root), "--steps", "40", "--workers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "training on 7 episodes" in proc.stdout  # the FAIL episode was left out
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 40
    assert summary["last_loss"] < 0.5 * summary["first_loss"]
