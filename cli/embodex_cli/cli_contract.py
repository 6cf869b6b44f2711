"""`embodex contract …`: draft, sign, verify, show, amend, terminate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .commands_trust import (
    DATE,
    at_opt,
    day,
    load_signer_cli,
    trust_opt,
    trusted_identities,
)
from .output import Output, err, json_option
from .render_trust import contract_action_lines, contract_check_lines, contract_lines


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
    "--template",
    default="hubei-agibot",
    show_default=True,
    help="Template to start from.",
    type=click.Choice(["hubei-agibot"]),  # embodex.contract.TEMPLATES (tests keep them equal)
)
@click.option(
    "--centre", help="Centre's key name, or identity file (with a / or .json): its public key."
)
@click.option(
    "--buyer", help="Buyer's key name, or identity file (with a / or .json): its public key."
)
@click.option("--start", type=DATE, help="First day of the term (default: today).")
@click.option("--qc-profile-digest", help="sha256:… digest of the agreed QC profile.")
@click.option(
    "--from-quote",
    "from_quote",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Draft from an accepted quote (`embodex quote … -o quote.json`) instead of a template.",
)
@click.option(
    "--catalog",
    help="With --from-quote: the catalogue (folder or channel URL) whose signed listing the "
    "quote must match (default: where the quote was priced from).",
)
@trust_opt
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write to this file.")
@click.option(
    "--at", "at", type=DATE, default=None,
    help="With --from-quote: draft as of this date (YYYY-MM-DD); past demand dates are refused.",
)  # fmt: skip
@json_option("Print the draft as JSON: its YAML text, where it came from, where it went.")
def contract_init(
    template: str,
    centre: str | None,
    buyer: str | None,
    start: Any,
    qc_profile_digest: str | None,
    from_quote: Path | None,
    catalog: str | None,
    trust: tuple[str, ...],
    out: Path | None,
    at: Any,
    as_json: bool,
) -> None:
    """Print a filled-in contract YAML to edit (humanoid data, 23 scenes, weekly deliveries).

    With --from-quote every field comes from the quote: scope, volume, schedule, price per
    accepted hour, acceptance with the QC profile digest, and the licence's usage terms.
    The quote is not signed, so it is checked first against the centre's signed listing
    (--catalog, verified against your key store and --trust): it must name that listing
    and every factor and figure must be what its price sheet gives.

    \b
    Example:
      embodex contract init --template hubei-agibot --centre hubei-centre --buyer agibot \\
          > contract.yaml
      embodex contract init --from-quote quote.json --catalog catalog --buyer agibot \\
          -o contract.yaml
      embodex contract init --centre hubei-centre --buyer agibot --json | jq -r .yaml
    """
    from embodex.contract import render_template
    from embodex.fsutil import atomic_write_bytes
    from embodex.trust import load_identity

    centre_id = load_identity(centre) if centre else None
    buyer_id = load_identity(buyer) if buyer else None
    if from_quote is not None:
        if start is not None or qc_profile_digest is not None:
            raise click.UsageError("--start and --qc-profile-digest come from the quote")
        from embodex.market import contract_from_quote

        text = contract_from_quote(
            from_quote,
            catalog=catalog,
            trusted=trusted_identities(trust),
            buyer=buyer_id,
            centre=centre_id,
            today=day(at),
        )
    else:
        if catalog is not None:
            raise click.UsageError("--catalog goes with --from-quote")
        text = render_template(
            template,
            centre=centre_id,
            buyer=buyer_id,
            start=day(start),
            qc_profile_digest=qc_profile_digest,
        )
    if out is not None:
        atomic_write_bytes(out, text.encode())
    draft = {
        "source": "quote" if from_quote is not None else "template",
        "template": None if from_quote is not None else template,
        "quote": str(from_quote) if from_quote is not None else None,
        "out": str(out) if out is not None else None,
        "yaml": text,
    }
    Output(as_json).result(draft, text=_written_or_text)


def _written_or_text(draft: dict[str, Any]) -> list[str]:
    """The document itself on stdout, or (written to a file) a note on stderr."""
    if draft["out"] is not None:
        return [err(f"wrote {draft['out']}")]
    return [str(draft["yaml"]).removesuffix("\n")]


def _action_options(command: Any) -> Any:
    """--key, --trust, --at, --no-ledger and --json: what every signing action takes."""
    for option in reversed(
        (
            click.option("--key", "key", required=True, help="Name of your signing key."),
            trust_opt,
            at_opt,
            click.option("--no-ledger", is_flag=True, help="Do not record it in your ledger."),
            json_option(),
        )
    ):
        command = option(command)
    return command


def _run_action(sdk_function: Any, opts: dict[str, Any], **arguments: Any) -> None:
    """Call one SDK contract action with the common options, then render its result."""
    action = sdk_function(
        signer=load_signer_cli(opts["key"]),
        trusted=trusted_identities(opts["trust"]),
        at=day(opts["at"]),
        record=not opts["no_ledger"],
        **arguments,
    )
    Output(opts["as_json"]).result(action, text=contract_action_lines)


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
    from embodex.contract import sign_contract

    _run_action(sign_contract, opts, source=file, out=out)


@contract.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@trust_opt
@at_opt
@json_option()
def contract_verify(file: Path, trust: tuple[str, ...], at: Any, as_json: bool) -> None:
    """Verify every signature of a signed contract; exit 1 if it is expired or terminated.

    With --json the verdict is always on stdout: the contract's summary with "ok": true, or
    "ok": false with the error (and the state when the signatures verified) — exit 1 then.

    \b
    Example:
      embodex contract verify contract.signed.json
      embodex contract verify contract.signed.json --at 2026-06-01 --json
    """
    from embodex.contract.summary import check_contract

    check = check_contract(file, trusted_identities(trust), at=day(at))
    Output(as_json).result(check, text=contract_check_lines)
    check.raise_for_status()


@contract.command("show")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@trust_opt
@at_opt
@json_option()
def contract_show(file: Path, trust: tuple[str, ...], at: Any, as_json: bool) -> None:
    """Summarise a contract: state, who signed, term, volume, scope, price, usage.

    A YAML draft is shown as DRAFT; a signed file is verified first.

    \b
    Example:
      embodex contract show contract.signed.json
    """
    from embodex.contract.summary import show_contract

    Output(as_json).result(
        show_contract(file, trusted_identities(trust), at=day(at)), text=contract_lines
    )


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
    from embodex.contract import amend_contract

    _run_action(amend_contract, opts, path=file, changes=changes, out=out)


@contract.command("terminate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--reason", required=True, help="Why the contract ends (recorded and signed).")
@click.option("--effective", type=DATE, help="Date it ends (default: today).")
@_action_options
def contract_terminate(file: Path, reason: str, effective: Any, **opts: Any) -> None:
    """Terminate an agreed contract with a signed notice and a reason.

    \b
    Example:
      embodex contract terminate contract.signed.json --key agibot \\
          --reason "three missed deliveries"
    """
    from embodex.contract import terminate_contract

    _run_action(terminate_contract, opts, path=file, reason=reason, effective=day(effective))
