"""``embodex console``: the review console, a local web app for reviewers; and
``embodex review verify``, which checks who signed the decisions."""

from __future__ import annotations

from pathlib import Path

import click

from .complete import complete_channel
from .output import Output, json_option
from .render_qc import review_log_lines


def register(cli: click.Group) -> None:
    from .commands_qc import review  # `review verify` checks what the console signs

    cli.add_command(console)
    review.add_command(review_verify)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--key",
    required=True,
    metavar="NAME",
    help="Your reviewer key: every decision is signed with it (the reviewer id is its name).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback prints a warning.",
)
@click.option("--catalog", metavar="SOURCE", help="Also serve this catalogue (folder or URL).")
@click.option(
    "--channel", metavar="NAME|URL", shell_complete=complete_channel,
    help="Also serve the supply status of this channel (a remote's name or a URL)…",
)  # fmt: skip
@click.option(
    "--contract",
    type=click.Path(path_type=Path, dir_okay=False),
    help="…under this signed contract (with --channel).",
)
def console(
    dataset: Path,
    key: str,
    port: int,
    host: str,
    catalog: str | None,
    channel: str | None,
    contract: Path | None,
) -> None:
    """Review episodes in the browser: watch every camera, see the QC findings on a
    timeline, decide with the keyboard.

    Serves the review queue (the sampling plan of `review next`), an episode view with
    synchronised cameras, joint plots and findings, and the QC report (with --catalog and
    --channel/--contract also the catalogue and the supply status). Decisions are signed
    with --key and appended to the dataset's review log, as `review set` does. Open the URL
    it prints: it carries a random access token every request needs. Ctrl-C stops it.

    \b
    Example:
      embodex keys generate rev-007 --role reviewer
      embodex console datasets/week01 --key rev-007
    """
    from embodex.console import build_settings, exposure_warning, serve

    from .commands_trust import load_signer_cli

    if channel is not None:  # a remote's name gives its URL and (unless given) its contract
        from embodex.remotes import resolve_channel

        target = resolve_channel(channel, contract=contract)
        channel, contract = target.url, target.contract
    settings = build_settings(
        dataset,
        load_signer_cli(key),
        catalog=catalog,
        channel=channel,
        contract=contract,
    )
    warning = exposure_warning(host)
    if warning:
        click.echo(f"warning: {warning}", err=True)

    def listening(url: str) -> None:
        click.echo(f"embodex console for {dataset}, decisions signed by {key}")
        click.echo(f"open: {url}")
        click.echo("(the token in the URL is required on every request; Ctrl-C stops)")

    serve(settings, host=host, port=port, on_listen=listening)


@click.command("verify")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--trust",
    "trust",
    multiple=True,
    metavar="IDENTITY",
    help="Trust this reviewer identity (key name or file); default: the key store.",
)
@click.option(
    "--require-signed", is_flag=True, help="Fail (exit 1) unless every decision is signed."
)
@json_option("Print as JSON.")
def review_verify(
    dataset: Path, trust: tuple[str, ...], require_signed: bool, as_json: bool
) -> None:
    """Check the review log: its hash chain, and who signed each decision.

    A decision signed by a trusted key whose signature does not verify fails (exit 1);
    unsigned decisions (`review set --reviewer`) and keys not trusted are listed.

    \b
    Example:
      embodex review verify datasets/week01
      embodex review verify datasets/week01 --trust rev-007.pub.json --require-signed
    """
    from embodex.trust import check_reviews, load_identity

    checked = check_reviews(dataset, [load_identity(t) for t in trust] if trust else None)
    Output(as_json).result(checked, text=review_log_lines)
    if require_signed:
        checked.require_signed()
