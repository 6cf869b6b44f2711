"""Contracts: validation, lifecycle, signing, amendment, termination, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embodex.canonical import canonical_json
from embodex.config import ledger_dir
from embodex.contract import (
    ContractState,
    amend_contract,
    contract_from_yaml,
    read_contract_file,
    sign_contract,
    terminate_contract,
    verify_contract_file,
)
from embodex.contract.file import ContractFile, verify_contract_document
from embodex.contract.periods import parse_duration
from embodex.demo.synth import SCENES
from embodex.errors import (
    ContractError,
    ContractStateError,
    EmbodexError,
    PayloadError,
    SignatureError,
)
from embodex.trust import Signer, add_signature, generate_key, import_identity, sign_model

from ._trust import AFTER, BEFORE, IN_TERM, START, agreed, draft_text, make_parties, write_draft

SPEC_DIR = Path(__file__).resolve().parents[1] / "specs" / "schemas"


def _edit(text: str, path: str, value: object) -> str:
    """Set a dotted field of contract YAML text."""
    data = yaml.safe_load(text)
    node = data
    *parents, last = path.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    return yaml.safe_dump(data, sort_keys=False)


def _snapshot(*paths: Path) -> dict[Path, bytes | None]:
    files = [*paths, *sorted(ledger_dir().glob("*"))] if ledger_dir().exists() else list(paths)
    return {p: p.read_bytes() if p.exists() else None for p in files}


# --- the model ----------------------------------------------------------------------------


def test_template_is_the_reference_case() -> None:
    c, b = Signer.ephemeral("c", "centre"), Signer.ephemeral("b", "buyer")
    contract = contract_from_yaml(draft_text(c.identity, b.identity))
    assert contract.scope.skills == ["hold_cup", "grasp_plate", "fold_clothes"]
    assert len(contract.scope.scene_ids or []) == 23 == len(SCENES)
    assert set(contract.scope.scene_types) == {s.scene_type for s in SCENES}
    assert contract.schedule.cadence == "P1W" and len(contract.periods()) == 52
    assert contract.price.per_accepted_hour == Decimal("600.00")
    dues = contract.hours_due_per_period()
    assert sum(d for _, d in dues) == contract.volume.total_hours  # exact, rest in the last
    payload = contract.payload()
    assert canonical_json(payload)  # no floats anywhere
    jsonschema.validate(payload, json.loads((SPEC_DIR / "contract.schema.json").read_text()))
    assert contract.digest.startswith("sha256:") and len(contract.digest) == 71


def test_periods_and_deadlines() -> None:
    c, b = Signer.ephemeral("c", "centre"), Signer.ephemeral("b", "buyer")
    contract = contract_from_yaml(draft_text(c.identity, b.identity))
    first, second, last = contract.periods()[0], contract.periods()[1], contract.periods()[-1]
    assert (first.start, first.end) == (START, START + timedelta(days=6))
    assert second.start == START + timedelta(days=7)
    assert last.end == contract.schedule.end_date
    # due within P2D after the period: before midnight (Shanghai) two days after it ends
    assert first.deadline.date() == first.end + timedelta(days=3)
    assert first.deadline.utcoffset() == timedelta(hours=8)
    assert parse_duration("P1M").after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert parse_duration("P1Y2M3W4D").after(date(2026, 1, 1)) == date(2027, 3, 26)
    for bad in ("P", "PT1H", "7D", "P-1D", "1W"):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price.per_accepted_hour", 12.5, "a float; contracts hold exact decimals"),
        ("volume.total_hours", 2000.0, "a float"),
        ("acceptance.min_pass_rate", 0.9, "a float"),
        ("scope.colour", "red", "unknown field 'scope.colour'"),
        ("schedule.end_date", date(2025, 12, 1), "is before start_date"),
        ("volume.total_hours", "0", "total_hours: Input should be greater than 0"),
        ("volume.min_hours_per_delivery", "-1", "greater than 0"),
        ("volume.min_hours_per_delivery", "5000", "exceeds volume.total_hours"),
        ("acceptance.min_pass_rate", "1.5", "less than or equal to 1"),
        ("acceptance.min_success_rate", "-0.1", "greater than or equal to 0"),
        ("price.per_accepted_hour", "12,50", "not a decimal number"),
        ("price.per_accepted_hour", "0", "greater than 0"),
        ("price.currency", "yuan", "price.currency"),
        ("schedule.cadence", "weekly", "ISO 8601 date duration"),
        ("schedule.timezone", "Mars/Olympus", "unknown time zone"),
        ("usage.allowed_regions", ["CN", "SG"], "transfer_approval_ref is required"),
        ("parties.buyer.role", "centre", "expected 'buyer'"),
        ("acceptance.qc_profile_digest", "md5:abc", "qc_profile_digest"),
        ("version", 2, "must name the digest it `replaces`"),
    ],
)
def test_validation_rejects(field: str, value: object, message: str) -> None:
    c, b = Signer.ephemeral("c", "centre"), Signer.ephemeral("b", "buyer")
    text = _edit(draft_text(c.identity, b.identity), field, value)
    with pytest.raises(ContractError, match=message) as exc:
        contract_from_yaml(text, "contract.yaml")
    line = exc.value.one_line()
    assert "\n" not in line and line.startswith("contract.yaml")


def test_conflicting_policy_and_placeholders_are_rejected() -> None:
    c, b = Signer.ephemeral("c", "centre"), Signer.ephemeral("b", "buyer")
    text = draft_text(c.identity, b.identity).replace(
        "    - action: sell\n", "    - action: use\n      purposes: [model_training]\n"
    )
    with pytest.raises(ContractError, match="both permitted and prohibited"):
        contract_from_yaml(text)
    from embodex.contract import render_template

    with pytest.raises(ContractError, match="REPLACE-ME placeholders"):
        contract_from_yaml(render_template())
    allowed = _edit(draft_text(c.identity, b.identity), "usage.allowed_regions", ["CN", "SG"])
    ok = contract_from_yaml(_edit(allowed, "usage.transfer_approval_ref", "CAC-2026-0042"))
    assert ok.usage.transfer_approval_ref == "CAC-2026-0042"


# --- signing and the lifecycle ------------------------------------------------------------


def test_offer_then_agree_then_active_then_completed(tmp_path: Path) -> None:
    centre, buyer = make_parties()
    draft = write_draft(tmp_path, centre.identity, buyer.identity)
    offer = sign_contract(draft, centre, at=BEFORE)
    assert offer.path == tmp_path / "c.signed.json"
    assert offer.event == "contract-offered"
    assert offer.verified.state is ContractState.OFFERED
    assert offer.verified.signed_by == ("centre",)
    agreed_ = sign_contract(offer.path, buyer, at=BEFORE)
    assert agreed_.event == "contract-agreed" and agreed_.path == offer.path
    assert agreed_.verified.state is ContractState.AGREED
    path = offer.path
    assert verify_contract_file(path, at=IN_TERM).state is ContractState.ACTIVE
    assert verify_contract_file(path, at=AFTER).state is ContractState.COMPLETED
    with pytest.raises(ContractStateError, match="expired"):
        verify_contract_file(path, at=AFTER, reject_ended=True)
    # the file is JSON holding the envelope; the payload is the canonical contract
    doc = json.loads(path.read_text())
    assert doc["kind"] == "embodex.contract-file"
    payload = base64.b64decode(doc["envelope"]["payload"])
    assert payload == canonical_json(json.loads(payload))
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    assert verify_contract_file(path).digest == digest
    # each party's ledger holds its own event
    centre_log = (ledger_dir() / "hubei-centre.jsonl").read_text().splitlines()
    buyer_log = (ledger_dir() / "agibot.jsonl").read_text().splitlines()
    assert [json.loads(x)["kind"] for x in centre_log] == ["contract-offered"]
    assert [json.loads(x)["kind"] for x in buyer_log] == ["contract-agreed"]


def test_wrong_key_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    centre, buyer = make_parties()
    generate_key("mallory", "buyer")
    from embodex.trust import load_signer

    mallory = load_signer("mallory")
    draft = write_draft(tmp_path, centre.identity, buyer.identity)
    before = _snapshot(draft, tmp_path / "c.signed.json")
    with pytest.raises(ContractError, match="not a party to contract"):
        sign_contract(draft, mallory, at=BEFORE)
    assert _snapshot(draft, tmp_path / "c.signed.json") == before
    offered = sign_contract(draft, centre, at=BEFORE).path
    before = _snapshot(offered)
    with pytest.raises(ContractError, match="not a party"):
        sign_contract(offered, mallory, at=BEFORE)
    with pytest.raises(SignatureError, match="already signed"):
        sign_contract(offered, centre, at=BEFORE)
    assert _snapshot(offered) == before


def test_a_signature_by_a_key_not_in_the_contract_fails_verification(tmp_path: Path) -> None:
    path, _, _ = agreed(tmp_path)
    outsider = Signer.ephemeral("notary", "reviewer")
    doc = read_contract_file(path)
    doc = doc.model_copy(update={"envelope": add_signature(doc.envelope, outsider)})
    with pytest.raises(SignatureError, match="not a party to the contract"):
        verify_contract_document(doc, at=IN_TERM)
    # even when the verifier trusts that key
    with pytest.raises(SignatureError, match="not a party"):
        verify_contract_document(doc, [outsider.identity], at=IN_TERM)


def test_only_a_trusted_signature_authenticates_an_offer(tmp_path: Path) -> None:
    """The buyer must already hold the centre's identity to accept its offer."""
    c, b = Signer.ephemeral("hubei-centre", "centre"), Signer.ephemeral("agibot", "buyer")
    contract = contract_from_yaml(draft_text(c.identity, b.identity))
    offer = ContractFile(envelope=sign_model("contract", contract, c))
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        verify_contract_document(offer, [], at=BEFORE)
    assert verify_contract_document(offer, [c.identity], at=BEFORE).state is ContractState.OFFERED


def test_impersonated_party_name_is_caught(tmp_path: Path) -> None:
    """A contract naming 'hubei-centre' with a key other than the one we trust under that name."""
    _, buyer = make_parties()
    fake_centre = Signer.ephemeral("hubei-centre", "centre")
    draft = tmp_path / "fake.yaml"
    draft.write_text(draft_text(fake_centre.identity, buyer.identity))
    offered = tmp_path / "fake.signed.json"
    with pytest.raises(SignatureError, match="the 'hubei-centre' you trust has key"):
        sign_contract(draft, buyer, at=BEFORE, out=offered, record=False)
    assert not offered.exists()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_flipping_any_bit_of_a_signed_contract_file_fails(
    tmp_path_factory: pytest.TempPathFactory, where: int, bit: int
) -> None:
    c, b = Signer.ephemeral("hubei-centre", "centre"), Signer.ephemeral("agibot", "buyer")

    env = add_signature(
        sign_model("contract", contract_from_yaml(draft_text(c.identity, b.identity)), c), b
    )
    data = bytearray(ContractFile(envelope=env).to_json_bytes())
    i = where % len(data)
    data[i] ^= 1 << bit
    path = tmp_path_factory.mktemp("flip") / "c.signed.json"
    path.write_bytes(bytes(data))
    trusted = [c.identity, b.identity]
    try:
        verified = verify_contract_file(path, trusted, at=IN_TERM)
    except EmbodexError:
        return  # SignatureError, PayloadError or ContractError: all refuse the file
    raise AssertionError(f"bit {bit} of byte {i} ({chr(data[i])!r}) flipped unnoticed: {verified}")


def test_expired_contract_cannot_be_signed(tmp_path: Path) -> None:
    centre, buyer = make_parties()
    draft = write_draft(tmp_path, centre.identity, buyer.identity)
    with pytest.raises(ContractStateError, match="ended on"):
        sign_contract(draft, centre, at=AFTER)
    assert not (tmp_path / "c.signed.json").exists()
    offered = sign_contract(draft, centre, at=BEFORE).path
    before = _snapshot(offered)
    with pytest.raises(ContractStateError, match="ended on"):
        sign_contract(offered, buyer, at=AFTER)
    assert _snapshot(offered) == before


# --- amendments and termination -----------------------------------------------------------


def test_amendment_needs_both_signatures(tmp_path: Path) -> None:
    path, centre, buyer = agreed(tmp_path)
    v1 = verify_contract_file(path, at=IN_TERM).contract
    changes = tmp_path / "v2.yaml"
    changes.write_text(
        _edit((tmp_path / "c.yaml").read_text(), "price.per_accepted_hour", "650.00")
    )
    offer = amend_contract(path, changes, centre, at=IN_TERM)
    assert offer.path == tmp_path / f"{v1.contract_id}-v2.signed.json"
    v = offer.verified
    assert v.pending_amendment and v.contract.version == 1 and v.latest.version == 2
    assert v.latest.replaces == v1.digest
    assert v.contract.price.per_accepted_hour == Decimal("600.00")  # v1 still in force
    done = sign_contract(offer.path, buyer, at=IN_TERM)
    assert done.event == "contract-amended"
    v = done.verified
    assert not v.pending_amendment and v.contract.version == 2
    assert v.contract.price.per_accepted_hour == Decimal("650.00")
    assert [c.version for c in v.history] == [1]
    # the chain is checked: drop or alter the earlier version and verification fails
    doc = read_contract_file(done.path)
    with pytest.raises(ContractError, match="earlier versions are missing"):
        verify_contract_document(doc.model_copy(update={"previous": []}), at=IN_TERM)
    wrong = doc.model_copy(update={"previous": [doc.envelope]})
    with pytest.raises(SignatureError, match="not the one version"):
        verify_contract_document(wrong, at=IN_TERM)


def test_amendment_rules(tmp_path: Path) -> None:
    path, centre, buyer = agreed(tmp_path)
    text = (tmp_path / "c.yaml").read_text()
    same = tmp_path / "same.yaml"
    same.write_text(text)
    with pytest.raises(ContractError, match="changes nothing"):
        amend_contract(path, same, centre, at=IN_TERM)
    swapped = tmp_path / "swap.yaml"
    other = Signer.ephemeral("agibot2", "buyer").identity
    swapped.write_text(
        _edit(
            _edit(text, "parties.buyer.public_key", other.public_key),
            "parties.buyer.key_id",
            other.key_id,
        )
    )
    with pytest.raises(ContractError, match="cannot change the centre's or the buyer's key"):
        amend_contract(path, swapped, centre, at=IN_TERM)
    float_price = tmp_path / "float.yaml"
    float_price.write_text(_edit(text, "price.per_accepted_hour", 650.5))
    with pytest.raises(ContractError, match="float"):
        amend_contract(path, float_price, centre, at=IN_TERM)
    good = tmp_path / "v2.yaml"
    good.write_text(_edit(text, "volume.total_hours", "2500"))
    pending = amend_contract(path, good, centre, at=IN_TERM).path
    with pytest.raises(ContractStateError, match="awaits a signature"):
        amend_contract(pending, good, buyer, at=IN_TERM)
    offered_only = sign_contract(
        write_draft(tmp_path, centre.identity, buyer.identity, "o.yaml"), centre, at=BEFORE
    ).path
    with pytest.raises(ContractStateError, match="awaits a signature"):
        amend_contract(offered_only, good, centre, at=BEFORE)


def test_termination(tmp_path: Path) -> None:
    path, centre, buyer = agreed(tmp_path)
    with pytest.raises(ContractError, match="needs a reason"):
        terminate_contract(path, buyer, "  ", at=IN_TERM)
    with pytest.raises(ContractError, match="effective date"):
        terminate_contract(path, buyer, "late", effective=IN_TERM - timedelta(days=1), at=IN_TERM)
    future = IN_TERM + timedelta(days=30)
    done = terminate_contract(path, buyer, "three missed deliveries", effective=future, at=IN_TERM)
    assert done.event == "contract-terminated"
    assert verify_contract_file(path, at=IN_TERM).state is ContractState.ACTIVE
    ended = verify_contract_file(path, at=future)
    assert ended.state is ContractState.TERMINATED
    assert ended.termination is not None and ended.termination.reason == "three missed deliveries"
    with pytest.raises(ContractStateError, match="terminated on"):
        verify_contract_file(path, at=future, reject_ended=True)
    before = _snapshot(path)
    with pytest.raises(ContractStateError, match="already terminated"):
        terminate_contract(path, centre, "again", at=IN_TERM)
    changes = tmp_path / "v2.yaml"
    changes.write_text(_edit((tmp_path / "c.yaml").read_text(), "volume.total_hours", "10"))
    with pytest.raises(ContractStateError, match="terminated"):
        amend_contract(path, changes, centre, at=future)
    assert _snapshot(path) == before
    # a termination signed by someone who is not a party is refused
    other = ContractFile(envelope=read_contract_file(path).envelope)
    assert verify_contract_document(other, at=future).state is ContractState.ACTIVE
    outsider = Signer.ephemeral("x", "buyer")
    from embodex.contract.lifecycle import Termination

    notice = Termination.model_validate(
        {**ended.termination.model_dump(mode="json"), "issued_by": outsider.key_id}
    )
    bad = other.model_copy(update={"termination": sign_model("termination", notice, outsider)})
    with pytest.raises(SignatureError, match="termination is signed by a key that is not a party"):
        verify_contract_document(bad, at=future)


def test_never_agreed_contract_cannot_be_terminated(tmp_path: Path) -> None:
    centre, buyer = make_parties()
    offered = sign_contract(
        write_draft(tmp_path, centre.identity, buyer.identity), centre, at=BEFORE
    ).path
    with pytest.raises(ContractStateError, match="has not signed"):
        terminate_contract(offered, centre, "changed my mind", at=BEFORE)


def test_buyer_on_another_machine_imports_the_centre_identity(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    centre, buyer = make_parties()
    offered = sign_contract(
        write_draft(tmp_path, centre.identity, buyer.identity), centre, at=BEFORE
    ).path
    (tmp_path / "centre.pub.json").write_bytes(centre.identity.to_json_bytes())
    # the buyer's machine: a fresh home with only the buyer's own key
    monkeypatch.setenv("EMBODEX_HOME", str(tmp_path / "buyer-home"))
    generate_key("agibot-2", "buyer")
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        verify_contract_file(offered, at=BEFORE)
    import_identity(tmp_path / "centre.pub.json")
    assert verify_contract_file(offered, at=BEFORE).state is ContractState.OFFERED


def test_payload_not_in_normal_form_is_refused() -> None:
    c, b = Signer.ephemeral("hubei-centre", "centre"), Signer.ephemeral("agibot", "buyer")
    payload = contract_from_yaml(draft_text(c.identity, b.identity)).payload()
    payload["price"]["per_accepted_hour"] = "6E+2"  # same number, other spelling
    from embodex.trust import PAYLOAD_TYPES, sign_payload

    env = sign_payload(PAYLOAD_TYPES["contract"], payload, c)
    with pytest.raises((PayloadError, ContractError)):
        verify_contract_document(ContractFile(envelope=env), [c.identity], at=BEFORE)
