"""Trust commands: `embodex keys …`, `embodex contract …`, `embodex ledger …`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from embodex.config import key_passphrase

from .render import echo_json, table
from .render_trust import contract_lines, ledger_rows, short


def register(cli: click.Group) -> None:
    for group in (keys, contract, ledger):
        cli.add_command(group)


def _signer(name: str) -> Any:
    """Load a signing key, prompting for the passphrase when it is encrypted and unset."""
    from embodex.trust import key_is_encrypted, load_signer

    passphrase = None
    if key_is_encrypted(name) and key_passphrase() is None and sys.stdin.isatty():
        passphrase = click.prompt(f"Passphrase for key {name}", hide_input=True, err=True)
    return load_signer(name, passphrase)  # no terminal: PassphraseError says what to set


def _trusted(extra: tuple[str, ...]) -> list[Any] | None:
    """The key store plus identities named with --trust (None: the key store alone)."""
    from embodex.trust import load_identity
    from embodex.trust.contract_file import default_trusted

    if not extra:
        return None
    return [*default_trusted(), *(load_identity(x) for x in extra)]


_DATE = click.DateTime(formats=["%Y-%m-%d"])
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
_trust_opt = click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="IDENTITY",
    help="Also trust this identity (key name or .pub.json file); repeatable.",
)
_at_opt = click.option(
    "--at", type=_DATE, default=None, help="Judge the state as of this date (YYYY-MM-DD)."
)


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


# --------------------------------------------------------------------------- keys


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
@_json_opt
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
@_json_opt
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
@_json_opt
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
@_json_opt
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


# --------------------------------------------------------------------------- contract


@click.group()
def contract() -> None:
    """Data service contracts: draft, sign, verify, show, amend, terminate.

    \b
    Example:
      embodex contract init --centre hubei-centre --buyer agibot > contract.yaml
      embodex contract sign contract.yaml --key hubei-centre
    """


@contract.command("init")
@click.option(
    "--template", default="hubei-agibot", show_default=True, help="Template to start from."
)
@click.option("--centre", help="Centre's key name or identity file (fills in its public key).")
@click.option("--buyer", help="Buyer's key name or identity file (fills in its public key).")
@click.option("--start", type=_DATE, help="First day of the term (default: today).")
@click.option("--qc-profile-digest", help="sha256:… digest of the agreed QC profile.")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file.")
def contract_init(
    template: str,
    centre: str | None,
    buyer: str | None,
    start: Any,
    qc_profile_digest: str | None,
    out: Path | None,
) -> None:
    """Print a filled-in contract YAML to edit (humanoid data, 23 scenes, weekly deliveries).

    \b
    Example:
      embodex contract init --template hubei-agibot --centre hubei-centre --buyer agibot \\
          > contract.yaml
    """
    from embodex.fsutil import atomic_write_bytes
    from embodex.trust import load_identity, render_template

    text = render_template(
        template,
        centre=load_identity(centre) if centre else None,
        buyer=load_identity(buyer) if buyer else None,
        start=_day(start),
        qc_profile_digest=qc_profile_digest,
    )
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_bytes(out, text.encode())
        click.echo(f"wrote {out}", err=True)


def _action_result(action: Any, as_json: bool) -> None:
    from embodex.trust.summary import describe_contract

    v = action.verified
    if as_json:
        echo_json(
            {
                "path": str(action.path),
                "event": action.event,
                "ledger_seq": action.ledger_entry.seq if action.ledger_entry else None,
                "contract": describe_contract(v),
            }
        )
        return
    c = v.latest
    who = ", ".join(v.signed_by) or "nobody"
    click.echo(
        f"{action.event}: {c.contract_id} v{c.version} signed by {who} -> {action.path} "
        f"(state {v.state.value}, digest {short(c.digest)})"
    )


def _action_options(command: Any) -> Any:
    """--key, --trust, --at, --no-ledger and --json: what every signing action takes."""
    for option in reversed(
        (
            click.option("--key", "key", required=True, help="Name of your signing key."),
            _trust_opt,
            _at_opt,
            click.option("--no-ledger", is_flag=True, help="Do not record it in your ledger."),
            _json_opt,
        )
    ):
        command = option(command)
    return command


def _run_action(sdk_function: Any, opts: dict[str, Any], **arguments: Any) -> None:
    """Call one SDK contract action with the common options, then render its result."""
    action = sdk_function(
        signer=_signer(opts["key"]),
        trusted=_trusted(opts["trust"]),
        at=_day(opts["at"]),
        record=not opts["no_ledger"],
        **arguments,
    )
    _action_result(action, opts["as_json"])


@contract.command("sign")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the signed file.")
@_action_options
def contract_sign(file: Path, out: Path | None, **opts: Any) -> None:
    """Sign a YAML draft (an offer, written to NAME.signed.json) or countersign a signed file.

    \b
    Example:
      embodex contract sign contract.yaml --key hubei-centre          # OFFERED
      embodex contract sign contract.signed.json --key agibot         # AGREED
    """
    from embodex.trust import sign_contract

    _run_action(sign_contract, opts, source=file, out=out)


@contract.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_trust_opt
@_at_opt
@_json_opt
def contract_verify(file: Path, trust: tuple[str, ...], at: Any, as_json: bool) -> None:
    """Verify every signature of a signed contract; exit 1 if it is expired or terminated.

    \b
    Example:
      embodex contract verify contract.signed.json
      embodex contract verify contract.signed.json --at 2026-06-01 --json
    """
    from embodex.trust import verify_contract_file
    from embodex.trust.summary import describe_contract

    verified = verify_contract_file(file, _trusted(trust), at=_day(at), reject_ended=True)
    if as_json:
        echo_json(describe_contract(verified))
        return
    c = verified.contract
    who = ", ".join(f"{p.role} {p.name}" for p in verified.latest_signers)
    click.echo(
        f"ok: {c.contract_id} v{c.version} {verified.state.value}, signed by {who}, "
        f"digest {c.digest}"
    )


@contract.command("show")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_trust_opt
@_at_opt
@_json_opt
def contract_show(file: Path, trust: tuple[str, ...], at: Any, as_json: bool) -> None:
    """Summarise a contract: state, who signed, term, volume, scope, price, usage.

    A YAML draft is shown as DRAFT; a signed file is verified first.

    \b
    Example:
      embodex contract show contract.signed.json
    """
    from embodex.trust.summary import show_contract

    data = show_contract(file, _trusted(trust), at=_day(at))
    if as_json:
        echo_json(data)
        return
    for line in contract_lines(data):
        click.echo(line)


@contract.command("amend")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--changes",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="YAML of the whole new version (version and replaces are filled in).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Where to write the amendment.")
@_action_options
def contract_amend(file: Path, changes: Path, out: Path | None, **opts: Any) -> None:
    """Offer an amendment: a new version signed by you; the other party signs it to agree.

    \b
    Example:
      embodex contract amend contract.signed.json --changes contract-v2.yaml --key hubei-centre
      embodex contract sign hubei-agibot-2026-001-v2.signed.json --key agibot
    """
    from embodex.trust import amend_contract

    _run_action(amend_contract, opts, path=file, changes=changes, out=out)


@contract.command("terminate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--reason", required=True, help="Why the contract ends (recorded and signed).")
@click.option("--effective", type=_DATE, help="Date it ends (default: today).")
@_action_options
def contract_terminate(file: Path, reason: str, effective: Any, **opts: Any) -> None:
    """Terminate an agreed contract with a signed notice and a reason.

    \b
    Example:
      embodex contract terminate contract.signed.json --key agibot \\
          --reason "three missed deliveries"
    """
    from embodex.trust import terminate_contract

    _run_action(terminate_contract, opts, path=file, reason=reason, effective=_day(effective))


# --------------------------------------------------------------------------- ledger


def _ledger_file(party: str | None, file: Path | None) -> Path:
    from embodex.config import ledger_dir
    from embodex.errors import LedgerError
    from embodex.trust import ledger_path

    if file is not None:
        return file
    if party is not None:
        return ledger_path(party)
    found = sorted(ledger_dir().glob("*.jsonl")) if ledger_dir().is_dir() else []
    if len(found) == 1:
        return found[0]
    names = ", ".join(p.stem for p in found) or "none yet"
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
@_json_opt
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
@_json_opt
def ledger_verify(
    party: str | None, file: Path | None, identities: tuple[str, ...], as_json: bool
) -> None:
    """Check every entry's signature and hash link and the signed head; exit 1 on tampering.

    Names each edited, deleted, inserted or reordered entry, and entries cut off the end.

    \b
    Example:
      embodex ledger verify hubei-centre
    """
    from embodex.trust import load_identity, verify_ledger
    from embodex.trust.contract_file import default_trusted

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
