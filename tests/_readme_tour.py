"""Run the README's tour: the fenced blocks marked ``<!-- tour -->`` (like sqlite-utils'
documentation tests), as a reader would paste them into one terminal.

The marker is an HTML comment on the line before the fence, so GitHub renders the block as
usual. ``bash`` blocks run as they are; a ``python`` block runs from a file named after its
README line, so that a traceback points at the README. Every block runs in ONE bash
process, in order (a variable set in one block is there in the next, as in a terminal),
under ``set -eo pipefail`` with an ERR trap that reports the failing command, its exit code
and its line; :func:`run_tour` turns that into a message naming the README block, line and
command.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

MARKER = "<!-- tour -->"
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
#: what the ERR trap prints: exit code, script line, the command as written
_FAILED = "EMBODEX-TOUR-FAILED"
_FAILED_LINE = re.compile(rf"^{_FAILED} (\d+) (\d+) (.*)$", re.MULTILINE)
_PY_FILE = re.compile(r'File "[^"]*readme-line-(\d+)\.py", line (\d+)')


@dataclass(frozen=True)
class Block:
    """One marked block: its language, its code and the README line of its first code line."""

    number: int
    language: str
    code: str
    line: int

    @property
    def last_line(self) -> int:
        return self.line + self.code.count("\n") - 1


def tour_blocks(markdown: str) -> list[Block]:
    """Every fenced block right after a ``<!-- tour -->`` line, in order."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARKER:
            i += 1
            continue
        fence = lines[i + 1] if i + 1 < len(lines) else ""
        m = re.match(r"^(`{3,})(\w+)", fence)
        if m is None or m.group(2) not in LANGUAGES:
            raise ValueError(
                f"README line {i + 1}: {MARKER} must come right before a ```bash or "
                f"```python fence, not {fence!r}"
            )
        end = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == m.group(1)), None)
        if end is None:
            raise ValueError(f"README line {i + 2}: the tour block is never closed")
        code = "".join(line + "\n" for line in lines[i + 2 : end])
        blocks.append(Block(len(blocks) + 1, LANGUAGES[m.group(2)], code, i + 3))
        i = end + 1
    return blocks


@dataclass(frozen=True)
class TourResult:
    returncode: int
    output: str
    #: None when every block ran; else what failed, for a person
    failure: str | None


def _script(blocks: list[Block], workdir: Path) -> tuple[str, dict[int, Block]]:
    """The bash script running ``blocks`` in order, and script line -> block."""
    out = [
        "set -eo pipefail",
        f"trap 'echo \"{_FAILED} $? $LINENO $BASH_COMMAND\" >&2' ERR",
    ]
    owner: dict[int, Block] = {}
    for block in blocks:
        if block.language == "python":
            src = workdir / f"readme-line-{block.line}.py"
            src.write_text(block.code, encoding="utf-8")
            out.append(f"python {shlex.quote(str(src))}")
            owner[len(out)] = block
            continue
        for k, line in enumerate(block.code.splitlines()):
            out.append(line)
            owner[len(out)] = Block(block.number, block.language, block.code, block.line + k)
    return "\n".join(out) + "\n", owner


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.splitlines() if not line.startswith(_FAILED)]
    return "\n".join("    " + line for line in kept[-lines:])


def run_tour(
    blocks: list[Block], cwd: Path, env: dict[str, str], *, timeout: float = 300
) -> TourResult:
    """Run ``blocks`` in ``cwd`` with ``env``; the result says which block and command broke."""
    scripts = cwd / ".tour"
    scripts.mkdir(parents=True, exist_ok=True)
    script, owner = _script(blocks, scripts)
    (scripts / "tour.sh").write_text(script, encoding="utf-8")
    try:
        proc = subprocess.run(
            ["bash", str(scripts / "tour.sh")],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        return TourResult(-1, out, f"the README tour ran past {timeout:.0f} s:\n{_tail(out)}")
    output = _PY_FILE.sub(lambda m: _readme_line(m, owner), proc.stdout)
    if proc.returncode == 0:
        return TourResult(0, output, None)
    return TourResult(proc.returncode, output, _failure(proc.returncode, output, owner))


def _readme_line(m: re.Match[str], owner: dict[int, Block]) -> str:
    start, line = int(m.group(1)), int(m.group(2))
    return f'File "README.md", line {start + line - 1}'


def _failure(code: int, output: str, owner: dict[int, Block]) -> str:
    hits = _FAILED_LINE.findall(output)
    if not hits:
        return f"the README tour stopped with exit code {code}:\n{_tail(output)}"
    status, line, command = hits[0]
    where = owner.get(int(line))
    if where is None:  # bash reports the line a multi-line command ends on, or near it
        near = [k for k in owner if k <= int(line)]
        where = owner[max(near)] if near else None
    place = (
        f"block {where.number} ({where.language}, README.md line {where.line})"
        if where is not None
        else f"script line {line}"
    )
    return (
        f"README tour {place}: `{command.strip()}` exited {status}\n"
        f"  (fix the README or the command; the last output was)\n{_tail(output)}"
    )


def tour_env(home: Path, channel: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh reader: its own EMBODEX_HOME, the channel to use."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMBODEX_", "AWS_", "HF_")) and k != "CHANNEL"
    }
    env.update({"EMBODEX_HOME": str(home), "CHANNEL": channel, "NO_COLOR": "1"})
    env.update(extra or {})
    return env
