"""Deliveries against the contract: violations, receipts, supply accounting (exact money)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.canonical import canonical_json
from embodex.contract import (
    Contract,
    build_receipt,
    check_batch,
    contract_from_yaml,
    open_receipt,
    sign_receipt,
    supply_status,
    terminate_contract,
    verify_contract_file,
)
from embodex.errors import ContractError, SignatureError
from embodex.trust import Signer
from embodex.trust.types import dec_str, round_money

from ._trust import IN_TERM, agreed, batch, delivered, draft_text, episode, qc_manifest, week

CENTRE = Signer.ephemeral("hubei-centre", "centre")
BUYER = Signer.ephemeral("agibot", "buyer")
DIGEST = "sha256:" + "ee" * 32


def _contract(text_edit: tuple[str, str] | None = None) -> Contract:
    text = draft_text(CENTRE.identity, BUYER.identity)
    if text_edit:
        text = text.replace(*text_edit)
    return contract_from_yaml(text)


CONTRACT = _contract()


def _rules(violations: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(v.rule for v in violations)


def test_a_compliant_batch_has_no_violation() -> None:
    b = batch(1, week(1) + timedelta(days=1))  # Monday after week 1, within P2D
    assert b.hours == Decimal("25.0")
    assert check_batch(CONTRACT, b, qc_manifest()) == []


def test_scope_violations_name_the_episodes() -> None:
    eps = [episode(i) for i in range(45)]
    eps += [
        episode(100, skill="pick_place"),
        episode(101, scene_type="beach"),
        episode(102, scene_id="S99"),
        episode(103, robot="other-bot"),
        episode(104, cameras=("head",)),
        episode(105, fps="15"),
        episode(106, skill=None),  # type: ignore[arg-type]
    ]
    violations = check_batch(CONTRACT, batch(1, week(1), eps), qc_manifest())
    by_rule = {(v.rule, v.measured): v for v in violations}
    assert by_rule[("scope.skills", "pick_place")].episode_ids == ["hubei:0100"]
    assert by_rule[("scope.skills", "None")].episode_ids == ["hubei:0106"]
    assert by_rule[("scope.scene_types", "beach")].episode_ids == ["hubei:0101"]
    assert by_rule[("scope.scene_ids", "S99")].episode_ids == ["hubei:0102"]
    assert by_rule[("scope.robot_models", "other-bot")].episode_ids == ["hubei:0103"]
    cams = by_rule[("scope.required_cameras", "hand_left, hand_right")]
    assert cams.episode_ids == ["hubei:0104"]
    assert by_rule[("scope.fps", "15")].episode_ids == ["hubei:0105"]
    assert len(violations) == 7


@pytest.mark.parametrize(
    ("manifest", "rule"),
    [
        (qc_manifest(pass_rate="0.90"), "acceptance.min_pass_rate"),
        (qc_manifest(success_rate="0.70"), "acceptance.min_success_rate"),
        (qc_manifest(success_rate=None), "acceptance.min_success_rate"),  # type: ignore[arg-type]
        (
            {**qc_manifest(), "profile": {"digest": "sha256:" + "00" * 32}},
            "acceptance.qc_profile_digest",
        ),
        (None, "acceptance.qc"),
    ],
)
def test_qc_violations(manifest: dict | None, rule: str) -> None:  # type: ignore[type-arg]
    violations = check_batch(CONTRACT, batch(1, week(1)), manifest)
    assert _rules(violations) == [rule]


def test_pass_rate_violation_carries_measured_and_threshold() -> None:
    [v] = check_batch(CONTRACT, batch(1, week(1)), qc_manifest(pass_rate="0.9312"))
    assert (v.measured, v.threshold) == ("0.9312", ">= 0.95")
    assert "outside the contract's bound" in v.message


def test_thresholds_on_other_qc_aggregates() -> None:
    contract = _contract(
        ("  thresholds: []", '  thresholds: [{metric: frame_drop_rate, max: "0.01"}]')
    )
    ok = qc_manifest(frame_drop_rate="0.004")
    assert check_batch(contract, batch(1, week(1)), ok) == []
    [v] = check_batch(contract, batch(1, week(1)), qc_manifest(frame_drop_rate="0.02"))
    assert (v.rule, v.measured, v.threshold) == (
        "acceptance.thresholds.frame_drop_rate",
        "0.02",
        "<= 0.01",
    )
    [v] = check_batch(contract, batch(1, week(1)), qc_manifest())
    assert "no usable aggregates.overall.frame_drop_rate" in v.message


def test_qc_manifest_for_another_dataset() -> None:
    b = batch(1, week(1), dataset_digest="sha256:" + "12" * 32)
    assert _rules(check_batch(CONTRACT, b, qc_manifest())) == ["acceptance.qc"]


def test_schedule_and_volume_violations() -> None:
    # period 1 ends Sunday week(1); due before Wednesday 00:00 Shanghai = Tuesday 16:00 UTC
    due = datetime(2026, 1, 13, 16, tzinfo=UTC)
    on_time = batch(1, week(1), period=1).model_copy(
        update={"delivered_at": due - timedelta(seconds=1)}
    )
    assert check_batch(CONTRACT, on_time, qc_manifest()) == []
    late = on_time.model_copy(update={"delivered_at": due})
    [v] = check_batch(CONTRACT, late, qc_manifest())
    assert v.rule == "schedule.delivery_deadline" and "period 1" in v.message
    early = batch(1, week(1) - timedelta(days=10), period=2)
    assert _rules(check_batch(CONTRACT, early, qc_manifest())) == ["schedule.term"]
    outside = batch(1, date(2030, 1, 1))
    assert _rules(check_batch(CONTRACT, outside, qc_manifest())) == ["schedule.term"]
    small = batch(1, week(1), [episode(i) for i in range(10)])  # 5 h < 20 h
    [v] = check_batch(CONTRACT, small, qc_manifest())
    assert (v.rule, v.measured, v.threshold) == ("volume.min_hours_per_delivery", "5.0", "20")
    replacement = batch(2, week(3), [episode(i) for i in range(2)], replacement_for=1)
    assert check_batch(CONTRACT, replacement, qc_manifest()) == []


def test_delivery_after_termination(tmp_path: Path) -> None:
    path, _, buyer = agreed(tmp_path)
    stop = IN_TERM + timedelta(days=7)
    terminate_contract(path, buyer, "quality", effective=stop, at=IN_TERM)
    verified = verify_contract_file(path, at=IN_TERM)
    before = batch(1, stop - timedelta(days=1))
    after = batch(2, stop + timedelta(days=1))
    assert check_batch(verified, before, qc_manifest()) == []
    assert "contract.terminated" in _rules(check_batch(verified, after, qc_manifest()))


# --- receipts -----------------------------------------------------------------------------


def test_receipt_build_sign_open() -> None:
    b = batch(3, week(3))
    rejected = {"hubei:3001": "object dropped", "hubei:3002": "operator visible"}
    receipt = build_receipt(
        CONTRACT,
        b,
        batch_manifest_digest=DIGEST,
        rejected=rejected,
        qc_manifest=qc_manifest(),
        issued_by=BUYER,
        issued_at=datetime(2026, 1, 27, 9, tzinfo=UTC),
    )
    assert receipt.accepted_hours == Decimal("24.0")
    assert len(receipt.accepted) == 48 and [r.episode_id for r in receipt.rejected] == sorted(
        rejected
    )
    assert receipt.replacement_due == date(2026, 2, 10)  # 14 days
    assert {m.metric: (m.value, m.ok) for m in receipt.measurements} == {
        "pass_rate": ("0.97", True),
        "success_rate": ("0.85", True),
    }
    assert receipt.contract_digest == CONTRACT.digest
    env = sign_receipt(receipt, BUYER)
    payload = base64.b64decode(env.payload)
    assert b'"accepted_hours":"24.0"' in payload  # money and hours as decimal strings
    assert canonical_json(json.loads(payload)) == payload
    assert open_receipt(env, BUYER.identity) == receipt
    with pytest.raises(SignatureError):
        open_receipt(env, CENTRE.identity)
    with pytest.raises(SignatureError, match="names issuer"):
        sign_receipt(receipt, CENTRE)
    forged = json.loads(payload)
    forged["accepted_hours"] = "25.0"
    env2 = env.model_copy(update={"payload": base64.b64encode(canonical_json(forged)).decode()})
    with pytest.raises(SignatureError):
        open_receipt(env2, BUYER.identity)
    with pytest.raises(ContractError, match="not in batch 3"):
        build_receipt(
            CONTRACT,
            b,
            batch_manifest_digest=DIGEST,
            rejected={"nope:1": "x"},
            qc_manifest=None,
            issued_by=BUYER,
        )


# --- supply accounting --------------------------------------------------------------------


def _receipt(b, rejected=(), when=None):  # type: ignore[no-untyped-def]
    return build_receipt(
        CONTRACT,
        b,
        batch_manifest_digest=DIGEST,
        rejected={i: "qc fail" for i in rejected},
        qc_manifest=qc_manifest(),
        issued_by=BUYER,
        issued_at=when or b.delivered_at + timedelta(days=2),
    )


def test_supply_status_per_period_scene_skill_and_money() -> None:
    b1 = batch(1, week(1))  # on time, all accepted: 25 h
    eps2 = [
        episode(2000 + i, scene_type="factory", scene_id="S07", skill="fold_clothes")
        for i in range(40)
    ]
    b2 = batch(2, week(2) + timedelta(days=5), eps2, period=2)  # late
    b3 = batch(3, week(4), [episode(3000 + i, "0.25") for i in range(100)])  # 25 h, no receipt yet
    r1 = _receipt(b1)
    r2 = _receipt(b2, rejected=("hubei:2000", "hubei:2001"))
    # replacement for the two rejected episodes, delivered after the 14-day replacement window
    b4 = batch(
        4, week(2) + timedelta(days=30), [episode(4000 + i) for i in range(2)], replacement_for=2
    )
    r4 = _receipt(b4)
    today = week(5) + timedelta(days=20)  # periods 1..7 past their deadlines
    status = supply_status(CONTRACT, [r1, r2, r4], [b1, b2, b3, b4], today)
    p = {x.number: x for x in status.periods}
    # 2000 h over 52 weeks: 38.462 h due a period, so 25 h on time is still short of it
    assert (p[1].status, p[1].delivered_hours, p[1].accepted_hours) == ("short", 25, 25)
    assert p[2].status == "short" and p[2].batches == [2, 4]
    assert p[2].delivered_hours == Decimal("21.0") and p[2].accepted_hours == Decimal("20.0")
    assert p[3].status == "missing" and 3 in status.missing_periods
    assert p[4].status == "short" and p[4].accepted_hours == 0
    assert status.short_periods == [1, 2, 3, 4, 5, 6, 7]
    assert p[52].status == "upcoming"
    assert status.late_batches == [2] and status.late_replacements == [4]
    assert status.overdue_receipts == [3]
    assert status.accepted_hours == Decimal("45.0")
    assert status.rejected_hours == Decimal("1.0")
    assert status.pending_hours == Decimal("25.00")
    assert status.amount_due == Decimal("27000.000") == Decimal("45.0") * Decimal("600.00")
    assert status.acceptance_rate == Decimal("0.9783")
    share = CONTRACT.hours_due_per_period()[0][1]
    passed = sum(
        1
        for x in status.periods
        if x.deadline < datetime.combine(today, datetime.min.time(), x.deadline.tzinfo)
    )
    assert status.due_to_date_hours == share * passed
    assert status.shortfall_to_date_hours == share * passed - Decimal("45.0")
    assert status.by_scene_type["factory"].delivered_hours == Decimal("20.0")
    assert status.by_scene_type["factory"].accepted_hours == Decimal("19.0")
    assert status.by_skill["fold_clothes"].accepted_hours == Decimal("19.0")
    assert status.by_skill["hold_cup"].accepted_hours == Decimal("26.0")
    dumped = status.model_dump(mode="json")
    assert canonical_json(dumped)  # JSON-safe, no floats
    assert dumped["amount_due"] == "27000.00"  # stated in the currency's minor unit


def test_money_is_rounded_half_up_to_the_minor_unit_of_its_currency() -> None:
    assert round_money(Decimal("78.6033"), "CNY") == Decimal("78.60")
    assert round_money(Decimal("0.125"), "CNY") == Decimal("0.13")  # half up, not to even
    assert round_money(Decimal("0.135"), "USD") == Decimal("0.14")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_money(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert dec_str(round_money(Decimal("600") * Decimal("0.131006"), "CNY")) == "78.60"


def test_supply_refuses_foreign_receipts() -> None:
    b1 = batch(1, week(1))
    other = _contract(('per_accepted_hour: "600.00"', 'per_accepted_hour: "1.00"'))
    foreign = build_receipt(
        other, b1, batch_manifest_digest=DIGEST, rejected={}, qc_manifest=None, issued_by=BUYER
    )
    with pytest.raises(ContractError, match="another contract"):
        supply_status(CONTRACT, [foreign], [b1], week(3))
    with pytest.raises(ContractError, match="not delivered"):
        supply_status(CONTRACT, [_receipt(b1)], [], week(3))


def test_receipt_hours_disagreeing_with_the_batch_is_noted() -> None:
    b1 = batch(1, week(1))
    r = _receipt(b1).model_copy(update={"accepted_hours": Decimal("30")})
    status = supply_status(CONTRACT, [r], [b1], week(2))
    assert any("add up to 25.0" in n for n in status.notes)


def test_delivery_time_helper_is_utc() -> None:
    assert delivered(date(2026, 1, 1)).tzinfo is UTC
