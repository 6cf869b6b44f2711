"""Entry point: the command group and the one place errors become messages and exit codes.

Exit codes: 0 done; 1 an error (bad input, damaged data, a check that failed); 2 a usage
error (unknown option, bad value); 3 QC ran and an episode FAILs (``QCFailedError``);
130 interrupted. An ``EmbodexError`` subclass picks its code with ``exit_code``; the line it
prints comes from the table in :mod:`embodex_cli.errors` (the fix in the command line's words).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from embodex._version import __version__
from embodex.config import debug_enabled

# Each command module exposes register(cli); one line per module keeps merges trivial. They
# are imported when a command is looked up or listed, not for `embodex --version` (fast start).
COMMAND_MODULES = (
    "commands_format",
    "commands_qc",
    "commands_trust",
    "commands_interop",
    "commands_train",
    "commands_delivery",
    "commands_market",
    "commands_console",
    "commands_privacy",
)

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class EmbodexGroup(click.Group):
    """The command group; its commands register on first use (listing, lookup, completion),
    so ``embodex --version`` imports no command module."""

    _registered = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._registered:
            self._registered = True
            for name in COMMAND_MODULES:
                importlib.import_module(f"{__package__}.{name}").register(self)
            from .complete import attach_completion

            attach_completion(self)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value


@click.group(
    cls=EmbodexGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="embodex")
@click.option(
    "--units",
    type=click.Choice(["auto", "h", "min", "s"]),
    default=None,
    help="Unit of every duration shown (text and HTML pages; --json keeps exact hours). "
    "Default: EMBODEX_UNITS, else auto (the unit each table or page reads best in).",
)
@click.pass_context
def cli(ctx: click.Context, units: str | None) -> None:
    """embodex: package, check, sign, deliver and load embodied-AI training data.

    Set EMBODEX_DEBUG=1 to see tracebacks, EMBODEX_UNITS=h|min|s to choose the unit of
    durations. Every command has --help with an example.

    \b
    Example:
      embodex synth demo/ds --episodes 20 --seed 1
      embodex inspect demo/ds
      embodex --units min supply status --contract contract.signed.json --channel ch/
    """
    from embodex.units import use_unit

    ctx.with_resource(use_unit(units))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to one line on stderr and a non-zero exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="embodex", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        # one line like every other error (click's own takes three), with where to look
        click.echo(f"error: {_click_error_line(exc)}", err=True)
        sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        _fail(exc, args)


def _fail(exc: Exception, args: list[str]) -> Any:
    """One line on stderr for ``exc`` and its exit code (the SDK's error table is imported
    only when something failed)."""
    import traceback

    from embodex.errors import EmbodexError

    from .errors import error_line

    if isinstance(exc, EmbodexError):
        if debug_enabled():
            traceback.print_exc()
        click.echo(f"error: {error_line(exc, _command_path(args))}", err=True)
        worker = getattr(exc, "ray_worker", None)  # raised in a Ray task (--ray): where
        if worker:
            click.echo(f"  (it happened on Ray worker {worker})", err=True)
        sys.exit(exc.exit_code)
    if isinstance(exc, OSError):
        if debug_enabled():
            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        click.echo(
            f"error: {exc.strerror or exc}{where} — "
            "check the path, permissions and free disk space",
            err=True,
        )
        sys.exit(EXIT_FAILURE)
    if debug_enabled():
        raise exc
    click.echo(
        f"error: internal error {type(exc).__name__}: {exc} — "
        "run again with EMBODEX_DEBUG=1 and report the traceback",
        err=True,
    )
    sys.exit(EXIT_FAILURE)


def _command_path(args: list[str]) -> str:
    """The command ``args`` ran (``embodex qc run``): its leading command names."""
    words: list[str] = ["embodex"]
    command: click.Command = cli
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            break
        command = command.commands[arg]
        words.append(arg)
    return " ".join(words)


def _click_error_line(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError):
        where = exc.ctx.command_path if exc.ctx is not None else "embodex"
        return f"{message} — see `{where} --help`"
    return message
