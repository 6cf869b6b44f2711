"""Provenance from recording to delivery: each delivered batch gets a signed chain ending
with a delivery statement that names the batch manifest; the buyer checks it against the
channel, and any mismatch or forgery is refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from embodex.canonical import to_pretty_json
from embodex.delivery import open_channel, publish
from embodex.errors import ProvenanceError, SignatureError
from embodex.market.delivery_chain import batch_chain_key, record_delivery, verify_delivery
from embodex.market.provenance import ChainFile
from embodex.trust import Signer
from embodex.trust.envelope import PAYLOAD_TYPES, sign_payload

from ._delivery import PROFILE, at, centre_dataset, contract
from ._trust import spoil
from .test_cli_format import run


@pytest.fixture
def delivered(tmp_path: Path) -> tuple[Path, str, Path, Signer, Signer]:
    """Two batches published from one centre dataset over a folder channel."""
    terms, centre, buyer = contract(tmp_path)
    src = tmp_path / "centre"
    centre_dataset(src, 3)
    url = str(tmp_path / "channel")
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    centre_dataset(src, 2, first=3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(12))
    return src, url, terms, centre, buyer


def test_recording_to_delivery(delivered: tuple[Path, str, Path, Signer, Signer]) -> None:
    src, url, terms, centre, _buyer = delivered
    recorded = record_delivery(src, url, terms, centre, at=at(13))
    assert [d.batch for d in recorded] == [1, 2]
    checked = verify_delivery(url, terms, at=at(13))
    ch = open_channel(url, terms, at=at(13))
    for d, n in zip(checked, (1, 2), strict=True):
        manifest, digest, _ = ch.read_manifest(n, None)
        kinds = [s.statement for s in d.chain.statements]
        assert kinds == ["collection", "processing", "qc", "delivery"]
        delivery = d.chain.statement("delivery").delivery
        assert delivery is not None and delivery.batch_manifest_digest == digest
        assert delivery.contract_id == manifest.contract_id and delivery.batch == n
        assert d.chain.dataset.digest == manifest.dataset_digest
        qc = d.chain.statement("qc").qc
        assert qc is not None and qc.manifest_digest == manifest.qc_manifest_digest
        steps = [s.step for s in d.chain.statement("processing").processing or []]
        assert steps == ["synthesise", "select", "package"]
        # every delivered episode traces back to where and by whom it was recorded
        first = manifest.episode_ids[0]
        origin = d.chain.origin(first)
        assert origin.operator_id is not None and origin.robot_serial is not None
    assert len(checked[0].manifest.episodes) == 3 and len(checked[1].manifest.episodes) == 2
    only = verify_delivery(url, terms, batch=2, at=at(13))
    assert [d.batch for d in only] == [2]


def test_missing_forged_or_mismatched_chains_are_refused(
    delivered: tuple[Path, str, Path, Signer, Signer],
) -> None:
    src, url, terms, centre, buyer = delivered
    with pytest.raises(ProvenanceError, match="batch 1 has no provenance chain"):
        verify_delivery(url, terms, at=at(13))
    with pytest.raises(Exception, match="not the centre"):
        record_delivery(src, url, terms, buyer, at=at(13))  # the buyer cannot record it
    record_delivery(src, url, terms, centre, at=at(13))
    chain_file = Path(url) / batch_chain_key(1)
    good = chain_file.read_bytes()
    # batch 2's chain put in batch 1's place: names another manifest, dataset and episodes
    chain_file.write_bytes((Path(url) / batch_chain_key(2)).read_bytes())
    with pytest.raises(ProvenanceError, match="not the provenance of batch 1") as info:
        verify_delivery(url, terms, batch=1, at=at(13))
    assert "the batch's dataset" in info.value.message and "the episodes" in info.value.message
    # a flipped signature byte
    doc = json.loads(good)
    sig = doc["statements"][3]["signatures"][0]
    sig["sig"] = spoil(sig["sig"])
    chain_file.write_text(json.dumps(doc))
    with pytest.raises(SignatureError):
        verify_delivery(url, terms, batch=1, at=at(13))
    # the delivery link dropped: the chain ends at qc
    doc = json.loads(good)
    doc["statements"] = doc["statements"][:3]
    chain_file.write_text(json.dumps(doc))
    with pytest.raises(ProvenanceError, match="does not end with a delivery statement"):
        verify_delivery(url, terms, batch=1, at=at(13))
    # the same statements signed by another centre key
    stranger = Signer.ephemeral("hubei-centre", "centre")
    resigned = [
        sign_payload(PAYLOAD_TYPES["provenance"], json.loads(base64.b64decode(e.payload)),
                     stranger)
        for e in ChainFile.model_validate_json(good).statements
    ]  # fmt: skip
    chain_file.write_bytes(to_pretty_json(ChainFile(statements=resigned).model_dump(mode="json")))
    with pytest.raises(SignatureError):
        verify_delivery(url, terms, batch=1, at=at(13))
    chain_file.write_bytes(good)
    assert [d.batch for d in verify_delivery(url, terms, batch=1, at=at(13))] == [1]
    # recording from a dataset that is not the batches' source
    other = centre_dataset(Path(src).parent / "other", 1, seed=99)
    with pytest.raises(ProvenanceError, match="holds episodes"):
        record_delivery(other.root, url, terms, centre, at=at(13))


def test_cli_record_and_check(
    delivered: tuple[Path, str, Path, Signer, Signer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, url, terms, _centre, _buyer = delivered
    when = at(13).strftime("%Y-%m-%dT%H:%M:%SZ")
    common = ["--channel", url, "--contract", str(terms), "--at", when]
    code, out, err = run(["catalog", "record-delivery", str(src), *common, "--key",
                          "hubei-centre"], capsys)  # fmt: skip
    assert code == 0, err
    assert out.count("chain head") == 2 and "provenance/batches/000002.json" in out
    code, out, err = run(["catalog", "provenance", url, "--contract", str(terms), "--at", when],
                         capsys)  # fmt: skip
    assert code == 0, err
    assert out.count("links        collection → processing → qc → delivery") == 2
    assert "delivery     batch 1 (3 episodes" in out and "select" in out
    code, out, _ = run(["catalog", "provenance", url, "--contract", str(terms), "--at", when,
                        "--batch", "2", "--json"], capsys)  # fmt: skip
    shown = json.loads(out)
    assert len(shown) == 1 and shown[0]["delivery"]["batch"] == 2
    code, _, err = run(["catalog", "provenance", url, "--batch", "2"], capsys)
    assert code == 2 and "--contract" in err
    code, _, err = run(["catalog", "provenance", url, "--contract", str(terms), "--at", when,
                        "--batch", "9"], capsys)  # fmt: skip
    assert code == 1 and "has batches 1..2, not 9" in err and len(err.strip().splitlines()) == 1
