"""`embodex keys …`: generate, list, show, export and import identities."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from embodex.config import key_passphrase

from .output import Output, err, json_option
from .render_trust import key_lines, keys_lines, new_key_lines


@click.group()
def keys() -> None:
    """Ed25519 identities: generate, list, show, export and import public keys.

    \b
    Example:
      embodex keys generate hubei-centre --role centre
      embodex keys export hubei-centre > hubei-centre.pub.json
    """


@keys.command("generate")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["centre", "buyer", "reviewer"]), required=True, help="Role."
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="Encrypt the private key (prompts for a passphrase unless EMBODEX_KEY_PASSPHRASE is set).",
)
@json_option()
def keys_generate(name: str, role: str, encrypt: bool, as_json: bool) -> None:
    """Generate a key pair; the private key is stored with mode 0600 under EMBODEX_HOME/keys.

    The key is encrypted when EMBODEX_KEY_PASSPHRASE is set or with --encrypt.

    \b
    Example:
      embodex keys generate hubei-centre --role centre
      EMBODEX_KEY_PASSPHRASE=... embodex keys generate agibot --role buyer
    """
    from embodex.trust import create_key

    passphrase = key_passphrase()
    if passphrase is None and encrypt:
        if not sys.stdin.isatty():
            from embodex.errors import PassphraseError

            raise PassphraseError("--encrypt needs a passphrase and there is no terminal to ask")
        passphrase = click.prompt(
            "New passphrase", hide_input=True, confirmation_prompt=True, err=True
        )
    Output(as_json).result(create_key(name, role, passphrase), text=new_key_lines)


@keys.command("list")
@json_option()
def keys_list(as_json: bool) -> None:
    """List the identities in the key store and whether their private key is here.

    \b
    Example:
      embodex keys list
    """
    from embodex.trust import list_keys

    Output(as_json).result(list_keys(), text=keys_lines)


@keys.command("show")
@click.argument("name")
@json_option()
def keys_show(name: str, as_json: bool) -> None:
    """Show one identity: role, key id, public key and where its files are.

    \b
    Example:
      embodex keys show hubei-centre
    """
    from embodex.trust import describe_key

    Output(as_json).result(describe_key(name), text=key_lines)


@keys.command("export")
@click.argument("name")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file.")
@json_option("Print JSON: the key's name, its identity document and where it was written.")
def keys_export(name: str, out: Path | None, as_json: bool) -> None:
    """Print the public identity file (safe to share; never the private key).

    \b
    Example:
      embodex keys export hubei-centre > hubei-centre.pub.json
      embodex keys export hubei-centre -o hubei-centre.pub.json --json
    """
    from embodex.fsutil import atomic_write_bytes
    from embodex.trust import export_identity

    data = export_identity(name)
    if out is not None:
        atomic_write_bytes(out, data)
    exported = {
        "name": name,
        "out": str(out) if out is not None else None,
        "identity": json.loads(data),
        "text": data.decode(),
    }
    Output(as_json).result(exported, text=_identity_lines)


def _identity_lines(exported: dict[str, Any]) -> list[str]:
    if exported["out"] is not None:
        return [err(f"wrote {exported['out']}")]
    return [str(exported["text"]).removesuffix("\n")]


@keys.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@json_option()
def keys_import(file: Path, as_json: bool) -> None:
    """Trust another party's identity file (store it in the key store).

    \b
    Example:
      embodex keys import hubei-centre.pub.json
    """
    from embodex.trust import import_identity

    Output(as_json).result(
        import_identity(file), text=lambda i: [f"trusting {i.role} {i.name} ({i.key_id})"]
    )
