"""Exit codes agree with README's "Errors and exit codes" table: 2 for what the command line
itself catches (an unknown or missing option, a value of the wrong form or outside a fixed
list), 1 for input that is well formed but wrong for the data, 3 for a QC FAIL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from embodex.contract.templates import TEMPLATES
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import QCFailedError
from embodex_cli import main as cli_main

from .test_cli_format import run

README = Path(__file__).resolve().parents[1] / "README.md"


def _table() -> dict[int, str]:
    text = README.read_text(encoding="utf-8").split("## Errors and exit codes", 1)[1]
    return {int(c): m for c, m in re.findall(r"^\| (\d+) \| (.+) \|$", text, re.MULTILINE)}


def test_the_readme_table_lists_the_codes_the_cli_uses() -> None:
    table = _table()
    assert set(table) == {0, 1, cli_main.EXIT_USAGE, QCFailedError.exit_code, 130}
    assert cli_main.EXIT_FAILURE == 1 and cli_main.EXIT_INTERRUPTED == 130
    assert "usage error" in table[2] and "bad value" in table[2]
    assert "qc run" in table[3]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exit") / "ds"
    synth_dataset(root, 2, seed=1, meta=synth_meta(image_size=16), duration_s=(1.0, 1.5))
    return root


#: values the command line catches before any work: exit 2, one line, the command's --help
USAGE = [
    ["synth", "{tmp}/x", "--duration", "abc"],
    ["synth", "{tmp}/x", "--layout", "foo"],
    ["inspect", "{ds}", "--no-such-option"],
    ["load", "{ds}", "--qc", "bogus"],
    ["load", "{ds}", "--where", "no-equals-sign"],
    ["load", "{ds}", "--horizon", "0"],
    ["trim", "{ds}", "{tmp}/t", "--episode", "e", "--frames", "zz"],
    ["trim", "{ds}", "{tmp}/t"],  # neither --suggested nor a range
    ["review", "set", "{ds}", "e", "--verdict", "accept", "--reason", "bogus", "--reviewer", "r"],
    ["contract", "init", "--template", "nosuch"],
    ["supply", "status", "--channel", "c", "--contract", "{ds}/embodex.json", "--at", "2026-13-01"],
    ["pull", "--channel", "c", "--contract", "{ds}/embodex.json", "--key", "k", "--into", "d",
     "--watch", "--interval", "xyz"],
]  # fmt: skip

#: well-formed values wrong for the data: exit 1, one line with the fix
FAILURE = [
    ["inspect", "{tmp}/no-such-dataset"],
    ["load", "{ds}", "--where", "nofield=3"],
    ["qc", "run", "{ds}", "--profile", "nosuch"],
    ["keys", "show", "nobody"],
]


@pytest.mark.parametrize("args", USAGE, ids=lambda a: " ".join(a[:3]))
def test_bad_values_the_cli_catches_exit_2(
    args: list[str], dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(ds=dataset, tmp=tmp_path) for a in args]
    code, _, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert "--help`" in lines[0]


@pytest.mark.parametrize("args", FAILURE, ids=lambda a: " ".join(a[:3]))
def test_input_wrong_for_the_data_exits_1(
    args: list[str], dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(ds=dataset, tmp=tmp_path) for a in args]
    code, _, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and " — " in lines[0], (code, err)


def test_the_cli_choices_are_the_sdk_lists() -> None:
    from embodex_cli.main import cli

    init = cli.commands["contract"].commands["init"]  # type: ignore[attr-defined]
    template = next(p for p in init.params if p.name == "template")
    assert tuple(template.type.choices) == TEMPLATES
