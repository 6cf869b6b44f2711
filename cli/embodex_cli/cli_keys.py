"""`embodex keys …`: generate, list, show, export and import identities."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from embodex.config import key_passphrase

from .commands_trust import json_opt
from .render import echo_json, table


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
@json_opt
def keys_generate(name: str, role: str, encrypt: bool, as_json: bool) -> None:
    """Generate a key pair; the private key is stored with mode 0600 under EMBODEX_HOME/keys.

    The key is encrypted when EMBODEX_KEY_PASSPHRASE is set or with --encrypt.

    \b
    Example:
      embodex keys generate hubei-centre --role centre
      EMBODEX_KEY_PASSPHRASE=... embodex keys generate agibot --role buyer
    """
    from embodex.trust import generate_key

    passphrase = key_passphrase()
    if passphrase is None and encrypt:
        if not sys.stdin.isatty():
            from embodex.errors import PassphraseError

            raise PassphraseError("--encrypt needs a passphrase and there is no terminal to ask")
        passphrase = click.prompt(
            "New passphrase", hide_input=True, confirmation_prompt=True, err=True
        )
    ident = generate_key(name, role, passphrase)
    if as_json:
        echo_json({**ident.model_dump(mode="json"), "encrypted": passphrase is not None})
        return
    lock = "encrypted" if passphrase else "not encrypted"
    click.echo(f"generated {role} key {name} ({ident.key_id}, private key {lock})")


@keys.command("list")
@json_opt
def keys_list(as_json: bool) -> None:
    """List the identities in the key store and whether their private key is here.

    \b
    Example:
      embodex keys list
    """
    from embodex.trust import list_keys

    infos = list_keys()
    rows = [
        {
            **i.identity.model_dump(mode="json"),
            "private_key": i.private_key_path is not None,
            "encrypted": i.encrypted,
            "permissions_ok": i.permissions_ok,
        }
        for i in infos
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no keys yet: embodex keys generate NAME --role centre|buyer|reviewer")
        return
    click.echo(
        table(
            ["name", "role", "key id", "private key"],
            [
                [
                    r["name"],
                    r["role"],
                    r["key_id"],
                    ("encrypted" if r["encrypted"] else "yes")
                    + ("" if r["permissions_ok"] else " (LOOSE PERMISSIONS)")
                    if r["private_key"]
                    else "no (public only)",
                ]
                for r in rows
            ],
        )
    )


@keys.command("show")
@click.argument("name")
@json_opt
def keys_show(name: str, as_json: bool) -> None:
    """Show one identity: role, key id, public key and where its files are.

    \b
    Example:
      embodex keys show hubei-centre
    """
    from embodex.trust import list_keys, load_identity

    ident = load_identity(name)
    info = next((i for i in list_keys() if i.identity.name == ident.name), None)
    data = {
        **ident.model_dump(mode="json"),
        "identity_file": str(info.identity_path) if info else None,
        "private_key_file": str(info.private_key_path) if info and info.private_key_path else None,
        "encrypted": bool(info and info.encrypted),
    }
    if as_json:
        echo_json(data)
        return
    for key in ("name", "role", "key_id", "public_key", "identity_file", "private_key_file"):
        click.echo(f"{key.replace('_', ' '):>16}  {data[key] or '-'}")
    click.echo(f"{'encrypted':>16}  {'yes' if data['encrypted'] else 'no'}")


@keys.command("export")
@click.argument("name")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file.")
def keys_export(name: str, out: Path | None) -> None:
    """Print the public identity file (safe to share; never the private key).

    \b
    Example:
      embodex keys export hubei-centre > hubei-centre.pub.json
    """
    from embodex.fsutil import atomic_write_bytes
    from embodex.trust import export_identity

    data = export_identity(name)
    if out is None:
        click.echo(data.decode(), nl=False)
    else:
        atomic_write_bytes(out, data)
        click.echo(f"wrote {out}", err=True)


@keys.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@json_opt
def keys_import(file: Path, as_json: bool) -> None:
    """Trust another party's identity file (store it in the key store).

    \b
    Example:
      embodex keys import hubei-centre.pub.json
    """
    from embodex.trust import import_identity

    ident = import_identity(file)
    if as_json:
        echo_json(ident.model_dump(mode="json"))
    else:
        click.echo(f"trusting {ident.role} {ident.name} ({ident.key_id})")
