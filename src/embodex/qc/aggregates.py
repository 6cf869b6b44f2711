"""Episodes and hours passed / warned / failed per scene type, skill, operator and robot.

Numbers that go into the signed QC manifest are never floats: counts are ints, hours and
rates decimal strings (RFC 8785 canonical JSON is then exact and portable). Hours are
quantised to 6 decimal places per episode (3.6 ms) and summed exactly, so every group's
hours add up to the overall hours to the last digit; rates have 4 decimal places
(round half to even).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

__all__ = [
    "HOURS_PLACES",
    "RATE_PLACES",
    "UNKNOWN",
    "EpisodeLike",
    "dec",
    "group_stats",
    "grouped",
    "hours_of",
    "rate",
    "top_failures",
]

HOURS_PLACES = 6
RATE_PLACES = 4
UNKNOWN = "(unknown)"


def dec(value: float | Decimal, places: int) -> str:
    """``value`` as a plain decimal string with ``places`` decimals (no exponent)."""
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return format(q, "f")


def hours_of(duration_s: float) -> str:
    """An episode's hours as the decimal string stored in the manifest."""
    return dec(Decimal(repr(float(duration_s))) / Decimal(3600), HOURS_PLACES)


def rate(numerator: int, denominator: int) -> str | None:
    """``numerator / denominator`` as a 4-decimal string, None when the denominator is 0."""
    if denominator <= 0:
        return None
    return dec(Decimal(numerator) / Decimal(denominator), RATE_PLACES)


class EpisodeLike(Protocol):
    @property
    def verdict(self) -> str: ...
    @property
    def hours(self) -> str: ...
    @property
    def success(self) -> bool | None: ...


def group_stats(episodes: Sequence[EpisodeLike]) -> dict[str, Any]:
    """The aggregate keys of one group of episodes (see specs/qc.md for each)."""
    n = {"PASS": 0, "WARN": 0, "FAIL": 0}
    h = {"PASS": Decimal(0), "WARN": Decimal(0), "FAIL": Decimal(0)}
    labelled = succeeded = 0
    for ep in episodes:
        n[ep.verdict] += 1
        h[ep.verdict] += Decimal(ep.hours)
        if ep.success is not None:
            labelled += 1
            succeeded += int(ep.success)
    total = sum(h.values(), Decimal(0))
    return {
        "episodes": len(episodes),
        "hours": dec(total, HOURS_PLACES),
        "passed": n["PASS"],
        "warned": n["WARN"],
        "failed": n["FAIL"],
        "hours_passed": dec(h["PASS"], HOURS_PLACES),
        "hours_warned": dec(h["WARN"], HOURS_PLACES),
        "hours_failed": dec(h["FAIL"], HOURS_PLACES),
        "pass_rate": rate(n["PASS"] + n["WARN"], len(episodes)),
        "success_rate": rate(succeeded, labelled),
    }


def grouped(
    episodes: Sequence[EpisodeLike], key: Iterable[str | None]
) -> dict[str, dict[str, Any]]:
    """``group_stats`` per value of ``key`` (one per episode; None -> ``(unknown)``)."""
    groups: dict[str, list[EpisodeLike]] = {}
    for ep, k in zip(episodes, key, strict=True):
        groups.setdefault(k if k else UNKNOWN, []).append(ep)
    return {k: group_stats(v) for k, v in sorted(groups.items())}


def top_failures(
    failing_rules: Mapping[str, Sequence[str]], limit: int = 10
) -> list[dict[str, Any]]:
    """The rules that FAIL the most episodes: ``[{"rule", "episodes"}]``, most first."""
    counts: Counter[str] = Counter()
    for rules in failing_rules.values():
        counts.update(set(rules))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"rule": r, "episodes": c} for r, c in ranked[:limit]]
