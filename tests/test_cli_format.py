"""The dataset commands as a user runs them: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from embodex.format import open_dataset
from embodex_cli.main import cli, main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run through main() — the real entry point with its error mapping."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(cmd, click.Group):
            found.extend(_all_commands(cmd, path))
    return found


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    commands = _all_commands(cli)
    assert {("synth",), ("package",), ("inspect",), ("verify",)} <= set(commands)
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"`embodex {' '.join(path)} --help` has no example"


def test_synth_inspect_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds"
    code, out, _ = run(
        ["synth", str(ds), "-n", "5", "--seed", "2", "--duration", "1-2", "--image-size", "32"],
        capsys,
    )
    assert code == 0 and "wrote 5 episodes" in out
    code, out, _ = run(["inspect", str(ds)], capsys)
    assert code == 0
    assert "scene type" in out and "time recorded by scene type" in out and "skill" in out
    code, out, _ = run(["inspect", str(ds), "--json", "--episodes"], capsys)
    summary = json.loads(out)
    assert summary["episodes"] == 5 and len(summary["episode_list"]) == 5
    hours = sum(v["hours"] for v in summary["by_scene_type"].values())
    assert hours == pytest.approx(summary["hours"])
    assert sum(
        sum(v.values()) for v in summary["hours_by_scene_and_skill"].values()
    ) == pytest.approx(hours)
    code, out, _ = run(["verify", str(ds), "--json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["episodes"] == 5


def test_verify_fails_with_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = tmp_path / "ds"
    run(["synth", str(ds), "-n", "2", "--duration", "1-1", "--image-size", "32"], capsys)
    shard = next((ds / "data").glob("shard-*.arrow"))
    data = bytearray(shard.read_bytes())
    data[-200] ^= 1
    shard.write_bytes(bytes(data))
    # inspect reads metadata only: it does not see the damage (its --help says so)
    code, out, _ = run(["inspect", str(ds)], capsys)
    assert code == 0 and "2 episodes" in out
    code, _, err = run(["verify", str(ds)], capsys)
    assert code == 1
    ids = open_dataset(ds).episode_ids
    assert f"sha256 does not match the manifest (holds episodes {ids[0]}, {ids[1]})" in err
    assert f"damaged episodes (2): {ids[0]}, {ids[1]}" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: verification failed") and "Traceback" not in err
    report = json.loads(run(["verify", str(ds), "--json"], capsys)[1])
    assert report["damaged_episodes"] == ids


def test_errors_are_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["inspect", str(tmp_path / "nothing")], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "not an embodex dataset" in err and "—" in err
    # usage errors: one line too, with where to look, exit 2
    for args, text in (
        (["synth", str(tmp_path / "x"), "--duration", "abc"], "MIN-MAX"),
        (["synth", str(tmp_path / "y"), "--episodes", "0"], "--episodes"),
        (["synth", str(tmp_path / "y"), "--bogus"], "No such option '--bogus'"),
        (["qc", "run"], "Missing argument 'DATASET'"),
    ):
        code, out, err = run(args, capsys)
        assert code == 2 and out == "", args
        assert err.count("\n") == 1 and err.startswith("error: ") and text in err, err
        assert f"see `embodex {args[0]}" in err and "--help`" in err
    again = ["synth", str(tmp_path / "z"), "-n", "1", "--duration", "1-1"]
    assert run(again, capsys)[0] == 0
    code, _, err = run(again, capsys)
    assert code == 1 and "already holds a dataset" in err
    assert "--append on the command line, append=True from Python" in err


def test_synth_append_and_inspect_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds"
    args = ["synth", str(ds), "--duration", "1-2", "--image-size", "16"]
    code, out, _ = run([*args, "-n", "1"], capsys)
    assert code == 0 and "wrote 1 episode to" in out
    code, out, _ = run([*args, "-n", "2", "--append", "--first-index", "1", "--json"], capsys)
    assert (json.loads(out)["episodes"], json.loads(out)["in_dataset"]) == (2, 3)
    code, out, _ = run([*args, "-n", "2", "--append", "--first-index", "3"], capsys)
    assert "wrote 2 episodes to" in out and "5 episodes in it now" in out
    code, out, _ = run(["inspect", str(ds)], capsys)
    assert "5 episodes ·" in out and " s ·" in out  # seconds, not "0.1 min"
    assert "recorded" in out and "hours" not in out.split("\n\n")[1]


def test_debug_shows_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBODEX_DEBUG", "1")
    code, _, err = run(["inspect", str(tmp_path / "nothing")], capsys)
    assert code == 1 and "Traceback" in err


def test_package_agibot_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from embodex.demo.raw import write_agibot_sample

    raw = write_agibot_sample(tmp_path / "raw", episodes=3, seed=4, defects={"corrupt_mp4": 1})
    sidecar = raw / "embodex-sidecar.yaml"
    code, _, err = run(
        ["package", str(raw), str(tmp_path / "a"), "--from", "agibot", "--meta", str(sidecar)],
        capsys,
    )
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ") and ".mp4" in line and "--skip-bad" in line
    assert not (tmp_path / "a" / "embodex.json").exists(), "a failed package published data"

    code, out, err = run(
        [
            "package",
            str(raw),
            str(tmp_path / "b"),
            "--from",
            "agibot",
            "--meta",
            str(sidecar),
            "--skip-bad",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    result = json.loads(out)
    assert result["episodes"] == 2 and len(result["skipped"]) == 1
    code, out, _ = run(["verify", str(tmp_path / "b")], capsys)
    assert code == 0 and out.startswith("ok: 2 episodes")
