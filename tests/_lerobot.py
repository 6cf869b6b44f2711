"""Finding LeRobot's own venv (.venv-lerobot, built by `make lerobot-venv`) for the tests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from .conftest import venv_tool

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("EMBODEX_LEROBOT_VENV", ROOT / ".venv-lerobot"))
PROBE = Path(__file__).with_name("lerobot_probe.py")
WRITER = Path(__file__).with_name("lerobot_writer.py")


def lerobot_python() -> Path:
    """The venv's python, or skip the test saying exactly why LeRobot is not there."""
    return venv_tool(VENV, "python", "LeRobot", "lerobot-venv")


def _run_in_lerobot(script: Path, root: Path, out: Path, *extra: str) -> None:
    python = lerobot_python()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["HF_HUB_OFFLINE"] = "1"
    env["HF_HOME"] = str(out.parent / "hf-home")
    proc = subprocess.run(
        [str(python), str(script), str(root), str(out), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"LeRobot failed on {root}:\n{proc.stderr[-4000:]}"


def load_with_lerobot(root: Path, out: Path, *extra: str) -> tuple[dict[str, np.ndarray], Any]:
    """Run LeRobot's LeRobotDataset on ``root`` in its venv; its arrays and metadata."""
    _run_in_lerobot(PROBE, root, out, *extra)
    data = dict(np.load(out))
    meta = json.loads(bytes(data.pop("meta_json")).decode())
    return data, meta


def write_with_lerobot(root: Path, out: Path, *extra: str) -> dict[str, Any]:
    """Write a dataset at ``root`` with LeRobot's own writer (tests/lerobot_writer.py);
    the frames it was given (state, action, head, wrist, episode_index, tasks)."""
    _run_in_lerobot(WRITER, root, out, *extra)
    data: dict[str, Any] = dict(np.load(out))
    data["tasks"] = json.loads(bytes(data["tasks"]).decode())
    return data


__all__ = ["lerobot_python", "load_with_lerobot", "write_with_lerobot"]
