"""Quote arithmetic with exact decimals, every figure computed by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.errors import DemandError, PriceSheetError, QuoteError
from embodex.market import build_quote, check_arithmetic, load_quote, write_quote
from embodex.market.prices import default_price_sheet, load_price_sheet
from embodex.trust import Signer
from embodex.trust.types import round_money

from ._market import demand, holding, listing, price_sheet

NOW = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def centre() -> Signer:
    return Signer.ephemeral("hubei-centre", "centre")


def test_quote_line_by_line(centre: Signer) -> None:
    q, match = build_quote(listing(centre), demand(), now=NOW)
    a, b, c = q.lines
    # hold_cup × restaurant: 500.00 × 1.15 × 1.00 × 1.00 (3 cameras) × 1.00 = 575.00
    assert [f.name for f in a.parts[0].factors] == [
        "base",
        "scene_complexity",
        "skill_difficulty",
        "cameras",
        "exclusivity",
    ]
    assert [(p.source, p.hours, p.unit_price, p.amount) for p in a.parts] == [
        ("stock", 3, Decimal("575.00"), Decimal("1725.00")),
        ("collection", 7, Decimal("575.00"), Decimal("4025.00")),
    ]
    assert a.amount == Decimal("5750.00")
    # fold_clothes × home, customised: 675.00 from stock; collected at 675.00 × 1.20 = 810.00
    assert [(p.hours, p.unit_price, p.amount) for p in b.parts] == [
        (4, Decimal("675.00"), Decimal("2700.00")),
        (1, Decimal("810.00"), Decimal("810.00")),
    ]
    assert b.parts[1].factors[-1].name == "customised_collection"
    assert b.amount == Decimal("3510.00")
    # grasp_plate × restaurant: 500 × 1.15 × 1.05 = 603.75 exactly; 2 h by the horizon
    assert c.parts[0].unit_price_exact == Decimal("603.75")
    assert (c.hours_quoted, c.shortfall, c.amount) == (2, 2, Decimal("1207.50"))
    assert q.hours == 17 and q.shortfall == 2
    assert q.subtotal == Decimal("10467.50")
    # 17 h reach the 10 h tier: 5 % of 10467.50 = 523.375 -> 523.38 (half up)
    assert q.volume_tier is not None and q.volume_tier.discount == Decimal("0.05")
    assert q.discount == Decimal("523.38") and q.total == Decimal("9944.12")
    # 4 weekly periods (5-11, 12-18, 19-25, 26-31 Jan): 4.25 h and 2486.03 each
    assert [(d.start, d.end) for d in q.deliveries][-1] == (date(2026, 1, 26), date(2026, 1, 31))
    assert [d.hours for d in q.deliveries] == [Decimal("4.250")] * 3 + [Decimal("4.250")]
    assert [d.amount for d in q.deliveries] == [Decimal("2486.03")] * 4
    # blended: 9944.12 / 17 = 584.948235… -> 584.95; at 17 h that is 9944.15
    assert q.blended_per_accepted_hour == Decimal("584.95")
    assert q.contract_value == Decimal("9944.15")
    assert q.scope.skills == ["hold_cup", "fold_clothes", "grasp_plate"]
    assert q.scope.fps == 30 and q.scope.robot_models == ["R1"]
    assert q.qc_profile.digest == listing(centre).qc_profiles[0].digest
    assert match.totals.shortfall == 2
    check_arithmetic(q)


def test_no_float_anywhere_in_the_quote(centre: Signer, tmp_path: Path) -> None:
    q, _ = build_quote(listing(centre), demand(), now=NOW)
    path = tmp_path / "quote.json"
    write_quote(path, q)

    def floats(value: object) -> list[float]:
        if isinstance(value, float):
            return [value]
        if isinstance(value, dict):
            return [f for v in value.values() for f in floats(v)]
        if isinstance(value, list):
            return [f for v in value for f in floats(v)]
        return []

    assert floats(json.loads(path.read_text())) == []
    assert load_quote(path) == q


ONE_LINE = """\
kind: embodex.demand
title: Rounding
lines:
  - {skills: [hold_cup], scene_types: [restaurant], hours: "3"}
start: 2026-01-05
horizon: 2026-01-11
"""


def test_rounding_is_half_up_at_each_step(centre: Signer) -> None:
    assert round_money(Decimal("2.345"), "CNY") == Decimal("2.35")  # half-even would give 2.34
    held = [holding("hold_cup", "restaurant", "S04", "PASS", "3")]
    sheet = price_sheet(base_per_accepted_hour="100.10", volume_discounts=[])
    q, _ = build_quote(
        listing(centre, holdings=held, capacity={}, prices=sheet), demand(ONE_LINE), now=NOW
    )
    part = q.lines[0].parts[0]
    assert q.cameras == 3  # the three cameras every listed dataset has
    # 100.10 × 1.15 = 115.115 exactly -> 115.12 (half up); 3 h -> 345.36
    assert part.unit_price_exact == Decimal("115.115") and part.unit_price == Decimal("115.12")
    assert q.total == Decimal("345.36") and q.discount == 0 and q.volume_tier is None
    assert q.blended_per_accepted_hour == Decimal("115.12") and len(q.deliveries) == 1


def test_money_is_rounded_to_the_currency_minor_unit(centre: Signer) -> None:
    # JPY has no sen: every figure is whole yen, as supply rounds what is due
    held = [holding("hold_cup", "restaurant", "S04", "PASS", "3")]
    sheet = price_sheet(currency="JPY", base_per_accepted_hour="10010", volume_discounts=[])
    q, _ = build_quote(
        listing(centre, holdings=held, capacity={}, prices=sheet), demand(ONE_LINE), now=NOW
    )
    part = q.lines[0].parts[0]
    # 10010 × 1.15 = 11511.5 exactly -> 11512 (half up); 3 h -> 34536
    assert part.unit_price_exact == Decimal("11511.5") and part.unit_price == Decimal("11512")
    assert q.total == Decimal("34536") and q.deliveries[0].amount == Decimal("34536")
    assert q.blended_per_accepted_hour == Decimal("11512")
    assert q.contract_value == Decimal("34536")
    check_arithmetic(q)
    sen = part.model_copy(update={"unit_price": Decimal("11511.50")})
    line = q.lines[0].model_copy(update={"parts": [sen]})
    with pytest.raises(QuoteError, match="unit price is 11511.50, computed 11512"):
        check_arithmetic(q.model_copy(update={"lines": [line]}))


def test_exclusive_licence_and_camera_tiers(centre: Signer) -> None:
    d = demand(
        **{"licence: standard": "licence: exclusive", "[head, hand_left, hand_right]": "[head]"}
    )
    q, _ = build_quote(listing(centre), d, now=NOW)
    factors = {f.name: f.value for f in q.lines[0].parts[0].factors}
    assert factors["exclusivity"] == Decimal("1.50") and factors["cameras"] == Decimal("0.90")
    # 500 × 1.15 × 1.00 × 0.90 × 1.50 = 776.25
    assert q.lines[0].parts[0].unit_price == Decimal("776.25") and q.cameras == 1
    assert q.licence.exclusive


def test_budget(centre: Signer) -> None:
    within = demand(
        **{"licence: standard": 'licence: standard\nbudget: {amount: "10000", currency: CNY}'}
    )
    q, _ = build_quote(listing(centre), within, now=NOW)
    assert q.budget_left == Decimal("55.88") and q.within_budget
    over = demand(
        **{"licence: standard": 'licence: standard\nbudget: {amount: "9000", currency: CNY}'}
    )
    q, _ = build_quote(listing(centre), over, now=NOW)
    assert q.budget_left == Decimal("-944.12") and q.within_budget is False
    usd = demand(
        **{"licence: standard": 'licence: standard\nbudget: {amount: "9000", currency: USD}'}
    )
    with pytest.raises(DemandError, match="budget is in USD"):
        build_quote(listing(centre), usd, now=NOW)


def test_unknown_licence_and_nothing_deliverable(centre: Signer) -> None:
    with pytest.raises(PriceSheetError, match="no licence 'gold'"):
        build_quote(listing(centre), demand(**{"licence: standard": "licence: gold"}), now=NOW)
    with pytest.raises(DemandError, match="none of the hours"):
        build_quote(listing(centre, holdings=[], capacity={}), demand(), now=NOW)


def test_edited_quote_is_refused(centre: Signer, tmp_path: Path) -> None:
    q, _ = build_quote(listing(centre), demand(), now=NOW)
    path = tmp_path / "quote.json"
    write_quote(path, q)
    data = json.loads(path.read_text())
    data["lines"][0]["parts"][0]["unit_price"] = "500.00"  # a friendlier price, by hand
    path.write_text(json.dumps(data))
    with pytest.raises(
        QuoteError,
        match=r"line 1 \(hold_cup × restaurant\) stock unit price is 500.00, computed 575.00",
    ):
        load_quote(path)
    data = json.loads(path.read_text())
    data["lines"][0]["parts"][0]["unit_price"] = "575.00"
    data["total"] = "9000.00"
    path.write_text(json.dumps(data))
    with pytest.raises(QuoteError, match="total is 9000.00, computed 9944.12"):
        load_quote(path)
    data["total"] = 9944.12  # a float
    path.write_text(json.dumps(data))
    with pytest.raises(QuoteError, match="float"):
        load_quote(path)


def test_price_sheets(tmp_path: Path) -> None:
    sheet = default_price_sheet()
    assert sheet.base_per_accepted_hour == Decimal("600.00") and sheet.currency == "CNY"
    assert sheet.camera_multiplier(3) == Decimal("1.00") and sheet.camera_multiplier(9) == Decimal(
        "1.10"
    )
    assert sheet.volume_tier(Decimal("499.99")) is None
    assert sheet.volume_tier(Decimal(1000)).discount == Decimal("0.08")  # type: ignore[union-attr]
    path = tmp_path / "prices.yaml"
    path.write_text("kind: embodex.price-sheet\ncurrency: CNY\nbase_per_accepted_hour: 600.5\n")
    with pytest.raises(PriceSheetError, match=r"base_per_accepted_hour is 600.5, a float"):
        load_price_sheet(path)
    with pytest.raises(ValueError, match="strictly increasing"):
        price_sheet(
            cameras=[{"min_cameras": 3, "multiplier": "1"}, {"min_cameras": 1, "multiplier": "1"}]
        )
    with pytest.raises(ValueError, match="strictly increasing"):
        price_sheet(
            volume_discounts=[
                {"min_hours": "5", "discount": "0.1"},
                {"min_hours": "5", "discount": "0.2"},
            ]
        )


def test_documents_validate_against_their_schemas(centre: Signer) -> None:
    import jsonschema
    import yaml

    specs = Path(__file__).resolve().parents[1] / "specs" / "schemas"
    examples = Path(__file__).resolve().parents[1] / "examples" / "market"

    def schema(name: str) -> dict[str, object]:
        return json.loads((specs / f"{name}.schema.json").read_text())  # type: ignore[no-any-return]

    q, _ = build_quote(listing(centre), demand(), now=NOW)
    jsonschema.validate(q.model_dump(mode="json"), schema("quote"))
    jsonschema.validate(listing(centre).payload(), schema("listing"))
    jsonschema.validate(default_price_sheet().model_dump(mode="json"), schema("price-sheet"))
    capacity = yaml.safe_load((examples / "capacity.yaml").read_text())
    jsonschema.validate(capacity, schema("capacity"))
    wrong = dict(capacity, hours_per_week={"S04": 8.5})  # a float where hours go
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema("capacity"))
