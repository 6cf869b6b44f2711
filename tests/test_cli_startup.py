"""Fast start: `embodex --help` and `--version` load no heavy library, and `python -m
embodex` is the same command (the time itself is measured in benchmarks/startup.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from embodex.format import Dataset

HEAVY = ("pyarrow", "numpy", "pydantic", "torch", "boto3", "botocore", "av", "rich", "yaml")

PROBE = """
import sys
from embodex_cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
finally:
    top = {m.split(".")[0] for m in sys.modules}
    ours = {m for m in sys.modules if m.startswith("embodex.")}
    print("LOADED=" + ",".join(sorted(top | ours)), file=sys.stderr)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["remote", "--help"]])
def test_start_up_imports_nothing_heavy(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=_env(),
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = next(x for x in done.stderr.splitlines() if x.startswith("LOADED="))
    loaded = loaded.removeprefix("LOADED=")
    heavy = sorted(set(loaded.split(",")) & set(HEAVY))
    assert heavy == [], f"embodex {' '.join(args)} imported {heavy}"
    layers = {m for m in loaded.split(",") if m.startswith("embodex.")}
    # embodex.units: the formatter the renderers import, standard library only
    allowed = {"embodex._lazy", "embodex._version", "embodex.config", "embodex.units"}
    assert layers <= allowed, layers
    assert "Usage:" in done.stdout or "version" in done.stdout


def test_the_probe_sees_a_layer_loaded_on_use(tmp_path: Path, small_dataset: Dataset) -> None:
    # a command that reads a dataset loads pyarrow when it runs: the probe above would see
    # the same at start-up, so its empty list means something
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "inspect", str(tmp_path / "ds")], capture_output=True,
        text=True, env=_env(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pyarrow" in done.stderr.split("LOADED=")[1].split(",")


def test_python_dash_m_embodex_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "embodex", "--version"], capture_output=True, text=True,
        env=_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip().startswith("embodex, version ")
    done = subprocess.run(
        [sys.executable, "-m", "embodex", "remote", "show", "nope"], capture_output=True,
        text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith("error: unknown remote 'nope'")
