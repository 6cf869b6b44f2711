"""Shell completion: key names, remote names and dataset folders, through click's own
completion protocol (``_EMBODEX_COMPLETE=bash_complete``) as a shell calls it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from embodex.format.layout import META_FILE
from embodex.remotes import add_remote
from embodex_cli.complete import DATASET_MARKER, complete_dataset, complete_key
from embodex_cli.main import cli

from .test_cli_format import run


def _complete(words: str, cwd: Path) -> list[str]:
    """What bash would offer after ``words`` (the last word being completed)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "_EMBODEX_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "embodex"], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # bash_complete prints one "type,value" line per item
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def test_the_dataset_marker_is_the_format_layers(tmp_path: Path) -> None:
    assert DATASET_MARKER == META_FILE


def test_remote_key_and_dataset_names_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["keys", "generate", "hubei-centre", "--role", "centre"], capsys)[0] == 0
    assert run(["keys", "generate", "agibot", "--role", "buyer"], capsys)[0] == 0
    add_remote("acme", "s3://acme/deliveries")
    add_remote("archive", "s3://acme/archive")
    (tmp_path / "data" / "week01").mkdir(parents=True)
    (tmp_path / "data" / "week01" / DATASET_MARKER).write_text("{}")
    (tmp_path / "data" / "raw").mkdir()
    (tmp_path / "data" / ".hidden").mkdir()

    assert _complete("embodex pull a", tmp_path) == ["acme", "archive"]
    assert _complete("embodex supply status --channel ac", tmp_path) == ["acme"]
    assert _complete("embodex publish data/week01 ar", tmp_path) == ["archive"]
    assert _complete("embodex pull acme --key h", tmp_path) == ["hubei-centre"]
    assert _complete("embodex keys export ", tmp_path) == ["agibot", "hubei-centre"]
    assert _complete("embodex remote show a", tmp_path) == ["acme", "archive"]
    # datasets first, then folders that may hold one; hidden folders only when asked for
    assert _complete("embodex qc run data/", tmp_path) == ["data/week01", "data/raw"]
    assert _complete("embodex inspect data/.h", tmp_path) == ["data/.hidden"]

    # the callbacks themselves (what every DATASET argument and --key option gets)
    monkeypatch.chdir(tmp_path)
    ctx = click.Context(cli)
    param = click.Argument(["dataset"])
    assert [i.value for i in complete_dataset(ctx, param, "data/w")] == ["data/week01"]
    assert [i.help for i in complete_dataset(ctx, param, "data/")] == ["dataset", None]
    assert complete_dataset(ctx, param, "s3://bucket/") == []
    assert [i.value for i in complete_key(ctx, param, "a")] == ["agibot"]
