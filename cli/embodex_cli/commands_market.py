"""Marketplace commands: ``embodex catalog build|show|match|sample|provenance|prices`` and
``embodex quote``. (``embodex contract init --from-quote`` lives in cli_contract.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from embodex.units import count

from .commands_delivery import WHEN, channel_options
from .commands_trust import load_signer_cli, trust_opt, trusted_identities
from .output import Output, err, json_option
from .render_market import (
    built_catalog_lines,
    catalog_lines,
    match_lines,
    origin_lines,
    provenance_lines,
    publish_report_lines,
    quote_lines,
    sample_lines,
)


def register(cli: click.Group) -> None:
    cli.add_command(catalog)
    cli.add_command(quote)


_EXISTING_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
_key_opt = click.option("--key", required=True, help="Name of the centre's signing key.")


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
@json_option()
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
    from embodex.market import make_catalog

    output = Output(as_json)
    signer = load_signer_cli(key)
    with output.progress("cataloguing", len(datasets)) as bar:
        built = make_catalog(
            datasets,
            out,
            signer,
            capacity=capacity,
            prices=prices,
            valid_days=valid_days,
            on_dataset=lambda _p: bar.update(),
        )
    output.result(built, text=built_catalog_lines)


@catalog.command("show")
@click.argument("source")
@trust_opt
@click.option(
    "--html", "html", type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the catalogue as one self-contained HTML page with charts.",
)  # fmt: skip
@json_option()
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
    from embodex.market import show_catalog

    out = Output(as_json)
    view = show_catalog(source, trusted_identities(trust), html=html)
    if view.html is not None:
        out.lines([err(f"wrote {view.html}")])
    out.result(view, text=catalog_lines)


@catalog.command("match")
@click.argument("source")
@click.argument("demand", type=_EXISTING_FILE)
@trust_opt
@json_option()
def catalog_match(source: str, demand: Path, trust: tuple[str, ...], as_json: bool) -> None:
    """Match a demand file against a catalogue: stock now, to collect by when, shortfall.

    Exits 1 when some hours cannot be ready by the demand's horizon.

    \b
    Example:
      embodex catalog match catalog demand.yaml
      embodex catalog match catalog demand.yaml --json
    """
    from embodex.market import match_demand_file

    result = match_demand_file(source, demand, trusted_identities(trust))
    Output(as_json).result(result, text=match_lines)
    result.raise_if_infeasible()


@catalog.command("sample")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="New folder.")
@_key_opt
@click.option(
    "--per-cell", type=click.IntRange(1, 100), default=2, show_default=True,
    help="Episodes per skill × scene type.",
)  # fmt: skip
@click.option("--max", "max_episodes", type=click.IntRange(1), help="At most this many episodes.")
@json_option()
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

    output = Output(as_json)
    signer = load_signer_cli(key)
    with output.progress("sampling") as bar:
        pack = build_sample_pack(
            dataset,
            out,
            signer,
            per_cell=per_cell,
            max_episodes=max_episodes,
            on_episode=lambda _e: bar.update(),
        )
    output.result(
        pack, text=lambda p: [*sample_lines(p), f"QC report: {out / 'qc' / 'report.html'}"]
    )


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
@json_option()
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
      embodex catalog provenance acme    # a remote (`embodex remote add`)
    """
    from embodex.market import open_provenance
    from embodex.remotes import list_remotes, resolve_channel

    if not Path(source).exists() and source in {r.name for r in list_remotes()}:
        target = resolve_channel(source, contract=contract)  # a remote: its URL and contract
        source, contract = str(target.url), target.contract
    if contract is None and (batch is not None or at is not None):
        raise click.UsageError("--batch and --at go with --contract (a delivery channel)")
    if contract is None and not Path(source).exists():
        raise click.BadParameter(f"{source} does not exist", param_hint="SOURCE")
    prov = open_provenance(source, trusted_identities(trust), contract=contract, batch=batch, at=at)
    out = Output(as_json)
    if episode is not None:
        out.result(prov.origin(episode), text=origin_lines)
    else:
        out.result(prov, text=provenance_lines)


@catalog.command("record-delivery")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@channel_options(key=True)
@click.option("--batch", type=click.IntRange(1), help="Only this batch (default: every batch).")
@json_option()
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
    Output(as_json).result(
        recorded,
        text=lambda done: [
            f"batch {d.batch}: {count(len(d.manifest.episodes), 'episode')}, chain head "
            f"{d.chain.head} -> {d.where}"
            for d in done
        ],
    )


@catalog.command("publish")
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("url")
@_key_opt
@json_option()
def catalog_publish(source: Path, url: str, key: str, as_json: bool) -> None:
    """Publish a catalogue folder and its sample pack on a channel (folder or s3:// URL).

    The catalogue and the pack are verified first; the pack's files go up first, then a
    signed manifest of them, the provenance chains, and the listing last.

    \b
    Example:
      embodex catalog publish catalog s3://hubei-data/offers --key hubei-centre
    """
    from embodex.market import publish_catalog

    out = Output(as_json)
    signer = load_signer_cli(key)
    with out.progress("publishing") as bar:
        report = publish_catalog(source, url, signer, on_file=lambda _f: bar.update())
    out.result(report, text=lambda r: publish_report_lines(r, source))


@catalog.command("pull")
@click.argument("url")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="New folder.")
@trust_opt
@json_option()
def catalog_pull(url: str, out: Path, trust: tuple[str, ...], as_json: bool) -> None:
    """Pull the sample pack published with a catalogue, verifying every byte and signature.

    \b
    Example:
      embodex catalog pull s3://hubei-data/offers -o samples/hubei
      embodex load samples/hubei --horizon 30 --qc pass+warn
    """
    from embodex.market import pull_sample

    Output(as_json).result(pull_sample(url, out, trusted_identities(trust)), text=sample_lines)


@catalog.command("prices")
@json_option("Print the price sheet as JSON (prices as exact decimal strings).")
def catalog_prices(as_json: bool) -> None:
    """Print the built-in price sheet YAML, to copy, edit and pass to `catalog build --prices`.

    \b
    Example:
      embodex catalog prices > prices.yaml
      embodex catalog prices --json | jq .base_per_accepted_hour
    """
    from embodex.market import default_price_sheet

    Output(as_json).result(default_price_sheet(), text=_price_sheet_lines)


def _price_sheet_lines(_sheet: Any) -> list[str]:
    # people get the commented YAML the sheet is read from, ready to copy and edit
    from embodex.market import default_price_sheet_text

    return [default_price_sheet_text().removesuffix("\n")]


@click.command("quote")
@click.argument("source")
@click.argument("demand", type=_EXISTING_FILE)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Write the quote JSON here.")
@click.option(
    "--at", "at", type=WHEN, default=None,
    help="Quote as of this time instead of now (demos, tests); past dates are refused.",
)  # fmt: skip
@trust_opt
@json_option()
def quote(
    source: str,
    demand: Path,
    out: Path | None,
    at: Any,
    trust: tuple[str, ...],
    as_json: bool,
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
    from embodex.market import quote_demand

    output = Output(as_json)
    output.result(
        quote_demand(source, demand, trusted_identities(trust), out=out, now=at),
        text=quote_lines,
    )
    if out is not None:
        output.lines([err(f"wrote {out}")])
