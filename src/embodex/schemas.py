"""Generate the JSON Schemas in specs/schemas/ from the code's models.

``python -m embodex.schemas specs/schemas`` rewrites them; a test fails when the committed
files drift from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .contract.checking import BatchSummary
from .contract.file import ContractFile
from .contract.lifecycle import Termination
from .contract.model import Contract
from .contract.receipts import DeletionReceipt, Receipt
from .delivery.documents import BatchManifest, ChannelHead, Notice
from .format.importers.agibot_sidecar import Sidecar as AgibotSidecar
from .format.importers.mcap import TopicMap
from .format.importers.sidecar import CommonSidecar
from .format.models import DatasetMeta, DatasetStats, EpisodeMeta, Manifest, TrimRecord
from .market.capacity import Capacity
from .market.demand import Demand
from .market.listing import Listing
from .market.prices import PriceSheet
from .market.provenance import ChainFile, Statement
from .market.publish import SampleManifest
from .market.quote import Quote
from .qc.manifest import QCManifest
from .qc.reviewlog import ReviewEntry
from .trust.consent import ConsentStatement, ConsentWithdrawal
from .trust.envelope import Envelope
from .trust.keys import Identity
from .trust.ledger import LedgerEntry

__all__ = ["SCHEMAS", "render_schemas", "write_schemas"]

#: file name -> model. Later layers add their documents here.
SCHEMAS: dict[str, type[BaseModel]] = {
    "dataset.schema.json": DatasetMeta,
    "episode.schema.json": EpisodeMeta,
    "manifest.schema.json": Manifest,
    "stats.schema.json": DatasetStats,
    "qc-manifest.schema.json": QCManifest,
    "qc-review.schema.json": ReviewEntry,
    # trust (issue 4)
    "batch-summary.schema.json": BatchSummary,
    "contract.schema.json": Contract,
    "contract-file.schema.json": ContractFile,
    "envelope.schema.json": Envelope,
    "identity.schema.json": Identity,
    "ledger-entry.schema.json": LedgerEntry,
    "receipt.schema.json": Receipt,
    "termination.schema.json": Termination,
    # delivery (issue 5): the channel's signed documents
    "batch-manifest.schema.json": BatchManifest,
    "channel-head.schema.json": ChannelHead,
    "notice.schema.json": Notice,
    # interop: the files users write for `embodex package --from lerobot|mcap`
    "import-sidecar.schema.json": CommonSidecar,
    "agibot-sidecar.schema.json": AgibotSidecar,
    "mcap-topic-map.schema.json": TopicMap,
    # market (issue 8): catalogue documents and the files buyers and centres write
    "listing.schema.json": Listing,
    "price-sheet.schema.json": PriceSheet,
    "capacity.schema.json": Capacity,
    "demand.schema.json": Demand,
    "quote.schema.json": Quote,
    "provenance-statement.schema.json": Statement,
    "provenance-chain.schema.json": ChainFile,
    "sample-manifest.schema.json": SampleManifest,
    # trimming: an episode's extra.trim (`embodex trim`)
    "trim-record.schema.json": TrimRecord,
    # personal information (issue 17): consent on record, the buyer's deletion receipt
    "consent.schema.json": ConsentStatement,
    "consent-withdrawal.schema.json": ConsentWithdrawal,
    "deletion-receipt.schema.json": DeletionReceipt,
}


def _schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://embodex.dev/schemas/{name}",
        **schema,
    }


def render_schemas() -> dict[str, str]:
    """File name -> JSON text of every schema."""
    return {
        name: json.dumps(_schema(name, model), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, model in SCHEMAS.items()
    }


def write_schemas(directory: str | Path) -> list[Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "specs/schemas"):
        print(p)
