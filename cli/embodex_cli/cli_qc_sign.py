"""`embodex qc sign`: the centre signs a dataset's QC manifest (trust, attached to `qc`)."""

from __future__ import annotations

from pathlib import Path

import click

from embodex.units import count

from .commands_trust import load_signer_cli
from .output import Output, json_option


@click.command("sign")
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--key", "key", required=True, help="Name of the centre's signing key.")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the signed envelope (default: DATASET/qc/manifest.signed.json).",
)  # fmt: skip
@click.option("--no-ledger", is_flag=True, help="Do not record it in your ledger.")
@json_option()
def qc_sign(dataset: Path, key: str, out: Path | None, no_ledger: bool, as_json: bool) -> None:
    """Sign the dataset's QC manifest with the centre's key and record it in the ledger.

    The manifest must be the dataset's current one (run `embodex qc run` after any change);
    the envelope (DSSE, specs/signing.md) is what a buyer verifies with the centre's key.

    \b
    Example:
      embodex qc sign datasets/week07 --key hubei-centre
    """
    from embodex.trust import sign_dataset_qc

    signed = sign_dataset_qc(dataset, load_signer_cli(key), out=out, record=not no_ledger)
    Output(as_json).result(
        signed,
        text=lambda sq: [
            f"signed the QC manifest of {dataset} ({count(sq.episodes, 'episode')}, "
            f"{sq.digest}) -> {sq.path}"
            + (f"; ledger entry {sq.ledger_entry.seq}" if sq.ledger_entry else "")
        ],
    )
