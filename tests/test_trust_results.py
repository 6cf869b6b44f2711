"""The trust and contract results the CLI renders, used from Python: keys, a contract's
check, a party's ledger — one call each, the same JSON as the CLI's --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.contract.summary import check_contract
from embodex.errors import ContractStateError, LedgerError, SignatureError
from embodex.trust import (
    check_ledger,
    create_key,
    describe_key,
    find_ledger,
    ledger_path,
    list_keys,
    read_ledger,
)
from tests._trust import AFTER, IN_TERM, agreed, spoil
from tests.test_cli_format import run


def test_keys_from_python(capsys: pytest.CaptureFixture[str]) -> None:
    new = create_key("hubei-centre", "centre")
    assert new.encrypted is False and new.to_json()["key_id"] == new.identity.key_id
    locked = create_key("agibot", "buyer", passphrase="s3cret")
    assert locked.encrypted and locked.to_json()["encrypted"] is True
    info = {i.identity.name: i for i in list_keys()}
    assert info["agibot"].to_json()["encrypted"] and info["agibot"].has_private_key
    details = describe_key("hubei-centre")
    assert details.identity == new.identity and details.private_key_file is not None
    code, out, _ = run(["keys", "show", "hubei-centre", "--json"], capsys)
    assert code == 0 and json.loads(out) == json.loads(json.dumps(details.to_json()))


def test_contract_check_from_python(tmp_path: Path) -> None:
    signed, _, _ = agreed(tmp_path)
    ok = check_contract(signed, at=IN_TERM)
    assert ok.ok and ok.error is None and ok.to_json()["ok"] is True
    assert ok.to_json()["state"] == "ACTIVE"
    ok.raise_for_status()  # nothing to raise
    ended = check_contract(signed, at=AFTER)
    assert not ended.ok and isinstance(ended.error, ContractStateError)
    data = ended.to_json()
    assert data["ok"] is False and "error" in data and data["state"] == "COMPLETED"
    with pytest.raises(ContractStateError):
        ended.raise_for_status()
    envelope = json.loads(signed.read_text(encoding="utf-8"))
    sigs = envelope["envelope"]["signatures"]
    sigs[0]["sig"] = spoil(sigs[0]["sig"])
    bad = tmp_path / "bad.signed.json"
    bad.write_text(json.dumps(envelope), encoding="utf-8")
    broken = check_contract(bad, at=IN_TERM)
    assert isinstance(broken.error, SignatureError) and broken.verified is None
    assert broken.to_json() == {"ok": False, "error": broken.error.one_line(), "file": str(bad)}


def test_ledger_from_python(tmp_path: Path) -> None:
    agreed(tmp_path)  # both parties sign: each records it in its ledger
    with pytest.raises(LedgerError, match="say which ledger.*agibot, hubei-centre"):
        find_ledger()
    with pytest.raises(LedgerError, match="no ledger for 'nobody'"):
        find_ledger("nobody")
    with pytest.raises(LedgerError, match="no ledger file"):
        find_ledger(file=tmp_path / "missing.jsonl")
    assert find_ledger("agibot") == ledger_path("agibot")
    view = read_ledger("hubei-centre")
    assert view.entries and view.actor(view.entries[0]) == "hubei-centre"
    assert view.to_json()[0]["seq"] == view.entries[0].seq
    report = check_ledger("hubei-centre")
    assert report.ok and report.entries == len(view.entries)
    assert check_ledger(file=ledger_path("agibot"), identities=["agibot"]).ok
