"""`embodex channel refresh|show|notice|revoke` and `embodex receipt countersign|post`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from .commands_delivery import WHEN, channel_options, no_ledger_opt, ttl_opt
from .commands_trust import load_signer_cli
from .output import Output, json_option
from .render_delivery import (
    channel_lines,
    countersign_lines,
    head_lines,
    notice_lines,
    post_lines,
)


@click.group()
def channel() -> None:
    """A delivery channel: show it, refresh its head, send notices, revoke a batch.

    \b
    Example:
      embodex channel show --channel s3://acme/deliveries --contract contract.signed.json
      embodex channel refresh --channel s3://acme/deliveries --contract contract.signed.json \\
          --key hubei-centre
    """


@channel.command("show")
@channel_options(key=False)
@json_option()
def channel_show(url: str, contract: Path, at: datetime | None, as_json: bool) -> None:
    """Verify a channel and list its head, batches (with receipts) and notices.

    \b
    Example:
      embodex channel show --channel deliveries/channel --contract contract.signed.json
      embodex channel show acme    # a remote (`embodex remote add`)
    """
    from embodex.delivery import describe_channel

    Output(as_json).result(describe_channel(url, contract, now=at), text=channel_lines)


@channel.command("refresh")
@channel_options(key=True)
@ttl_opt
@json_option()
def channel_refresh(
    url: str, contract: Path, key: str, at: datetime | None, ttl: timedelta, as_json: bool
) -> None:
    """Re-sign the channel's head with a new expiry (run it daily, e.g. from cron).

    Buyers refuse an expired head, so a channel nobody refreshes looks frozen to them.

    \b
    Example:
      embodex channel refresh --channel s3://acme/deliveries --contract contract.signed.json \\
          --key hubei-centre --ttl 2d
    """
    from embodex.delivery import refresh_channel

    update = refresh_channel(url, contract, load_signer_cli(key), ttl=ttl, now=at)
    Output(as_json).result(update, text=head_lines)


@channel.command("notice")
@channel_options(key=True)
@click.option(
    "--type", "kind", required=True, type=click.Choice(["delay", "schema_change"]),
    help="What the notice announces (to revoke a batch use `channel revoke`).",
)  # fmt: skip
@click.option("--reason", required=True, help="What happened and why (sent to the buyer).")
@click.option("--batch", type=click.IntRange(1), help="The batch it is about, if any.")
@click.option("--period", type=click.IntRange(1), help="Delay: the delivery period delayed.")
@click.option("--expected-by", type=WHEN, help="Delay: when the delivery is now expected.")
@ttl_opt
@no_ledger_opt
@json_option()
def channel_notice(
    url: str,
    contract: Path,
    key: str,
    at: datetime | None,
    kind: str,
    reason: str,
    batch: int | None,
    period: int | None,
    expected_by: datetime | None,
    ttl: timedelta,
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Send the buyer a signed notice: a delivery delay or a schema change.

    \b
    Example:
      embodex channel notice --channel s3://acme/deliveries --contract contract.signed.json \\
          --key hubei-centre --type delay --period 7 --expected-by 2026-02-25 \\
          --reason "robot H2-00017 is in repair"
    """
    from embodex.delivery import send_notice

    result = send_notice(
        url, contract, load_signer_cli(key), type=kind, reason=reason, batch=batch,
        period=period, expected_by=expected_by.date() if expected_by else None, ttl=ttl,
        now=at, record=not no_ledger,
    )  # fmt: skip
    Output(as_json).result(result, text=notice_lines)


@channel.command("revoke")
@channel_options(key=True)
@click.option("--batch", type=click.IntRange(1), help="The batch to withdraw (all of it).")
@click.option(
    "--episode", "episodes", multiple=True, metavar="ID",
    help="Withdraw only this delivered episode (repeat): a per-episode revocation.",
)  # fmt: skip
@click.option("--reason", required=True, help="Why (mandatory; the buyer sees it).")
@ttl_opt
@no_ledger_opt
@json_option()
def channel_revoke(
    url: str,
    contract: Path,
    key: str,
    at: datetime | None,
    batch: int | None,
    episodes: tuple[str, ...],
    reason: str,
    ttl: timedelta,
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Revoke a published batch, or single episodes: the buyer's next pull drops them.

    With --episode, each batch holding named episodes gets a signed notice listing only
    those (e.g. an operator's consent withdrawn); the buyer's pull removes them from
    training and signs a deletion receipt.

    \b
    Example:
      embodex channel revoke --channel s3://acme/deliveries --contract contract.signed.json \\
          --key hubei-centre --batch 3 --reason "recording damaged"
      embodex channel revoke --channel s3://acme/deliveries --contract contract.signed.json \\
          --key hubei-centre --episode c:0007 --reason consent-withdrawn
    """
    from embodex.delivery import revoke_batch, revoke_episodes

    if (batch is None) == (not episodes):
        raise click.UsageError("give either --batch N or --episode ID (repeatable)")
    signer = load_signer_cli(key)
    if episodes:
        done = revoke_episodes(
            url, contract, signer, list(episodes), reason, ttl=ttl, now=at,
            record=not no_ledger,
        )  # fmt: skip
        Output(as_json).result(
            done,
            text=lambda r: (
                [line for n in r.notices for line in notice_lines(n)]
                + [f"revoked {len(r.episodes)} episode(s)"]
            ),
        )
        return
    assert batch is not None
    result = revoke_batch(
        url, contract, signer, batch, reason, ttl=ttl, now=at, record=not no_ledger,
    )  # fmt: skip
    Output(as_json).result(result, text=notice_lines)


@click.group()
def receipt() -> None:
    """Receipts: the buyer's signed acceptance of each batch.

    \b
    Example:
      embodex receipt countersign --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre
      embodex receipt post from-buyer/*.json --channel s3://acme/deliveries \\
          --contract contract.signed.json
    """


@receipt.command("countersign")
@channel_options(key=True)
@click.option("--batch", "batches", multiple=True, type=click.IntRange(1), help="Only these.")
@no_ledger_opt
@json_option()
def receipt_countersign(
    url: str,
    contract: Path,
    key: str,
    at: datetime | None,
    batches: tuple[int, ...],
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Verify the buyer's receipts on the channel and add the centre's signature.

    A receipt that does not verify is skipped and reported (the buyer's next pull puts its
    own copy back); naming it with --batch makes it an error.

    \b
    Example:
      embodex receipt countersign --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre --batch 3
    """
    from embodex.delivery import countersign_receipts

    done = countersign_receipts(
        url, contract, load_signer_cli(key), batches=list(batches) or None, now=at,
        record=not no_ledger,
    )  # fmt: skip
    Output(as_json).result(done, text=countersign_lines)


@receipt.command("post")
@click.argument(
    "files", nargs=-1, required=True, metavar="FILE...",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
)  # fmt: skip
@channel_options(key=False, positional=False)  # FILE... takes every argument
@json_option()
def receipt_post(
    files: tuple[Path, ...], url: str, contract: Path, at: datetime | None, as_json: bool
) -> None:
    """Put the buyer's receipt files on the channel for a buyer who may only read it.

    A buyer with read access only (a gated Hub repo, a read-only mirror or credential) keeps
    its receipts in DIR/receipts/ of its store. A receipt proves itself by the buyer's
    signature, so anyone with write access — the centre — may post it. Each file must be a
    receipt signed by the contract's buyer, under this contract, for a batch on this
    channel; any other file is refused before anything is written. A receipt the channel
    holds already (or countersigned) is left as it is. Then `receipt countersign`.

    \b
    Example:
      embodex receipt post from-buyer/000001.json from-buyer/000002.json \\
          --channel hf://datasets/hubei-centre/agibot-deliveries \\
          --contract contract.signed.json
    """
    from embodex.delivery import post_receipts

    done = post_receipts(url, contract, list(files), now=at)
    Output(as_json).result(done, text=post_lines)
