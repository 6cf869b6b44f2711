"""Progress, tables and colour for people: a bar on a terminal, one summary line otherwise,
nothing with --json; PASS green, WARN yellow, FAIL red only on a colour terminal."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from embodex_cli.output import Output, err
from embodex_cli.progress import Display
from embodex_cli.render import paint, table

from .test_cli_format import run

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_off_a_terminal_a_command_prints_one_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err_text = run(["synth", str(tmp_path / "s"), "-n", "3", "--image-size", "32",
                               "--duration", "1-2"], capsys)  # fmt: skip
    assert code == 0
    lines = [line for line in err_text.splitlines() if line.startswith("synthesising")]
    assert len(lines) == 1 and re.fullmatch(
        r"synthesising: 3/3 in \d+\.\d s \([\d.,]+/s\)", lines[0]
    )
    assert "\r" not in err_text and not ANSI.search(err_text)
    code, _, err_text = run(["qc", "run", str(tmp_path / "s"), "--json"], capsys)
    assert code in (0, 3) and "checking" not in err_text  # --json: the result says it all


def test_transfers_are_summed_in_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    display = Display("uploading 3 files", 3 * 1024 * 1024, unit="bytes", mode="summary")
    for _ in range(3):
        display.advance(1024 * 1024)
    display.close()
    display.close()  # closing twice prints once
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(r"uploading 3 files: 3\.0 MiB in \d+\.\d s \([\d.,]+ \w+/s\)", line), line


def test_on_a_terminal_a_bar_shows_count_and_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with Output(False).progress("checking", 4) as meter:
        for _ in range(4):
            meter.update()
    shown = ANSI.sub("", capsys.readouterr().err)
    assert "checking:" in shown and "4/4" in shown and "0:00:0" in shown


def test_tables_align_and_keep_markup_as_text() -> None:
    text = table(["name", "hours"], [["[bold]x[/bold]", "1.5 h"], ["longer-name", "12.25 h"]])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "hours"] and set(lines[1]) <= {"-", " "}
    assert "[bold]x[/bold]" in lines[2]  # a cell is text, never rich markup
    assert lines[2].endswith(" 1.5 h") and lines[3].endswith("12.25 h")  # numbers right
    assert len(lines[2]) == len(lines[3]) and not ANSI.search(text)


def test_verdicts_in_colour_on_a_terminal_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["episode a: PASS", "episode b: WARN", err("episode c: FAIL")]
    Output(False).lines(lines)  # not a terminal: plain
    captured = capsys.readouterr()
    assert not ANSI.search(captured.out + captured.err)

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert paint("a: PASS, b: FAIL") == "a: \x1b[32mPASS\x1b[0m, b: \x1b[31mFAIL\x1b[0m"
    Output(False).lines(lines)
    captured = capsys.readouterr()
    assert "\x1b[32mPASS\x1b[0m" in captured.out and "\x1b[33mWARN\x1b[0m" in captured.out
    assert "\x1b[31mFAIL\x1b[0m" in captured.err
    coloured = table(["period", "status"], [[1, "late"], [2, "delivered"], [3, "upcoming"]])
    assert "\x1b[31mlate" in coloured and "\x1b[32mdelivered" in coloured
    assert "upcoming" in ANSI.sub("", coloured)

    monkeypatch.setenv("NO_COLOR", "1")  # https://no-color.org: any value turns colour off
    Output(False).lines(lines)
    captured = capsys.readouterr()
    assert not ANSI.search(captured.out + captured.err)
    assert not ANSI.search(table(["period", "status"], [[1, "late"]]))


def test_a_running_count_sums_up_once(capsys: pytest.CaptureFixture[str]) -> None:
    with Output(False).progress("scanning") as meter:  # no total: a running count
        for _ in range(5):
            meter.update()
    assert re.fullmatch(r"scanning: 5 done in \d+\.\d s \([\d.,]+/s\)\n", capsys.readouterr().err)


def test_a_cluster_job_line_reads_its_eta_like_the_bar() -> None:
    from embodex.format.progress import Progress
    from embodex_cli.output import progress_text

    # 1 of 4 episodes in 1500 s: 4,500 s left, an hour and a quarter (not "75:00")
    line = progress_text(Progress(done=1, total=4, elapsed_s=1500.0, episode="e1", where="n1"))
    assert line == "1/4 episodes, 0.0/s, ETA 1:15:00, last on n1"
    one = progress_text(Progress(done=1, total=1, elapsed_s=2.0, episode="e1", reused=True))
    assert one == "1/1 episode, 0.5/s, ETA 0:00:00 (reused from an earlier run)"
