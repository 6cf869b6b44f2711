"""Trust commands: `embodex keys …`, `embodex contract …`, `embodex ledger …`.

This module registers the three groups (``cli_keys``, ``cli_contract``, ``cli_ledger``) and
holds what they share: loading a signing key, the trusted identities, common options.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click

from embodex.config import key_passphrase


def register(cli: click.Group) -> None:
    from .cli_contract import contract
    from .cli_keys import keys
    from .cli_ledger import ledger

    for group in (keys, contract, ledger):
        cli.add_command(group)


def load_signer_cli(name: str) -> Any:
    """Load a signing key, prompting for the passphrase when it is encrypted and unset."""
    from embodex.trust import key_is_encrypted, load_signer

    passphrase = None
    if key_is_encrypted(name) and key_passphrase() is None and sys.stdin.isatty():
        passphrase = click.prompt(f"Passphrase for key {name}", hide_input=True, err=True)
    return load_signer(name, passphrase)  # no terminal: PassphraseError says what to set


def trusted_identities(extra: tuple[str, ...]) -> list[Any] | None:
    """--trust: the key store plus these identities (``embodex.trust.trusted_identities``;
    imported here, on use, so that commands without signatures never load the trust layer)."""
    from embodex.trust import trusted_identities as trusted

    return trusted(extra)


DATE = click.DateTime(formats=["%Y-%m-%d"])
trust_opt = click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="IDENTITY",
    help="Also trust this identity (key name, or a file path with a / or .json); repeatable.",
)
at_opt = click.option(
    "--at", type=DATE, default=None, help="Judge the state as of this date (YYYY-MM-DD)."
)


def day(value: Any) -> date | None:
    return value.date() if value is not None else None
