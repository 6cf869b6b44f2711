"""A contract draft from a quote validates with the trust layer and signs as any contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.canonical import digest_json
from embodex.contract import contract_from_yaml, load_contract_yaml, sign_contract
from embodex.contract.file import verify_contract_file
from embodex.contract.model import Contract, Origin
from embodex.errors import ContractError, QuoteError
from embodex.market import (
    build_quote,
    check_arithmetic,
    draft_contract,
    load_quote,
    verify_quote,
    write_quote,
)
from embodex.market.quote import Quote
from embodex.trust import Signer, generate_key, load_signer

from ._market import PROFILE, demand, listing, price_sheet

DAY = date(2026, 1, 2)  # before the term: the quote is valid, the contract can be agreed


@pytest.fixture
def parties() -> tuple[Signer, Signer]:
    generate_key("hubei-centre", "centre")
    generate_key("agibot", "buyer")
    return load_signer("hubei-centre"), load_signer("agibot")


def test_draft_from_quote_validates_and_signs(
    parties: tuple[Signer, Signer], tmp_path: Path
) -> None:
    centre, buyer = parties
    signed = listing(centre)
    quote, _ = build_quote(signed, demand(), now=datetime(2026, 1, 2, tzinfo=UTC))
    path = tmp_path / "quote.json"
    write_quote(path, quote)
    text = draft_contract(load_quote(path), signed, buyer=buyer.identity, today=DAY)
    contract = contract_from_yaml(text)
    assert contract.parties.centre.key_id == centre.key_id
    assert contract.parties.buyer.key_id == buyer.key_id
    assert contract.scope.skills == ["hold_cup", "fold_clothes", "grasp_plate"]
    assert contract.scope.scene_types == ["restaurant", "home"]
    assert contract.scope.robot_models == ["R1"] and contract.scope.fps == 30
    assert contract.scope.required_cameras == ["head", "hand_left", "hand_right"]
    assert contract.volume.total_hours == Decimal(17)
    assert contract.volume.min_hours_per_delivery == Decimal("4.250")
    assert contract.price.per_accepted_hour == Decimal("584.95")
    assert contract.price.currency == "CNY"
    assert contract.acceptance.qc_profile_digest == PROFILE
    assert contract.acceptance.min_pass_rate == Decimal("0.95")
    assert (contract.schedule.start_date, contract.schedule.end_date) == (
        date(2026, 1, 5),
        date(2026, 1, 31),
    )
    assert len(contract.periods()) == len(quote.deliveries) == 4
    assert contract.usage.retention_days == 365 and contract.usage.allowed_regions == ["CN"]
    assert quote.quote_id in contract.contract_id
    # the signed contract says which quote and listing it came from
    assert contract.origin == Origin(
        quote_id=quote.quote_id,
        quote_digest=quote.digest,
        listing_digest=signed.digest,
        listing_sequence=signed.sequence,
    )
    assert contract.payload()["origin"]["quote_digest"] == quote.digest
    draft = tmp_path / "contract.yaml"
    draft.write_text(text)
    assert load_contract_yaml(draft) == contract
    offered = sign_contract(draft, centre, at=DAY, record=False).path
    sign_contract(offered, buyer, at=DAY, record=False)
    verified = verify_contract_file(offered, at=DAY)
    assert verified.state.value == "AGREED" and verified.contract.digest == contract.digest
    assert verified.contract.origin == contract.origin
    # a contract with no origin signs and hashes as before the field existed
    without = {k: v for k, v in contract.payload().items() if k != "origin"}
    plain = Contract.model_validate(without)
    assert plain.origin is None and plain.payload() == without
    assert plain.digest == digest_json(without)


def test_draft_refusals(parties: tuple[Signer, Signer], tmp_path: Path) -> None:
    centre, buyer = parties
    signed = listing(centre)
    quote, _ = build_quote(signed, demand(), now=datetime(2026, 1, 2, tzinfo=UTC))
    # no buyer key yet: placeholders the trust loader refuses to sign
    text = draft_contract(quote, signed, today=DAY)
    with pytest.raises(ContractError, match="REPLACE-ME"):
        contract_from_yaml(text)
    with pytest.raises(QuoteError, match="expired"):
        draft_contract(quote, signed, buyer=buyer.identity, today=date(2027, 1, 1))
    stranger = Signer.ephemeral("other-centre", "centre")
    with pytest.raises(QuoteError, match="not " + stranger.key_id):
        draft_contract(quote, signed, buyer=buyer.identity, centre=stranger.identity, today=DAY)
    with pytest.raises(QuoteError, match="not a buyer key"):
        draft_contract(quote, signed, buyer=centre.identity, today=DAY)


def _forged(quote: Quote, cheaper: Quote) -> Quote:
    """``cheaper`` (priced from a doctored price sheet, its arithmetic consistent) passed off
    as ``quote``: same id, same listing digest and sequence."""
    return cheaper.model_copy(
        update={
            "quote_id": quote.quote_id,
            "listing_digest": quote.listing_digest,
            "listing_sequence": quote.listing_sequence,
        }
    )


def test_a_forged_quote_whose_arithmetic_adds_up_is_refused(
    parties: tuple[Signer, Signer], tmp_path: Path
) -> None:
    centre, buyer = parties
    signed = listing(centre)
    now = datetime(2026, 1, 2, tzinfo=UTC)
    quote, _ = build_quote(signed, demand(), now=now)
    verify_quote(quote, signed)  # the genuine quote is what the listing prices
    # a lower base price: every figure recomputed, so the arithmetic check passes
    doctored = signed.model_copy(update={"prices": price_sheet(base_per_accepted_hour="400.00")})
    forged = _forged(quote, build_quote(doctored, demand(), now=now)[0])
    check_arithmetic(forged)
    path = tmp_path / "forged.json"
    write_quote(path, forged)
    assert load_quote(path).total < quote.total  # loads: the numbers add up
    with pytest.raises(
        QuoteError,
        match=r"lines\[0\]\.parts\[0\]\.factors\[0\]\.value is '400\.00' in the quote but "
        r"'500\.00' from the centre's signed listing",
    ):
        draft_contract(load_quote(path), signed, buyer=buyer.identity, today=DAY)
    # a friendlier skill multiplier only
    kinder = price_sheet(skill_difficulty={"hold_cup": "1.00", "fold_clothes": "1.00",
                                           "grasp_plate": "1.05"})  # fmt: skip
    forged = _forged(quote, build_quote(signed.model_copy(update={"prices": kinder}), demand(),
                                        now=now)[0])  # fmt: skip
    check_arithmetic(forged)
    with pytest.raises(QuoteError, match=r"lines\[1\]\.parts\[0\]\.factors\[2\]\.value"):
        verify_quote(forged, signed)
    # a wider scope than was quoted (the arithmetic does not look at it)
    wider = quote.scope.model_copy(update={"skills": [*quote.scope.skills, "pour_water"]})
    widened = quote.model_copy(update={"scope": wider})
    check_arithmetic(widened)
    with pytest.raises(QuoteError, match=r"scope\.skills\[3\] is 'pour_water' in the quote"):
        verify_quote(widened, signed)
    # a quote priced against another (older or rebuilt) listing
    rebuilt = signed.model_copy(update={"sequence": 2})
    with pytest.raises(QuoteError, match="priced against listing #1 .* holds listing #2"):
        draft_contract(quote, rebuilt, buyer=buyer.identity, today=DAY)
