"""Field types shared by the signed documents: exact decimals, dates, digests.

Every number that may be fractional (money, hours, rates) is a :class:`~decimal.Decimal`
that travels as a decimal string; a float is refused with an error that says to quote it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

__all__ = [
    "DIGEST_PATTERN",
    "REGION_PATTERN",
    "Dec",
    "Digest",
    "Hours",
    "Identifier",
    "IsoDate",
    "Money",
    "NonEmpty",
    "Rate",
    "Slug",
    "Timestamp",
    "TrustModel",
    "dec_str",
    "money_step",
    "round_money",
]

DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
#: An ISO 3166 region: a country (CN) or a subdivision (CN-HB); contracts and ledger entries.
REGION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
_DECIMAL_RE = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")


class TrustModel(BaseModel):
    """Base of the trust documents: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def dec_str(value: Decimal) -> str:
    """A Decimal as plain decimal text (never exponent form): ``Decimal('1E+3')`` -> ``'1000'``."""
    return format(value, "f")


#: ISO 4217 currencies whose minor unit is not the cent (all others: 2 decimal places).
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS = {
    **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}


def round_money(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half-up to the currency's minor unit (2 places for CNY, USD, EUR…;
    0 for JPY; 3 for KWD): how every amount due is stated. Compute exactly, round once."""
    return value.quantize(money_step(currency), rounding=ROUND_HALF_UP)


def money_step(currency: str) -> Decimal:
    """The currency's minor unit as a step: ``Decimal("0.01")`` for CNY, ``1`` for JPY."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


#: Bounds of every exact decimal a document may carry (money, hours, rates, thresholds):
#: below 10^15 in magnitude, at most 12 decimal places. Far beyond any price or volume traded,
#: and it keeps every product and sum exact in Decimal's 28 digits (a price of 10^40 once
#: signed into a contract made ``supply status`` fail with InvalidOperation).
MAX_DECIMAL = Decimal(10) ** 15
MAX_DECIMAL_PLACES = 12
#: Bounds of what people write into contracts, demands and price sheets, checked where the
#: file is read (the error names the field): hours of one trade (a million hours is over a
#: century of recording), a price per hour and an amount, in any currency's major unit.
MAX_TRADE_HOURS = Decimal(10) ** 6
MAX_UNIT_PRICE = Decimal(10) ** 9
MAX_AMOUNT = Decimal(10) ** 13
MAX_MULTIPLIER = Decimal(1000)


def _bounded(d: Decimal, shown: object) -> Decimal:
    if not d.is_finite():
        raise ValueError(f"{shown!r} is not a finite number")
    if abs(d) >= MAX_DECIMAL:
        raise ValueError(f"{shown!r} is out of range (at most 15 digits before the point)")
    exponent = d.normalize().as_tuple().exponent  # trailing zeros do not count
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise ValueError(f"{shown!r} has more than {MAX_DECIMAL_PLACES} decimal places")
    return d


def _to_decimal(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a decimal string, got a boolean")
    if isinstance(value, float):
        raise ValueError(
            f'{value!r} is a float; write it as a quoted decimal string ("{value!r}") '
            "so that it stays exact"
        )
    if isinstance(value, int):
        if abs(value) >= MAX_DECIMAL:
            raise ValueError(f"{value!r} is out of range (at most 15 digits before the point)")
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not _DECIMAL_RE.match(text):
            shown = text if len(text) <= 40 else text[:20] + "…"
            raise ValueError(f'{shown!r} is not a decimal number like "12.50" (up to 15 digits)')
        try:
            return _bounded(Decimal(text), text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    if isinstance(value, Decimal):
        return _bounded(value, dec_str(value) if value.is_finite() else str(value))
    return value


_DEC_SCHEMA = {"type": "string", "pattern": _DECIMAL_RE.pattern}

#: An exact decimal, written as a string in JSON and YAML (ints accepted on input).
Dec = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(dec_str, return_type=str),
    WithJsonSchema(_DEC_SCHEMA),
]
Hours = Annotated[Dec, Field(ge=0, description='Hours as a decimal string, e.g. "12.5".')]
Money = Annotated[Dec, Field(gt=0, description='An amount as a decimal string, e.g. "600.00".')]
Rate = Annotated[Dec, Field(ge=0, le=1, description="A fraction in [0, 1] as a decimal string.")]


def _to_date(value: Any) -> Any:
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise ValueError(f"{value!r} is not a date like 2025-01-06")


#: A calendar date, ISO 8601 ``YYYY-MM-DD``.
IsoDate = Annotated[
    date,
    BeforeValidator(_to_date),
    WithJsonSchema({"type": "string", "format": "date"}),
]
#: A point in time with its UTC offset, ISO 8601.
Timestamp = AwareDatetime
Digest = Annotated[str, Field(pattern=DIGEST_PATTERN, description="sha256:<64 hex>")]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")]
NonEmpty = Annotated[str, Field(min_length=1)]
