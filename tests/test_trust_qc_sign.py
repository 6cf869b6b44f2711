"""The centre signs QC manifests — by `embodex qc sign` and with every batch it publishes —
and its ledger records each as `qc-signed`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.canonical import digest_json
from embodex.delivery import open_channel, publish
from embodex.qc import load_qc_manifest, run_qc, write_qc
from embodex.trust import Ledger, ledger_path, verify_ledger, verify_qc_manifest

from ._delivery import PROFILE, at, centre_dataset, contract, parties
from .test_cli_format import run


def _qc_signed(party: str) -> list[str]:
    return [e.ref for e in Ledger(ledger_path(party)).entries() if e.kind == "qc-signed"]


def test_qc_sign_by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    centre, _ = parties()
    ds = centre_dataset(tmp_path / "week07", 3)
    write_qc(ds.root, run_qc(ds, PROFILE))
    code, out, err = run(["qc", "sign", str(ds.root), "--key", "hubei-centre", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    signed = Path(result["path"])
    assert signed == ds.root / "qc" / "manifest.signed.json"
    doc = verify_qc_manifest(signed.read_bytes(), centre.identity)
    assert doc == load_qc_manifest(ds.root).model_dump(mode="json")
    assert result["qc_manifest_digest"] == digest_json(doc) and result["episodes"] == 3
    assert _qc_signed("hubei-centre") == [digest_json(doc)]
    assert verify_ledger(ledger_path("hubei-centre"), [centre.identity]).ok
    # the buyer's key does not sign QC manifests; nothing is written or recorded
    other = tmp_path / "by-buyer.json"
    code, _, err = run(["qc", "sign", str(ds.root), "--key", "agibot", "--out", str(other)],
                       capsys)  # fmt: skip
    assert code == 1 and "signed by the collection centre" in err and not other.exists()
    # the dataset changed after QC ran: signing stale results is refused
    centre_dataset(ds.root, 1, first=3)
    code, _, err = run(["qc", "sign", str(ds.root), "--key", "hubei-centre"], capsys)
    assert code == 1 and "stale results" in err and "embodex qc run" in err
    assert len(_qc_signed("hubei-centre")) == 1


def test_publish_records_the_qc_manifest_it_signs(tmp_path: Path) -> None:
    terms, centre, _ = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    r = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    manifest, _, _ = open_channel(url, terms, at=at(5)).read_manifest(1, r.channel_id)
    assert _qc_signed("hubei-centre") == [manifest.qc_manifest_digest]
    kinds = [e.kind for e in Ledger(ledger_path("hubei-centre")).entries()]
    assert kinds[-2:] == ["qc-signed", "batch-published"]
