"""Progress display in a real terminal: every command that shows progress runs with stderr
as a tty (tests normally capture stderr, which hides the bars and the bugs behind them)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from embodex.demo.raw import write_agibot_sample
from embodex.format import open_dataset

from .test_cli_format import run

CLI_DIR = Path(__file__).resolve().parents[1] / "cli" / "embodex_cli"


def _progress_labels() -> set[str]:
    """Every label passed to render.progress(...) anywhere in the CLI."""
    labels: set[str] = set()
    for path in CLI_DIR.glob("*.py"):
        labels.update(re.findall(r'\bprogress\(\s*"([^"]+)"', path.read_text()))
    return labels


def test_every_progress_command_works_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = _progress_labels()
    assert {"packaging", "checking", "verifying", "synthesising"} <= labels
    seen: set[str] = set()
    assert run(["keys", "generate", "centre", "--role", "centre"], capsys)[0] == 0
    # from here on stderr claims to be a terminal, as it is for a person at a shell
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    def step(args: list[str]) -> str:
        code, out, err = run(args, capsys)
        assert code == 0, (args, err)
        seen.update(label for label in labels if label in err)
        return out

    raw = write_agibot_sample(tmp_path / "raw", episodes=2, frames=(60, 70))
    ds = tmp_path / "ds"
    step(["package", str(raw), str(ds), "--from", "agibot"])
    step(["synth", str(tmp_path / "s"), "-n", "3", "--duration", "8-9", "--image-size", "32"])
    step(["verify", str(ds)])
    first = open_dataset(ds).episode_ids[0]
    step(["trim", str(ds), str(tmp_path / "trimmed"), "--episode", first, "--frames", "5:40"])
    step(["transcode", str(ds), str(tmp_path / "hot"), "--cameras", "jpeg"])
    step(["qc", "run", str(ds)])
    step(["anonymise", str(ds), str(tmp_path / "anon")])
    step(["export", "lerobot", str(ds), str(tmp_path / "lr")])
    step(["export", "hf", str(ds), str(tmp_path / "hf")])
    cat = tmp_path / "catalog"
    step(["catalog", "build", str(ds), "-o", str(cat), "--key", "centre"])
    step(["catalog", "sample", str(ds), "-o", str(cat / "sample"), "--key", "centre"])
    step(["catalog", "publish", str(cat), str(tmp_path / "offers"), "--key", "centre"])
    assert seen == labels, f"not exercised on a terminal: {sorted(labels - seen)}"


def test_package_in_a_real_pseudo_terminal(tmp_path: Path) -> None:
    """The exact failure users saw: `embodex package` with stderr on a terminal."""
    raw = write_agibot_sample(tmp_path / "raw", episodes=2, frames=(40, 50), depth=False)
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "from embodex_cli.main import main; main()"
    args = ["package", str(raw), str(tmp_path / "ds"), "--from", "agibot"]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        timeout=120,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0, err
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)  # the bar's colours and cursor moves
    assert re.search(r"packaging: .*2 done", plain) and "internal error" not in err
    assert b"packaged 2 episodes" in proc.stdout
