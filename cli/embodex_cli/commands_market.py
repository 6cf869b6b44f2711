"""Marketplace commands: ``embodex catalog build|show|match|sample|provenance|prices`` and
``embodex quote``. (``embodex contract init --from-quote`` lives in cli_contract.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .commands_delivery import WHEN, channel_options
from .commands_trust import json_opt, load_signer_cli, trust_opt, trusted_identities
from .render import echo_json, plural, progress
from .render_market import (
    catalog_lines,
    hours,
    match_lines,
    provenance_lines,
    quote_lines,
    sample_lines,
)


def register(cli: click.Group) -> None:
    cli.add_command(catalog)
    cli.add_command(quote)


_EXISTING_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
_key_opt = click.option("--key", required=True, help="Name of the centre's signing key.")


def _open(source: str, trust: tuple[str, ...]) -> Any:
    from embodex.market import open_catalog_url

    return open_catalog_url(source, trusted_identities(trust))


@click.group()
def catalog() -> None:
    """The marketplace front door: catalogues, sample packs, demand matching.

    \b
    Example:
      embodex catalog build datasets/week01 -o catalog --key hubei-centre
      embodex catalog show catalog
      embodex catalog match catalog demand.yaml
    """


@catalog.command("build")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Folder.")
@_key_opt
@click.option(
    "--capacity", type=_EXISTING_FILE, help="Hours per week per scene (YAML, specs/catalog.md)."
)
@click.option(
    "--prices", type=_EXISTING_FILE, help="Price sheet YAML (default: `embodex catalog prices`)."
)
@click.option(
    "--valid-days", type=click.IntRange(1, 3650), default=90, show_default=True,
    help="Days buyers may rely on the listing.",
)  # fmt: skip
@json_opt
def catalog_build(
    datasets: tuple[Path, ...],
    out: Path,
    key: str,
    capacity: Path | None,
    prices: Path | None,
    valid_days: int,
    as_json: bool,
) -> None:
    """Build the centre's signed catalogue of DATASETS (aggregates and metadata, no frames).

    Each dataset needs a current QC manifest (`embodex qc run`). The folder gets
    listing.json (signed), identity.json and one provenance chain per dataset.

    \b
    Example:
      embodex catalog build datasets/week01 datasets/week02 -o catalog --key hubei-centre \\
          --capacity capacity.yaml --prices prices.yaml
    """
    from embodex.market import build_catalog, load_capacity, load_price_sheet

    signer = load_signer_cli(key)
    with progress("cataloguing", len(datasets), enabled=not as_json) as bar:
        listing = build_catalog(
            list(datasets),
            out,
            signer,
            capacity=load_capacity(capacity),
            prices=load_price_sheet(prices),
            valid_days=valid_days,
            on_dataset=lambda _p: bar.update(),
        )
    if as_json:
        echo_json({"path": str(out), "digest": listing.digest, "listing": listing.payload()})
        return
    total = listing.totals()["overall"]
    click.echo(
        f"wrote {out / 'listing.json'}: catalogue #{listing.sequence} of {len(listing.datasets)} "
        f"dataset(s), {plural(total['episodes'], 'episode')}, {hours(total['hours'])}, signed by "
        f"{signer.name} ({signer.key_id}), valid until {listing.valid_until}"
    )


@catalog.command("show")
@click.argument("source")
@trust_opt
@click.option(
    "--html", "html", type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the catalogue as one self-contained HTML page with charts.",
)  # fmt: skip
@json_opt
def catalog_show(source: str, trust: tuple[str, ...], html: Path | None, as_json: bool) -> None:
    """Browse a catalogue (a folder or a channel URL): verify it, then tables by skill and
    scene with hours.

    The centre's identity must be trusted: import it (after checking the key id with the
    centre) with `embodex keys import CATALOG/identity.json`, or pass --trust. With --html
    the page also describes the sample pack published with the catalogue.

    \b
    Example:
      embodex catalog show catalog
      embodex catalog show s3://hubei-data/offers --json
      embodex catalog show catalog --html catalog.html
    """
    cat = _open(source, trust)
    if html is not None:
        from embodex.market import find_sample_offer
        from embodex.reports import write_catalog_html

        write_catalog_html(cat, html, sample=find_sample_offer(source, cat))
        click.echo(f"wrote {html}", err=True)
    if as_json:
        echo_json(
            {
                "source": str(source),
                "verified": True,
                "digest": cat.digest,
                "signed_by": cat.centre.model_dump(mode="json"),
                "totals": cat.listing.totals(),
                "listing": cat.listing.payload(),
                "provenance": {d: c.describe() for d, c in cat.chains.items()},
            }
        )
        return
    for line in catalog_lines(cat):
        click.echo(line)


@catalog.command("match")
@click.argument("source")
@click.argument("demand", type=_EXISTING_FILE)
@trust_opt
@json_opt
def catalog_match(source: str, demand: Path, trust: tuple[str, ...], as_json: bool) -> None:
    """Match a demand file against a catalogue: stock now, to collect by when, shortfall.

    Exits 1 when some hours cannot be ready by the demand's horizon.

    \b
    Example:
      embodex catalog match catalog demand.yaml
      embodex catalog match catalog demand.yaml --json
    """
    from embodex.errors import DemandError
    from embodex.market import load_demand, match_demand

    result = match_demand(_open(source, trust).listing, load_demand(demand))
    if as_json:
        echo_json({**result.model_dump(mode="json"), "feasible": result.feasible})
    else:
        for line in match_lines(result):
            click.echo(line)
    if not result.feasible:
        raise DemandError(
            f"{result.totals.shortfall} h of the demand cannot be ready by {result.horizon}",
            hint="Move the horizon, lower the hours, or widen the scenes; `embodex quote` "
            "prices what can be delivered.",
        )


@catalog.command("sample")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="New folder.")
@_key_opt
@click.option(
    "--per-cell", type=click.IntRange(1, 100), default=2, show_default=True,
    help="Episodes per skill × scene type.",
)  # fmt: skip
@click.option("--max", "max_episodes", type=click.IntRange(1), help="At most this many episodes.")
@json_opt
def catalog_sample(
    dataset: Path, out: Path, key: str, per_cell: int, max_episodes: int | None, as_json: bool
) -> None:
    """Build a small watermarked sample pack of DATASET with its QC report and provenance.

    A few representative episodes per skill × scene type (QC PASS first), ids prefixed
    `sample:`, marked evaluation-only, a visible mark burnt into every camera frame. The
    pack is a dataset: it opens with embodex.open_dataset and the training loader.

    \b
    Example:
      embodex catalog sample datasets/week01 -o catalog/sample --key hubei-centre
    """
    from embodex.market import build_sample_pack

    signer = load_signer_cli(key)
    with progress("sampling", None, enabled=not as_json) as bar:
        pack = build_sample_pack(
            dataset,
            out,
            signer,
            per_cell=per_cell,
            max_episodes=max_episodes,
            on_episode=lambda _e: bar.update(),
        )
    if as_json:
        echo_json(pack.describe())
        return
    for line in sample_lines(pack):
        click.echo(line)
    click.echo(f"QC report: {out / 'qc' / 'report.html'}")


@catalog.command("provenance")
@click.argument("source")
@click.option("--episode", help="Show where and how this episode was recorded.")
@click.option(
    "--contract", type=_EXISTING_FILE,
    help="SOURCE is a delivery channel: check its batches' chains under this signed contract.",
)  # fmt: skip
@click.option("--batch", type=click.IntRange(1), help="With --contract: only this batch.")
@click.option("--at", "at", type=WHEN, default=None, help="With --contract: as of this time.")
@trust_opt
@json_opt
def catalog_provenance(
    source: str,
    episode: str | None,
    contract: Path | None,
    batch: int | None,
    at: Any,
    trust: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify and show the provenance chains of a sample pack, a catalogue, or (with
    --contract) the batches delivered on a channel: recording to delivery.

    For a sample pack, every hash, the chain and the watermark are checked first. For a
    channel, each batch's chain must name the batch manifest the channel's signed head
    leads to (its dataset, QC manifest and digest), the contract and the buyer.

    \b
    Example:
      embodex catalog provenance sample/
      embodex catalog provenance sample/ --episode sample:hubei-humanoid-centre:0a1b2c --json
      embodex catalog provenance s3://acme/deliveries --contract contract.signed.json
    """
    from embodex.market import open_provenance

    if contract is None and (batch is not None or at is not None):
        raise click.UsageError("--batch and --at go with --contract (a delivery channel)")
    if contract is None and not Path(source).exists():
        raise click.BadParameter(f"{source} does not exist", param_hint="SOURCE")
    prov = open_provenance(source, trusted_identities(trust), contract=contract, batch=batch, at=at)
    if episode is not None:
        origin = prov.origin(episode).model_dump(mode="json")
        if as_json:
            echo_json(origin)
        else:
            for k, v in origin.items():
                click.echo(f"{k:<16} {v}")
        return
    described = prov.describe()
    if as_json:
        echo_json(described)
        return
    for d in described:
        for line in provenance_lines(d):
            click.echo(line)


@catalog.command("record-delivery")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@channel_options(key=True)
@click.option("--batch", type=click.IntRange(1), help="Only this batch (default: every batch).")
@json_opt
def catalog_record_delivery(
    dataset: Path, url: str, contract: Path, key: str, at: Any, batch: int | None, as_json: bool
) -> None:
    """Sign the provenance chain of delivered batches and put it on the channel (centre).

    DATASET is the dataset the batches were published from. Each batch's chain — where and
    by whom its episodes were recorded, how they were processed and selected, its QC, and
    the delivery (channel, contract, buyer, the signed batch manifest's digest) — goes to
    provenance/batches/<n>.json on the channel; the buyer checks it with
    `embodex catalog provenance CHANNEL --contract C`.

    \b
    Example:
      embodex catalog record-delivery centre/all --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre
    """
    from embodex.market.delivery_chain import record_delivery

    recorded = record_delivery(dataset, url, contract, load_signer_cli(key), batch=batch, at=at)
    if as_json:
        echo_json([d.describe() for d in recorded])
        return
    for d in recorded:
        click.echo(
            f"batch {d.batch}: {plural(len(d.manifest.episodes), 'episode')}, chain head "
            f"{d.chain.head} -> {d.where}"
        )


@catalog.command("publish")
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("url")
@_key_opt
@json_opt
def catalog_publish(source: Path, url: str, key: str, as_json: bool) -> None:
    """Publish a catalogue folder and its sample pack on a channel (folder or s3:// URL).

    The catalogue and the pack are verified first; the pack's files go up first, then a
    signed manifest of them, the provenance chains, and the listing last.

    \b
    Example:
      embodex catalog publish catalog s3://hubei-data/offers --key hubei-centre
    """
    from embodex.market import publish_catalog

    signer = load_signer_cli(key)
    with progress("publishing", None, enabled=not as_json) as bar:
        report = publish_catalog(source, url, signer, on_file=lambda _f: bar.update())
    if as_json:
        echo_json(vars(report))
        return
    click.echo(
        f"published {source} at {report.url}: {report.files} files, {report.bytes:,} bytes"
        + (", with the sample pack" if report.sample else ", no sample pack")
        + (f"; removed {report.removed} stale sample files" if report.removed else "")
    )


@catalog.command("pull")
@click.argument("url")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="New folder.")
@trust_opt
@json_opt
def catalog_pull(url: str, out: Path, trust: tuple[str, ...], as_json: bool) -> None:
    """Pull the sample pack published with a catalogue, verifying every byte and signature.

    \b
    Example:
      embodex catalog pull s3://hubei-data/offers -o samples/hubei
      embodex load samples/hubei --horizon 30 --qc pass+warn
    """
    from embodex.market import pull_sample

    pack = pull_sample(url, out, trusted_identities(trust))
    if as_json:
        echo_json(pack.describe())
        return
    for line in sample_lines(pack):
        click.echo(line)


@catalog.command("prices")
def catalog_prices() -> None:
    """Print the built-in price sheet YAML, to copy, edit and pass to `catalog build --prices`.

    \b
    Example:
      embodex catalog prices > prices.yaml
    """
    from embodex.market import default_price_sheet_text

    click.echo(default_price_sheet_text(), nl=False)


@click.command("quote")
@click.argument("source")
@click.argument("demand", type=_EXISTING_FILE)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write the quote JSON here.")
@trust_opt
@json_opt
def quote(
    source: str, demand: Path, out: Path | None, trust: tuple[str, ...], as_json: bool
) -> None:
    """Price a demand against a catalogue, showing every term of the arithmetic.

    Unit prices are base × scene × skill × cameras × exclusivity (× customised collection),
    exact, then rounded to cents; amounts, volume discount and total follow line by line.
    `embodex contract init --from-quote QUOTE` turns the quote into a contract draft.

    \b
    Example:
      embodex quote catalog demand.yaml -o quote.json
      embodex contract init --from-quote quote.json --buyer agibot > contract.yaml
    """
    from embodex.market import build_quote, load_demand, write_quote

    result, _match = build_quote(
        _open(source, trust).listing, load_demand(demand), catalog=str(source)
    )
    if out is not None:
        write_quote(out, result)
    if as_json:
        echo_json(result.model_dump(mode="json"))
    else:
        for line in quote_lines(result):
            click.echo(line)
    if out is not None:
        click.echo(f"wrote {out}", err=True)
