"""The one output object every command renders through.

A command parses its flags, makes one SDK call and hands the typed result to
``Output.result``: with ``--json`` the result's JSON form goes to stdout (``to_json()`` when
the model has one, a pydantic model's ``model_dump``, a dataclass's fields); otherwise the
command's text renderer turns the same model into lines for people. Lines a renderer marks
with :func:`err` go to stderr (notes, problems, warnings), so scripts reading stdout see
only the result. Progress is for people (:mod:`embodex_cli.progress`): a bar on a terminal,
one summary line otherwise; ``--json`` hides it.

Example::

    @json_option()
    def inspect(dataset: Path, as_json: bool) -> None:
        out = Output(as_json)
        out.result(inspect_dataset(dataset), text=inspect_lines)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from embodex.units import plural

from .progress import Display, clock, display_mode
from .render import colour_enabled, paint

if TYPE_CHECKING:
    from embodex.format.progress import Progress

__all__ = ["Bars", "Err", "Meter", "Output", "err", "json_option", "jsonable", "progress_text"]

M = TypeVar("M")


class Err(str):
    """A rendered line meant for stderr (a note, a problem, a warning), not the result."""

    __slots__ = ()


def err(line: str) -> Err:
    """Mark a rendered line for stderr."""
    return Err(line)


def jsonable(value: Any) -> Any:
    """The JSON form of a result: ``to_json()`` (or ``to_dict()``), a pydantic dump, a
    dataclass's fields, or the value itself (lists and dicts are converted item by item)."""
    for method in ("to_json", "to_dict"):
        to_json = getattr(value, method, None)
        if callable(to_json):
            return to_json()
    from pydantic import BaseModel  # imported on use: the CLI starts without it

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def json_option(help: str = "Print the result as JSON.") -> Callable[[Any], Any]:
    """``--json``: the one definition every command uses."""
    return click.option("--json", "as_json", is_flag=True, help=help)


class Bars:
    """Transfer progress on stderr, one display per batch or one for a publish, in bytes:
    a bar on a terminal, a summary line per display otherwise, nothing with --json."""

    def __init__(self, enabled: bool) -> None:
        self._mode = display_mode(not enabled)
        self._display: Display | None = None

    @property
    def enabled(self) -> bool:
        return self._mode == "bar"

    def start(self, label: str, total: int) -> None:
        self.close()
        self._display = Display(label, total, unit="bytes", mode=self._mode)

    def add(self, n: int) -> None:
        if self._display is not None:
            self._display.advance(n)

    def close(self, *, completed: bool = True) -> None:
        if self._display is not None:
            self._display.close(completed=completed)
            self._display = None

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        # a failed transfer leaves no summary (its error is the line to read) and no
        # half-drawn bar with a hidden cursor
        self.close(completed=kind is None)


class Meter:
    """Progress of one piece of work: ``total(n)`` once the size is known, ``update(n=1)``.

    A bar with count, rate and time left on a terminal (a running count while the size is
    unknown), one summary line when stderr is not a terminal, nothing with --json."""

    def __init__(self, label: str, length: int | None, *, enabled: bool) -> None:
        self._label = label
        self._display = Display(label, length, unit="items", mode=display_mode(not enabled))

    def total(self, length: int) -> None:
        self._display.set_total(length)

    def update(self, n: int = 1) -> None:
        self._display.advance(n)

    def episode(self, p: Progress) -> None:
        """An SDK ``on_progress`` callback (``--ray`` runs): the bar (count, rate, ETA) names
        the worker that did the last episode; off a terminal a line every tenth of the job.
        A bad episode is always printed (unless --json), with the worker it happened on."""
        mode = self._display.mode
        if mode == "off":
            return
        if p.failed is not None:
            where = f" on {p.where}" if p.where else ""
            click.echo(f"{self._label}: episode {p.episode} failed{where}: {p.failed}", err=True)
        self.total(p.total)
        self.update()
        bar = self._display._progress
        if bar is not None and p.where:
            bar.update(self._display._task, description=f"{self._label} (last on {p.where})")
        elif mode == "summary":
            step = max(1, p.total // 10)
            if p.done == p.total or p.done % step == 0:
                click.echo(f"{self._label}: {progress_text(p)}", err=True)

    def close(self, *, completed: bool = True) -> None:
        self._display.close(completed=completed)


def progress_text(p: Progress) -> str:
    """``12/40 episodes, 3.2/s, ETA 0:00:09, last on 10.0.0.7 pid 4711`` (reused ones
    noted)."""
    eta = p.eta_s
    left = "-" if eta is None else clock(eta)
    where = f", last on {p.where}" if p.where else ""
    reused = " (reused from an earlier run)" if p.reused else ""
    done = f"{p.done}/{p.total} {plural('episode', p.total)}"
    return f"{done}, {p.per_s:,.1f}/s, ETA {left}{where}{reused}"


class Output:
    """Where a command's result goes: JSON for scripts (``--json``) or text for people."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def result(self, model: M, text: Callable[[M], Iterable[str]]) -> None:
        """Print ``model``: its JSON form with --json, else the lines ``text`` renders."""
        if self.as_json:
            click.echo(json.dumps(jsonable(model), indent=2, ensure_ascii=False, default=str))
            return
        self.lines(text(model))

    def lines(self, lines: Iterable[str]) -> None:
        """Print rendered lines (those marked with :func:`err` on stderr), whatever the mode."""
        for line in lines:
            to_err = isinstance(line, Err)
            if colour_enabled(sys.stderr if to_err else sys.stdout):
                line = paint(line)  # PASS green, WARN yellow, FAIL red (not with NO_COLOR)
            click.echo(line, err=to_err)

    def live(self, text: Callable[[M], Iterable[str]]) -> Callable[[M], None] | None:
        """A callback printing ``text``'s lines as the SDK reports something mid-way (e.g.
        publish's contract warnings before it uploads); None with --json, whose result holds
        the same facts."""
        if self.as_json:
            return None
        return lambda value: self.lines(text(value))

    @contextmanager
    def progress(self, label: str, length: int | None = None) -> Iterator[Meter]:
        """A progress display for people on stderr: a bar on a terminal, one summary line
        otherwise, nothing with --json.

        With ``length`` the bar has a total (count, rate, time left); without, the SDK may
        announce the size with ``meter.total(n)``, else a running count is shown."""
        meter = Meter(label, length, enabled=not self.as_json)
        try:
            yield meter
        except BaseException:
            meter.close(completed=False)
            raise
        meter.close()

    def bars(self) -> Bars:
        """Progress bars that restart per batch (hidden with --json)."""
        return Bars(not self.as_json)
