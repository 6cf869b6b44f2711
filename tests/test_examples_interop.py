"""examples/lerobot_roundtrip.py, run as a user would (short form)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ._lerobot import PROBE, ROOT, lerobot_python

EXAMPLE = ROOT / "examples" / "lerobot_roundtrip.py"


def _run(python: str, tmp_path: Path, prelude: str = "") -> str:
    # The prelude runs before the example (LeRobot's venv needs its torchvision workaround).
    code = (
        f"{prelude}import runpy, sys; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf-home"))
    proc = subprocess.run(
        [python, "-c", code, str(EXAMPLE), "--out", str(tmp_path / "rt"), "--episodes", "2"],
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
    python = lerobot_python()
    prelude = (
        f"import sys; sys.path.insert(0, {str(PROBE.parent)!r}); "
        "import lerobot_probe; lerobot_probe.torchvision_ops(); "
    )
    out = _run(str(python), tmp_path, prelude)
    assert "LeRobotDataset: " in out and "match" in out, out
    assert "round trip ok" in out
