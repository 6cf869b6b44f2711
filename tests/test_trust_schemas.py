"""Documents the trust layer writes validate against the committed JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from embodex.canonical import digest_json
from embodex.contract import (
    build_receipt,
    read_contract_file,
    terminate_contract,
    verify_contract_file,
)
from embodex.trust import Ledger

from ._trust import IN_TERM, agreed, batch, qc_manifest, week

SPEC_DIR = Path(__file__).resolve().parents[1] / "specs" / "schemas"


def _schema(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((SPEC_DIR / name).read_text())  # type: ignore[no-any-return]


def test_trust_documents_match_their_schemas(tmp_path: Path) -> None:
    path, centre, buyer = agreed(tmp_path)
    terminate_contract(path, buyer, "test", at=IN_TERM)
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, _schema("contract-file.schema.json"))
    jsonschema.validate(doc["envelope"], _schema("envelope.schema.json"))
    jsonschema.validate(centre.identity.model_dump(mode="json"), _schema("identity.schema.json"))
    assert read_contract_file(path).termination is not None
    verified = verify_contract_file(path, at=IN_TERM)
    assert verified.termination is not None
    jsonschema.validate(
        verified.termination.model_dump(mode="json"), _schema("termination.schema.json")
    )
    jsonschema.validate(verified.contract.model_dump(mode="json"), _schema("contract.schema.json"))
    b = batch(1, week(1))
    jsonschema.validate(b.model_dump(mode="json"), _schema("batch-summary.schema.json"))
    receipt = build_receipt(
        verified,
        b,
        batch_manifest_digest=digest_json({"m": 1}),
        rejected={"hubei:1000": "blurred"},
        qc_manifest=qc_manifest(),
        issued_by=buyer,
        issued_at=datetime(2026, 1, 12, tzinfo=UTC),
    )
    jsonschema.validate(receipt.model_dump(mode="json"), _schema("receipt.schema.json"))
    entry = Ledger(tmp_path / "l.jsonl").append(centre, "receipt-issued", digest_json({}))
    jsonschema.validate(entry.model_dump(mode="json"), _schema("ledger-entry.schema.json"))
    # the schemas really constrain: money as a number is invalid
    bad = verified.contract.model_dump(mode="json")
    bad["price"]["per_accepted_hour"] = 600.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _schema("contract.schema.json"))
