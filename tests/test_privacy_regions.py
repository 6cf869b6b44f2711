"""Cross-border terms enforced (specs/privacy.md §4e): a pull declares where its store
processes the data, the contract's allowed regions decide, the ledger records the region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.contract import verify_contract_file
from embodex.contract.file import ContractFile
from embodex.contract.model import UsagePolicy
from embodex.contract.regions import allows_region
from embodex.delivery import publish, pull
from embodex.errors import ContractError, EmbodexError, RegionError
from embodex.trust import Ledger, ledger_path, verify_ledger
from embodex.trust.envelope import PAYLOAD_TYPES, add_signature, sign_payload

from ._delivery import PROFILE, at, centre_dataset, contract, parties
from .test_cli_format import run

ABROAD = {"allowed_regions": ["CN", "DE"], "transfer_approval_ref": "CAC-2026-0042"}


def _received(party: str = "agibot") -> list[tuple[str | None, str | None]]:
    return [
        (e.region, e.note)
        for e in Ledger(ledger_path(party)).entries()
        if e.kind == "batch-received"
    ]


def _channel(tmp_path: Path, **terms: object) -> tuple[str, Path]:
    """A channel with batch 1 (2 episodes) published under a contract with ``terms``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path, centre, _ = contract(tmp_path, **terms)  # type: ignore[arg-type]
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    publish(src, url, path, centre, profile=PROFILE, now=at(5))
    return url, path


def test_cross_border_pull_allowed_is_recorded_with_its_region(tmp_path: Path) -> None:
    url, terms = _channel(tmp_path, usage=ABROAD)
    buyer = parties()[1]
    report = pull(url, terms, buyer, tmp_path / "eu", now=at(5, 12), region="de")
    assert (report.region, report.region_source) == ("DE", "declared")
    assert [b.accepted for b in report.batches] == [2]
    ((region, note),) = _received()
    assert region == "DE" and note is not None and "under CAC-2026-0042" in note
    assert verify_ledger(ledger_path("agibot"), [buyer.identity]).ok
    # entries about no data carry no region key at all: their bytes are as before the field
    lines = Ledger(ledger_path("agibot")).lines()[0]
    assert [b'"region"' in line for line in lines] == [
        e.kind == "batch-received" for e in Ledger(ledger_path("agibot")).entries()
    ]
    state = json.loads((tmp_path / "eu" / ".pull" / "state.json").read_text())
    assert state["region"] == "DE"
    # the store keeps its region: a later pull declaring another is refused, a silent one
    # goes on in DE
    with pytest.raises(RegionError, match="received its data in region DE"):
        pull(url, terms, buyer, tmp_path / "eu", now=at(5, 13), region="CN")
    again = pull(url, terms, buyer, tmp_path / "eu", now=at(5, 13))
    assert (again.region, again.region_source) == ("DE", "store")


def test_region_the_contract_does_not_allow_is_refused_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, terms = _channel(tmp_path)  # the template: origin CN, allowed [CN]
    buyer = parties()[1]
    store = tmp_path / "buyer"
    with pytest.raises(RegionError, match=r"does not allow its data to be processed in DE"):
        pull(url, terms, buyer, store, now=at(5, 12), region="DE")
    monkeypatch.setenv("EMBODEX_REGION", "US")
    with pytest.raises(RegionError, match=r"in US \(declared by EMBODEX_REGION\); it allows CN"):
        pull(url, terms, buyer, store, now=at(5, 12))
    monkeypatch.setenv("EMBODEX_REGION", "Germany")
    with pytest.raises(RegionError, match="not an ISO 3166 region code"):
        pull(url, terms, buyer, store, now=at(5, 12))
    assert not (store / "dataset").exists() and not (store / ".pull" / "state.json").exists()
    assert _received() == []
    # a subdivision of an allowed country is inside it
    monkeypatch.setenv("EMBODEX_REGION", "cn-hb")
    report = pull(url, terms, buyer, store, now=at(5, 12))
    assert (report.region, report.region_source) == ("CN-HB", "environment")
    assert _received()[0][0] == "CN-HB"


def test_undeclared_region_assumes_origin_only_when_the_data_stays_home(tmp_path: Path) -> None:
    url, terms = _channel(tmp_path)
    buyer = parties()[1]
    report = pull(url, terms, buyer, tmp_path / "home", now=at(5, 12))
    assert (report.region, report.region_source) == ("CN", "assumed")
    ((region, note),) = _received()
    assert region == "CN" and note is not None and "no region declared" in note

    url2, terms2 = _channel(tmp_path / "abroad", usage=ABROAD, contract_id="hubei-eu-2026-001")
    with pytest.raises(RegionError, match="must declare where its store processes the data"):
        pull(url2, terms2, buyer, tmp_path / "eu", now=at(5, 12))


def test_allowed_region_rule() -> None:
    u = UsagePolicy.model_validate(
        {
            "permissions": [{"action": "use"}],
            "retention_days": 30,
            "origin_region": "CN-HB",
            "allowed_regions": ["CN-HB", "SG"],
            "transfer_approval_ref": "CAC-1",
        }
    )
    assert allows_region(u, "CN-HB") and allows_region(u, "SG") and allows_region(u, "SG-01")
    assert not allows_region(u, "CN") and not allows_region(u, "CN-BJ")
    assert not allows_region(u, "CNX") and not allows_region(u, "DE")


def test_transfer_approval_required_at_sign_and_at_pull(tmp_path: Path) -> None:
    # at sign: a draft allowing a region abroad without the approval is not a contract
    with pytest.raises(ContractError, match="transfer_approval_ref is required"):
        contract(tmp_path, usage={"allowed_regions": ["CN", "DE"]})
    # at pull: a contract both parties signed outside embodex without it is refused too
    terms, centre, buyer = contract(tmp_path, usage=ABROAD)
    payload = verify_contract_file(terms).contract.payload()
    usage = payload["usage"]
    assert isinstance(usage, dict)
    usage["transfer_approval_ref"] = None
    env = add_signature(sign_payload(PAYLOAD_TYPES["contract"], payload, centre), buyer)
    forged = tmp_path / "forged.signed.json"
    forged.write_bytes(ContractFile(envelope=env).to_json_bytes())
    with pytest.raises(EmbodexError, match="transfer_approval_ref is required"):
        pull(str(tmp_path / "channel"), forged, buyer, tmp_path / "eu", region="DE")
    assert not (tmp_path / "eu" / ".pull" / "state.json").exists()


def test_pull_cli_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, terms = _channel(tmp_path)
    buyer = ["--channel", url, "--contract", str(terms), "--key", "agibot"]
    when = ["--at", at(5, 12).isoformat()]
    code, _, err = run(
        ["pull", *buyer, "--into", str(tmp_path / "b"), *when, "--region", "DE"], capsys
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "does not allow its data to be processed in DE" in lines[0]
    assert "--region CODE" in lines[0]
    code, out, err = run(
        ["pull", *buyer, "--into", str(tmp_path / "b"), *when, "--region", "CN-HB"], capsys
    )
    assert code == 0, err
    assert "processed in CN-HB (--region)" in out
    code, out, _ = run(["ledger", "show", "agibot"], capsys)
    assert code == 0 and "[region CN-HB]" in out
