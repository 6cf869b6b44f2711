"""`embodex ledger …`: show and verify a party's tamper-evident ledger."""

from __future__ import annotations

from pathlib import Path

import click

from .commands_trust import json_opt
from .render import echo_json, table
from .render_trust import ledger_rows


def _ledger_file(party: str | None, file: Path | None) -> Path:
    from embodex.config import ledger_dir
    from embodex.errors import LedgerError
    from embodex.trust import ledger_path

    if file is not None:
        if not file.is_file():
            raise LedgerError(f"there is no ledger file {file}", hint="Check the path.")
        return file
    found = sorted(ledger_dir().glob("*.jsonl")) if ledger_dir().is_dir() else []
    names = ", ".join(p.stem for p in found) or "none yet"
    if party is not None:
        path = ledger_path(party)
        if not path.is_file():
            raise LedgerError(
                f"there is no ledger for {party!r} in {path.parent} (ledgers here: {names})",
                hint="Name a party with a ledger; a party's first signed event starts one.",
            )
        return path
    if len(found) == 1:
        return found[0]
    raise LedgerError(
        f"say which ledger: PARTY or --file (ledgers here: {names})",
        hint="e.g. `embodex ledger show hubei-centre`.",
    )


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
@json_opt
def ledger_show(party: str | None, file: Path | None, as_json: bool) -> None:
    """List a party's ledger entries (run `ledger verify` to check them).

    \b
    Example:
      embodex ledger show hubei-centre
    """
    from embodex.trust import Ledger, list_keys

    entries = Ledger(_ledger_file(party, file)).entries()
    if as_json:
        echo_json([e.model_dump(mode="json") for e in entries])
        return
    names = {i.identity.key_id: i.identity.name for i in list_keys()}
    click.echo(
        table(["seq", "time", "actor", "event", "document", "note"], ledger_rows(entries, names))
    )


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
@json_opt
def ledger_verify(
    party: str | None, file: Path | None, identities: tuple[str, ...], as_json: bool
) -> None:
    """Check every entry's signature and hash link and the signed head; exit 1 on tampering.

    Names each edited, deleted, inserted or reordered entry, and entries cut off the end.

    \b
    Example:
      embodex ledger verify hubei-centre
    """
    from embodex.contract.file import default_trusted
    from embodex.trust import load_identity, verify_ledger

    idents = [load_identity(x) for x in identities] if identities else default_trusted()
    report = verify_ledger(_ledger_file(party, file), idents)
    if as_json:
        echo_json(report.to_dict())
    else:
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        for p in report.problems:
            click.echo(f"problem: {p.kind}: {p.message}", err=True)
        if report.ok:
            click.echo(
                f"ok: {report.entries} entries, every signature and link verifies, "
                f"signed head at entry {report.head_seq}"
            )
    report.raise_for_problems()
