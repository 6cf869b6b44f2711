"""One rendering stack: every command prints through ``embodex_cli.output.Output``, so text
and --json come from the same SDK result and no command branches on --json itself."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from embodex_cli.main import cli
from embodex_cli.output import Output, err, jsonable

CLI_DIR = Path(__file__).resolve().parents[1] / "cli" / "embodex_cli"


def _modules() -> list[Path]:
    return sorted(CLI_DIR.glob("*.py"))


def test_no_command_branches_on_json() -> None:
    """``as_json`` only goes to ``Output(as_json)`` (or a signature): nothing tests it."""
    found = []
    for path in _modules():
        if path.name == "output.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If | ast.IfExp | ast.BoolOp | ast.UnaryOp | ast.Compare):
                test = node.test if isinstance(node, ast.If | ast.IfExp) else node
                names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
                if "as_json" in names:
                    found.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.keyword) and node.arg == "enabled":
                found.append(f"{path.name}:{node.value.lineno} (progress enabled=…)")
    assert found == []


def test_the_json_option_is_defined_once() -> None:
    """``--json`` is declared by ``output.json_option`` alone (no second ``json_opt``)."""
    declared = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        declared += [
            f"{path.name}:{text[: m.start()].count(chr(10)) + 1}"
            for m in re.finditer(r"click\.option\(\s*\"--json\"", text)
        ]
    assert declared == [f"output.py:{_line_of('output.py', 'click.option(')}"]


def _line_of(name: str, needle: str) -> int:
    lines = (CLI_DIR / name).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line and "--json" in line)


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix}{name} ")
        else:
            out.append((f"{prefix}{name}", command))
    return out


def test_every_json_flag_says_it_prints_json() -> None:
    with_json = [
        (name, p)
        for name, command in _commands(cli)
        for p in command.params
        if isinstance(p, click.Option) and "--json" in p.opts
    ]
    assert len(with_json) > 40  # almost every command
    for name, option in with_json:
        assert option.is_flag and option.name == "as_json", name
        assert "JSON" in (option.help or ""), name


@dataclass(frozen=True)
class _Plain:
    n: int
    where: Path


class _Model(BaseModel):
    n: int


class _Own:
    def to_json(self) -> dict[str, int]:
        return {"own": 1}


def test_jsonable_prefers_the_models_own_form() -> None:
    assert jsonable(_Own()) == {"own": 1}
    assert jsonable(_Model(n=2)) == {"n": 2}
    assert jsonable(_Plain(3, Path("a"))) == {"n": 3, "where": Path("a")}
    assert jsonable([_Own(), {"k": _Model(n=1)}]) == [{"own": 1}, {"k": {"n": 1}}]


def test_output_renders_one_model_two_ways(capsys: pytest.CaptureFixture[str]) -> None:
    def text(m: _Model) -> list[str]:
        return [f"n is {m.n}", err("a note")]

    Output(False).result(_Model(n=5), text=text)
    got = capsys.readouterr()
    assert got.out == "n is 5\n" and got.err == "a note\n"
    Output(True).result(_Model(n=5), text=text)
    got = capsys.readouterr()
    assert json.loads(got.out) == {"n": 5} and got.err == ""
    assert Output(True).live(text) is None
    callback = Output(False).live(text)
    assert callback is not None
    callback(_Model(n=1))
    assert capsys.readouterr().out == "n is 1\n"
