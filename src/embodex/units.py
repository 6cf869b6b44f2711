"""Durations, hours, counts and money rates as people read them: the one formatter behind the
CLI, the ledger's notes and every HTML page.

A duration is given in hours (the trade's unit: contracts, receipts and catalogues count
hours) and shown in ``h``, ``min`` or ``s``. The unit is the user's choice
(``EMBODEX_UNITS=h|min|s``, or a ``--units`` option where a command has one; ``auto`` by
default). ``auto`` picks per value (``2.50 h``, ``4.3 min``, ``30.5 s``), or, for a column or
a chart, one unit from the largest value (:func:`unit_for`), so figures side by side are in
the same unit. Numbers carry thousands separators; hours never print six decimals (a small
figure keeps three significant digits so that a product such as hours × price still checks
out); counts agree with their noun (``1 episode``, ``6 episodes``).

Example::

    from embodex.units import duration, count
    duration(Decimal("8.85"))          # '8.85 h'
    duration(0.008481)                 # '30.5 s'
    duration(0.008481, unit="h")       # '0.00848 h'
    count(6, "episode")                # '6 episodes'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Literal, cast

from .config import units_setting

__all__ = [
    "UNIT_CHOICES",
    "Unit",
    "amount",
    "chosen_unit",
    "count",
    "duration",
    "figure",
    "in_unit",
    "number",
    "of_count",
    "per_unit",
    "percent",
    "plural",
    "unit_for",
    "use_unit",
]

Unit = Literal["h", "min", "s"]
#: what ``EMBODEX_UNITS`` and ``--units`` accept
UNIT_CHOICES = ("auto", "h", "min", "s")
_PER_HOUR: dict[Unit, int] = {"h": 1, "min": 60, "s": 3600}
_Num = float | int | Decimal | str
#: a unit chosen for a stretch of code (``--units`` of one CLI run), over EMBODEX_UNITS
_CHOSEN: ContextVar[str | None] = ContextVar("embodex_units", default=None)


def chosen_unit(value: str | None = None) -> Unit | None:
    """The unit asked for: ``value`` (a ``--units`` option) or else ``EMBODEX_UNITS``; None
    means ``auto``. Raises :class:`ConfigError` for anything but ``auto``, ``h``, ``min``,
    ``s``."""
    raw = value if value is not None else (_CHOSEN.get() or units_setting())
    text = (raw or "auto").strip().lower()
    if text not in UNIT_CHOICES:
        from .errors import ConfigError  # here: the CLI loads this module at start-up

        source = "the unit" if value is not None else "EMBODEX_UNITS"
        raise ConfigError(
            f"{source} {raw!r} is not one of {', '.join(UNIT_CHOICES)}",
            hint="Use h, min, s or auto (the default picks the unit per figure).",
        )
    return None if text == "auto" else cast(Unit, text)


@contextmanager
def use_unit(unit: str | None) -> Iterator[None]:
    """Show durations in ``unit`` inside the block (over ``EMBODEX_UNITS``; None changes
    nothing): what a command's ``--units`` option does. Raises :class:`ConfigError` for an
    unknown unit."""
    if unit is not None:
        chosen_unit(unit)
    token = _CHOSEN.set(unit)
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def _auto(hours: float) -> Unit:
    """The unit a figure reads best in: h from a tenth of an hour, min from a minute, else s."""
    h = abs(hours)
    if h >= 0.1 or h == 0:
        return "h"
    return "min" if h * 60 >= 1 else "s"


def unit_for(values: Iterable[_Num], unit: str | None = None) -> Unit:
    """One unit for figures shown together (a column, a chart, a page): the chosen one, or
    the one the largest of ``values`` reads best in."""
    chosen = chosen_unit(unit)
    if chosen is not None:
        return chosen
    return _auto(max((abs(float(v)) for v in values), default=0.0))


def in_unit(hours: _Num, unit: Unit) -> float:
    """``hours`` expressed in ``unit`` (a chart's bar length)."""
    return float(hours) * _PER_HOUR[unit]


def _digits(value: float, unit: Unit, more: int = 0) -> str:
    """The figure with separators: h to 2 places, min and s to 1 (none from 100 s); a small
    non-zero figure keeps three significant digits instead of reading 0.00. ``more`` adds
    places (for an amount that must multiply back)."""
    a = abs(value)
    places = 2 if unit == "h" else (0 if unit == "s" and a >= 100 else 1)
    if 0 < a < 10 ** (-places) * 10:  # would show one or no significant digit
        places = min(6, max(places, 2 - math.floor(math.log10(a))))
    return f"{value:,.{places + more}f}"


def figure(value: _Num, unit: str) -> str:
    """A value already in ``unit`` with its unit, as :func:`duration` writes it (``3.4 s``,
    ``38.46 h``); a count noun agrees with the value (``1 episode``, ``2 episodes``)."""
    v = float(value)
    base = unit.split("/")[0]  # h/week reads like h
    if base in _PER_HOUR:
        return "0 " + unit if v == 0 else f"{_digits(v, base)} {unit}"
    if unit.endswith("s") and len(unit) > 3 and v == 1:
        unit = unit[:-1]
    text = f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"
    return f"{text} {unit}".strip()


def duration(hours: _Num, unit: str | None = None) -> str:
    """``hours`` as text with its unit: the chosen unit (``unit``, else ``EMBODEX_UNITS``),
    or in ``auto`` the unit this figure reads best in. Raises :class:`ConfigError` for an
    unknown unit."""
    h = float(hours)
    u = chosen_unit(unit) or _auto(h)
    if h == 0:
        return f"0 {u}"
    return f"{_digits(in_unit(h, u), u)} {u}"


def per_unit(per_hour: _Num, unit: Unit) -> str:
    """A price per hour as a price per ``unit`` (``850.30`` per h is ``14.17`` per min, ``0.2362``
    per s): per hour exactly as given, otherwise four significant digits, enough to multiply
    back to the amount."""
    if unit == "h":
        return f"{Decimal(str(per_hour)):,f}"
    return f"{float(per_hour) / _PER_HOUR[unit]:,.4g}"


def amount(
    hours: _Num,
    per_hour: _Num,
    currency: str,
    unit: str | None = None,
    *,
    total: _Num | None = None,
) -> str:
    """How an amount is made: ``0.00848 h × 850.30 CNY/h``. In ``auto`` the hours stay in h,
    the unit the price is per; a chosen unit converts both sides. With ``total`` (the amount
    stated, to the cent) the figures get the fewest extra digits that make their product
    round to it, so a reader who multiplies gets the amount."""
    u = chosen_unit(unit) or "h"
    value = float(hours) * _PER_HOUR[u]
    rate = float(per_hour) / _PER_HOUR[u]
    text = ""
    for more in range(8):
        shown_h = _digits(value, u, more) if value else "0"
        shown_r = f"{Decimal(str(per_hour)):,f}" if u == "h" else f"{rate:,.{4 + 2 * more}g}"
        text = f"{shown_h} {u} × {shown_r} {currency}/{u}"
        product = Decimal(shown_h.replace(",", "")) * Decimal(shown_r.replace(",", ""))
        if total is None or abs(product - Decimal(str(total))) <= Decimal("0.005"):
            break
    return text


def percent(fraction: _Num, places: int | None = None) -> str:
    """A fraction as a percentage, exact and without trailing zeros: ``0.05`` is ``5 %``,
    ``0.075`` is ``7.5 %``; with ``places``, rounded to that many decimals (a measured rate:
    ``percent(0.91234, 1)`` is ``91.2 %``)."""
    if places is not None:
        return f"{float(fraction) * 100:,.{places}f} %"
    value = (Decimal(str(fraction)) * 100).normalize()
    return f"{value:,f} %"


def number(n: _Num) -> str:
    """An integer with thousands separators (``30,224``)."""
    return f"{int(n):,}"


_IRREGULAR = {"is": "are", "was": "were", "its": "their"}


def plural(word: str, n: int = 2) -> str:
    """``word`` agreeing with ``n``: ``episode``/``episodes``, ``batch``/``batches``,
    ``entry``/``entries``."""
    if n == 1:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    return word + "s"


def count(n: int, word: str) -> str:
    """``1 episode``, ``2,542 frames``: the count with separators and the noun agreeing."""
    return f"{number(n)} {plural(word, n)}"


def of_count(k: int, n: int, word: str) -> str:
    """``6 of 6 episodes``, ``1 of 1 episode``: the noun agrees with the total."""
    return f"{number(k)} of {count(n, word)}"
