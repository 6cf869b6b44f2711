"""`embodex ledger …`: show and verify a party's tamper-evident ledger."""

from __future__ import annotations

from pathlib import Path

import click

from .output import Output, json_option
from .render_trust import ledger_lines, ledger_report_lines

_party_arg = click.argument("party", required=False)
_file_opt = click.option(
    "--file", type=click.Path(path_type=Path, dir_okay=False), help="A ledger file to read."
)


@click.group()
def ledger() -> None:
    """The tamper-evident ledger of the trade: one signed hash chain per party.

    \b
    Example:
      embodex ledger show hubei-centre
      embodex ledger verify hubei-centre
    """


@ledger.command("show")
@_party_arg
@_file_opt
@json_option()
def ledger_show(party: str | None, file: Path | None, as_json: bool) -> None:
    """List a party's ledger entries (run `ledger verify` to check them).

    \b
    Example:
      embodex ledger show hubei-centre
    """
    from embodex.trust import read_ledger

    Output(as_json).result(read_ledger(party, file), text=ledger_lines)


@ledger.command("verify")
@_party_arg
@_file_opt
@click.option(
    "--identity",
    "identities",
    multiple=True,
    metavar="IDENTITY",
    help="Keys allowed to write the ledger (default: the whole key store); repeatable.",
)
@json_option()
def ledger_verify(
    party: str | None, file: Path | None, identities: tuple[str, ...], as_json: bool
) -> None:
    """Check every entry's signature and hash link and the signed head; exit 1 on tampering.

    Names each edited, deleted, inserted or reordered entry, and entries cut off the end.

    \b
    Example:
      embodex ledger verify hubei-centre
    """
    from embodex.trust import check_ledger

    report = check_ledger(party, file, identities)
    Output(as_json).result(report, text=ledger_report_lines)
    report.raise_for_problems()
