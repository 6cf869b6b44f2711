"""Transparent quotes: every term of the price arithmetic, exact, line by line.

For each demand item the quote prices the hours the centre can deliver by the horizon (stock
plus collection; a shortfall is not priced) in up to two parts (specs/catalog.md §4):

* the **unit price** is ``base × scene complexity × skill difficulty × cameras ×
  exclusivity`` (× customised collection, for collected hours of a customised line), computed
  exactly and then rounded to the currency's minor unit (cents for CNY, whole yen for JPY;
  half up);
* the part's **amount** is ``hours × unit price``, rounded to the minor unit (half up).

The subtotal is the sum of the amounts; the **volume discount** of the highest tier the
quoted hours reach is ``subtotal × rate`` rounded to the minor unit (half up); the **total**
is the subtotal minus the discount. Deliveries split hours (to 0.001 h, rounded down) and
money (to the minor unit, rounded down) evenly over the periods of the schedule, the last
taking the rest, so they add up exactly. The contract's single price per accepted hour is
the **blended** price ``total / hours`` rounded to the minor unit (half up), as supply rounds
what is due (trust.types.round_money); the quote shows the contract value at that price next
to the total. No float is ever involved.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, Inexact, localcontext
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from ..canonical import digest_json, to_pretty_json
from ..contract.periods import make_periods, parse_duration
from ..errors import DemandError, QuoteError
from ..fsutil import atomic_write_bytes
from ..parsing import MAX_INPUT_BYTES, parse_document
from ..trust.types import Dec, Digest, Hours, IsoDate, NonEmpty, TrustModel, money_step, round_money
from .demand import Budget, Demand, demand_today, require_dates_ahead
from .listing import CentreInfo, Listing, ProfileRef
from .matching import MatchLine, MatchResult, match_demand, tidy
from .prices import LicenceOffer, PriceSheet, VolumeTier

__all__ = [
    "Delivery",
    "Factor",
    "Quote",
    "QuoteLine",
    "QuotePart",
    "QuoteScope",
    "build_quote",
    "check_arithmetic",
    "load_quote",
    "verify_quote",
    "write_quote",
]

MILLI_HOUR = Decimal("0.001")
ZERO = Decimal(0)
Amount = Annotated[Dec, Field(ge=0, description='Money as a decimal string, e.g. "1234.50".')]


@contextmanager
def _exact() -> Iterator[None]:
    """Arithmetic that raises instead of rounding silently (products of short decimals)."""
    with localcontext() as ctx:
        ctx.prec = 200
        ctx.traps[Inexact] = True
        yield


def _divide(a: Decimal, b: Decimal | int, step: Decimal, rounding: str) -> Decimal:
    """``a / b`` rounded once to ``step``: the quotient is truncated far below ``step`` first,
    which decides ``rounding`` exactly as the true quotient would."""
    with localcontext() as ctx:
        ctx.prec = 200
        ctx.rounding = ROUND_DOWN
        q = a / b
    return q.quantize(step, rounding=rounding)


def _times(a: Decimal, b: Decimal) -> Decimal:
    with _exact():
        return a * b


def _product(values: Sequence[Decimal]) -> Decimal:
    out = Decimal(1)
    with _exact():
        for v in values:
            out *= v
    return out


class Factor(TrustModel):
    """One term of a unit price: what it is, why it applies, its value."""

    name: Literal[
        "base",
        "scene_complexity",
        "skill_difficulty",
        "cameras",
        "exclusivity",
        "customised_collection",
    ]
    label: NonEmpty
    value: Dec


class QuotePart(TrustModel):
    """Hours from stock, or hours to collect, at one unit price."""

    source: Literal["stock", "collection"]
    hours: Hours
    factors: list[Factor] = Field(min_length=1)
    unit_price_exact: Dec = Field(description="The product of the factors, unrounded.")
    unit_price: Amount = Field(description="unit_price_exact to cents, half up.")
    amount: Amount = Field(description="hours × unit_price to cents, half up.")


class QuoteLine(TrustModel):
    line: int
    skill: str
    scene_type: str
    customised: bool
    hours_wanted: Hours
    hours_quoted: Hours = Field(description="Deliverable by the horizon: stock + collected.")
    shortfall: Hours
    ready_by: IsoDate | None
    parts: list[QuotePart]
    amount: Amount


class Delivery(TrustModel):
    number: int = Field(ge=1)
    start: IsoDate
    end: IsoDate
    hours: Hours
    amount: Amount


class QuoteScope(TrustModel):
    """What a contract made from this quote covers."""

    skills: list[str]
    scene_types: list[str]
    scene_ids: list[str] | None
    robot_models: list[str]
    required_cameras: list[str]
    fps: int


class Quote(TrustModel):
    """``kind: embodex.quote``: a priced answer to a demand (see the module docstring)."""

    kind: Literal["embodex.quote"] = "embodex.quote"
    version: Literal[1] = 1
    quote_id: str
    created_at: str
    valid_until: IsoDate
    listing_digest: Digest
    listing_sequence: int
    centre: CentreInfo
    demand: Demand
    demand_digest: Digest
    currency: str
    payment_terms: NonEmpty
    licence: LicenceOffer
    cameras: int = Field(ge=0, description="Camera count the cameras factor is taken at.")
    lines: list[QuoteLine] = Field(min_length=1)
    hours: Hours
    shortfall: Hours
    subtotal: Amount
    volume_tier: VolumeTier | None
    discount: Amount
    total: Amount
    deliveries: list[Delivery] = Field(min_length=1)
    blended_per_accepted_hour: Amount | None = Field(
        description="total / hours to cents, half up: the contract's price per accepted hour."
    )
    contract_value: Amount = Field(description="blended price × hours, to cents, half up.")
    budget: Budget | None
    budget_left: Dec | None = Field(description="budget − total; negative when over budget.")
    scope: QuoteScope
    qc_profile: ProfileRef
    catalog: str | None = Field(
        default=None,
        description="Where the quote was priced from (the catalogue folder or channel URL "
        "given to `embodex quote`): where `contract init --from-quote` looks for the listing "
        "by default. Not trusted: the listing found there must be the one the quote names.",
    )

    @property
    def digest(self) -> str:
        return digest_json(self.model_dump(mode="json"))

    @property
    def within_budget(self) -> bool | None:
        return None if self.budget_left is None else self.budget_left >= 0


def _unit_factors(
    sheet: PriceSheet, licence: LicenceOffer, skill: str, scene_type: str, cameras: int
) -> list[Factor]:
    return [
        Factor(name="base", label=f"base per accepted hour ({sheet.currency})",
               value=sheet.base_per_accepted_hour),
        Factor(name="scene_complexity", label=f"scene type {scene_type}",
               value=sheet.scene_multiplier(scene_type)),
        Factor(name="skill_difficulty", label=f"skill {skill}",
               value=sheet.skill_multiplier(skill)),
        Factor(name="cameras", label=f"{cameras} cameras", value=sheet.camera_multiplier(cameras)),
        Factor(name="exclusivity",
               label="exclusive licence" if licence.exclusive else "non-exclusive licence",
               value=sheet.exclusivity if licence.exclusive else Decimal("1.00")),
    ]  # fmt: skip


def _part(
    source: Literal["stock", "collection"], hours: Decimal, factors: list[Factor], currency: str
) -> QuotePart:
    exact = _product([f.value for f in factors])
    unit = round_money(exact, currency)
    return QuotePart(
        source=source,
        hours=hours,
        factors=factors,
        unit_price_exact=exact,
        unit_price=unit,
        amount=round_money(_times(hours, unit), currency),
    )


def _quote_line(m: MatchLine, sheet: PriceSheet, licence: LicenceOffer, cameras: int) -> QuoteLine:
    factors = _unit_factors(sheet, licence, m.skill, m.scene_type, cameras)
    parts = []
    if m.from_stock > 0:
        parts.append(_part("stock", m.from_stock, factors, sheet.currency))
    if m.collected_by_horizon > 0:
        extra = (
            [Factor(name="customised_collection", label="customised collection",
                    value=sheet.customised_collection)]
            if m.customised
            else []
        )  # fmt: skip
        parts.append(_part("collection", m.collected_by_horizon, factors + extra, sheet.currency))
    return QuoteLine(
        line=m.line,
        skill=m.skill,
        scene_type=m.scene_type,
        customised=m.customised,
        hours_wanted=m.hours_wanted,
        hours_quoted=tidy(m.from_stock + m.collected_by_horizon),
        shortfall=m.shortfall,
        ready_by=m.ready_by,
        parts=parts,
        amount=sum((p.amount for p in parts), ZERO),
    )


def _split(total: Decimal, n: int, step: Decimal) -> list[Decimal]:
    """``total`` over ``n`` shares rounded down to ``step``; the last takes the rest."""
    share = _divide(total, n, step, ROUND_DOWN)
    return [share] * (n - 1) + [total - share * (n - 1)]


def _deliveries(demand: Demand, hours: Decimal, total: Decimal, currency: str) -> list[Delivery]:
    periods = make_periods(
        demand.start,
        demand.horizon,
        parse_duration(demand.cadence),
        parse_duration(demand.delivery_deadline),
        demand.timezone,
    )
    hour_shares = _split(hours, len(periods), MILLI_HOUR)
    money_shares = _split(total, len(periods), money_step(currency))
    return [
        Delivery(number=p.number, start=p.start, end=p.end, hours=h, amount=a)
        for p, h, a in zip(periods, hour_shares, money_shares, strict=True)
    ]


def _camera_count(listing: Listing, demand: Demand) -> int:
    if demand.required_cameras:
        return len(demand.required_cameras)
    common = set.intersection(*({c.name for c in d.cameras} for d in listing.datasets))
    return len(common)


def _scope(listing: Listing, demand: Demand, match: MatchResult) -> QuoteScope:
    used = sorted({i for line in match.lines for i in line.datasets}) or list(
        range(len(listing.datasets))
    )
    if demand.fps is not None:
        fps = demand.fps
    else:
        rates = {listing.datasets[i].fps for i in used}
        if len(rates) != 1 or rates != {Decimal(int(next(iter(rates))))}:
            raise DemandError(
                f"the data comes at frame rates {sorted(str(r) for r in rates)}: a contract "
                "names one whole rate",
                hint="Add `fps: 30` (say) to the demand.",
            )
        fps = int(next(iter(rates)))
    robots = demand.robot_models or sorted(
        {r for i in used for r in listing.datasets[i].robot_models}
    )
    scene_ids = sorted({s for line in demand.lines for s in line.scene_ids or []}) or None
    if scene_ids is not None and any(line.scene_ids is None for line in demand.lines):
        scene_ids = None  # one line takes any scene: the contract cannot narrow to ids
    return QuoteScope(
        skills=list(dict.fromkeys(line.skill for line in match.lines)),
        scene_types=list(dict.fromkeys(line.scene_type for line in match.lines)),
        scene_ids=scene_ids,
        robot_models=robots,
        required_cameras=list(demand.required_cameras),
        fps=fps,
    )


def _profile(listing: Listing, demand: Demand, match: MatchResult) -> ProfileRef:
    wanted = demand.min_qc.profile_digest
    if wanted is not None:
        for p in listing.qc_profiles:
            if p.digest == wanted:
                return p
        raise DemandError(
            f"the catalogue certifies no data against QC profile {wanted}",
            hint="Offered profiles: " + ", ".join(p.digest for p in listing.qc_profiles) + ".",
        )
    # The profile of the datasets the stock comes from (most hours first).
    hours: dict[str, Decimal] = {}
    for line in match.lines:
        for i in line.datasets:
            d = listing.datasets[i].qc.profile_digest
            hours[d] = hours.get(d, ZERO) + line.from_stock
    best = max(hours, key=lambda d: (hours[d], d)) if hours else listing.qc_profiles[0].digest
    return next(p for p in listing.qc_profiles if p.digest == best)


def build_quote(
    listing: Listing,
    demand: Demand,
    *,
    now: datetime | None = None,
    catalog: str | None = None,
) -> tuple[Quote, MatchResult]:
    """Match ``demand`` against ``listing`` and price it (see the module docstring).

    ``catalog`` is recorded in the quote as where the listing came from (a folder or URL).

    Raises :class:`DemandError` (dates past on ``now``'s day in the demand's time zone,
    budget in another currency, nothing the centre can deliver, frame rates that differ, a
    QC profile the catalogue does not certify against)
    and ``PriceSheetError`` (a licence the price sheet does not offer).

    Example::

        quote, match = build_quote(open_catalog("catalog").listing, load_demand("demand.yaml"))
        print(quote.total, quote.currency)
    """
    require_dates_ahead(demand, demand_today(demand, now))
    sheet = listing.prices
    licence = sheet.licence(demand.licence)
    if demand.budget is not None and demand.budget.currency != sheet.currency:
        raise DemandError(
            f"the budget is in {demand.budget.currency}, the centre prices in {sheet.currency}",
            hint=f"State the budget in {sheet.currency}.",
        )
    match = match_demand(listing, demand)
    cameras = _camera_count(listing, demand)
    lines = [_quote_line(m, sheet, licence, cameras) for m in match.lines]
    hours = tidy(sum((line.hours_quoted for line in lines), ZERO))
    if hours == 0:
        raise DemandError(
            "the centre can deliver none of the hours asked for by the horizon",
            hint="See `match_demand(listing, demand)` for what is excluded and why.",
        )
    subtotal = sum((line.amount for line in lines), ZERO)
    tier = sheet.volume_tier(hours)
    discount = round_money(_times(subtotal, tier.discount), sheet.currency) if tier else ZERO
    total = subtotal - discount
    blended = _divide(total, hours, money_step(sheet.currency), ROUND_HALF_UP)
    created = (now or datetime.now(UTC)).replace(microsecond=0)
    valid = min(d for d in (listing.valid_until, sheet.valid_until) if d is not None)
    demand_digest = digest_json(demand.model_dump(mode="json"))
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        Quote(
            quote_id="Q-" + digest_json([listing.digest, demand_digest, stamp])[7:19],
            created_at=stamp,
            valid_until=valid,
            listing_digest=listing.digest,
            listing_sequence=listing.sequence,
            centre=listing.centre,
            demand=demand,
            demand_digest=demand_digest,
            currency=sheet.currency,
            payment_terms=sheet.payment_terms,
            licence=licence,
            cameras=cameras,
            lines=lines,
            hours=hours,
            shortfall=match.totals.shortfall,
            subtotal=subtotal,
            volume_tier=tier,
            discount=discount,
            total=total,
            deliveries=_deliveries(demand, hours, total, sheet.currency),
            blended_per_accepted_hour=blended,
            contract_value=round_money(_times(blended, hours), sheet.currency),
            budget=demand.budget,
            budget_left=None if demand.budget is None else demand.budget.amount - total,
            scope=_scope(listing, demand, match),
            qc_profile=_profile(listing, demand, match),
            catalog=catalog,
        ),
        match,
    )


def check_arithmetic(quote: Quote) -> None:
    """Recompute every figure of ``quote`` from its hours and factors.

    Raises :class:`QuoteError` naming the first figure that does not add up (a quote edited
    by hand, or by a program that rounds differently).
    """

    currency = quote.currency

    def expect(what: str, stated: Decimal | None, computed: Decimal | None) -> None:
        if stated != computed:
            raise QuoteError(f"quote {quote.quote_id}: {what} is {stated}, computed {computed}")

    for line in quote.lines:
        where = f"line {line.line} ({line.skill} × {line.scene_type})"
        for part in line.parts:
            exact = _product([f.value for f in part.factors])
            expect(f"{where} {part.source} unit price (exact)", part.unit_price_exact, exact)
            expect(
                f"{where} {part.source} unit price", part.unit_price, round_money(exact, currency)
            )
            amount = round_money(_times(part.hours, part.unit_price), currency)
            expect(f"{where} {part.source} amount", part.amount, amount)
        expect(f"{where} amount", line.amount, sum((p.amount for p in line.parts), ZERO))
        expect(f"{where} hours", line.hours_quoted, sum((p.hours for p in line.parts), ZERO))
    hours = sum((line.hours_quoted for line in quote.lines), ZERO)
    expect("hours", quote.hours, hours)
    subtotal = sum((line.amount for line in quote.lines), ZERO)
    expect("subtotal", quote.subtotal, subtotal)
    rate = quote.volume_tier.discount if quote.volume_tier else ZERO
    expect("discount", quote.discount, round_money(_times(subtotal, rate), currency))
    expect("total", quote.total, subtotal - quote.discount)
    expect("delivery hours", sum((d.hours for d in quote.deliveries), ZERO), quote.hours)
    expect("delivery amounts", sum((d.amount for d in quote.deliveries), ZERO), quote.total)
    step = money_step(currency)
    blended = _divide(quote.total, hours, step, ROUND_HALF_UP) if hours else None
    expect("blended price per accepted hour", quote.blended_per_accepted_hour, blended)
    if blended is not None:
        value = round_money(_times(blended, hours), currency)
        expect("contract value", quote.contract_value, value)
    if quote.budget is not None:
        expect("budget left", quote.budget_left, quote.budget.amount - quote.total)


def _first_difference(stated: Any, computed: Any, where: str = "") -> tuple[str, Any, Any] | None:
    """The first path (``lines[0].parts[1].amount``) where two JSON values differ, or None."""
    if isinstance(stated, dict) and isinstance(computed, dict):
        for key in list(dict.fromkeys([*computed, *stated])):
            found = _first_difference(
                stated.get(key), computed.get(key), f"{where}.{key}" if where else key
            )
            if found is not None:
                return found
        return None
    if isinstance(stated, list) and isinstance(computed, list):
        for i in range(max(len(stated), len(computed))):
            a = stated[i] if i < len(stated) else None  # None: the item is missing there
            b = computed[i] if i < len(computed) else None
            found = _first_difference(a, b, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    return None if stated == computed else (where, stated, computed)


def verify_quote(quote: Quote, listing: Listing) -> None:
    """Check that ``quote`` is exactly what ``listing`` prices for the quote's demand.

    ``listing`` must be one the caller verified (``open_catalog_url``: signed by the centre
    it names). The quote must name that listing's digest and centre, and rebuilding the
    quote from the listing's signed price sheet, stock and capacity (for the demand the
    quote embeds, at the quote's ``created_at``) must give every figure, factor, scope and
    date the quote states. So a quote whose arithmetic adds up but whose factors were
    edited (a lower base price, a friendlier multiplier) is refused.

    Raises :class:`QuoteError` naming the listing or the first field that differs, and
    ``DemandError`` when the embedded demand no longer matches the listing.

    Example::

        verify_quote(load_quote("quote.json"), open_catalog_url("catalog").listing)
    """
    if quote.listing_digest != listing.digest:
        raise QuoteError(
            f"quote {quote.quote_id} was priced against listing #{quote.listing_sequence} "
            f"({quote.listing_digest}); the catalogue holds listing #{listing.sequence} "
            f"({listing.digest})",
            hint="Ask for a fresh quote against the current catalogue "
            "(`build_quote(listing, demand)`), or pass the catalogue the quote was priced from "
            "(`catalog=`).",
        )
    try:
        created = datetime.strptime(quote.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise QuoteError(
            f"quote {quote.quote_id}: created_at {quote.created_at!r} is not YYYY-MM-DDTHH:MM:SSZ"
        ) from None
    expected, _ = build_quote(listing, quote.demand, now=created, catalog=quote.catalog)
    diff = _first_difference(quote.model_dump(mode="json"), expected.model_dump(mode="json"))
    if diff is not None:
        where, stated, computed = diff
        raise QuoteError(
            f"quote {quote.quote_id}: {where} is {stated!r} in the quote but {computed!r} from "
            "the centre's signed listing",
            hint="The quote was edited after it was made: ask for a fresh one "
            "(`build_quote(listing, demand)`).",
        )


def write_quote(path: str | Path, quote: Quote) -> None:
    """Write the quote as pretty JSON (atomically)."""
    atomic_write_bytes(path, to_pretty_json(quote.model_dump(mode="json")))


def load_quote(path: str | Path) -> Quote:
    """Read a quote file and check its arithmetic. Raises :class:`QuoteError`."""
    p = Path(path)
    try:
        quote = parse_document(p, Quote, QuoteError, limit=MAX_INPUT_BYTES)
    except FileNotFoundError:
        raise QuoteError(f"{p} does not exist") from None
    check_arithmetic(quote)
    return quote
