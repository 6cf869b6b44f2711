"""Match a demand against a catalogue: stock now, hours to collect and by when, shortfall.

For each demand item (one skill × scene type pair, in file order, specs/catalog.md §3.2):

1. **Stock.** Holdings of that skill and scene type whose dataset and verdict meet the
   demand's filters (QC verdict, robot models, cameras, fps, QC profile, scene ids) are
   *available now*; the item takes them up to the hours wanted. (Items are distinct skill ×
   scene type pairs, so no two items draw on the same holding.)
2. **Collection.** The rest must be collected in the scenes of that scene type (and scene
   ids, when the line names them). Week by week from the demand's start (not before the
   centre's ``capacity_available_from``), each scene's weekly capacity is shared out to the
   items in file order. Hours of week *k* are ready on its last day, ``start + 7k - 1``.
3. **Result.** ``ready_by`` is the day the item's last hour is ready (``start`` when stock
   covers it; null when the capacity never covers it within ten years); hours ready after
   the horizon are the item's **shortfall**.

All arithmetic is exact (:class:`~decimal.Decimal`); nothing is rounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from ..errors import DemandError
from ..trust.types import Digest, Hours, IsoDate, TrustModel
from .demand import Demand, DemandItem
from .listing import DatasetEntry, Holding, Listing

__all__ = ["MAX_WEEKS", "MatchLine", "MatchResult", "MatchTotals", "match_demand", "tidy"]

#: How far ahead matching looks for a completion date (ten years of weeks).
MAX_WEEKS = 520
ZERO = Decimal(0)


def tidy(value: Decimal) -> Decimal:
    """The same number without trailing zeros (``40.000000`` -> ``40``), never in exponent
    form: sums of hours with six decimals stay readable and exact."""
    return Decimal(format(value.normalize(), "f"))


class MatchLine(TrustModel):
    """What the centre can do for one skill × scene type pair of the demand."""

    line: int = Field(description="The demand line (1-based) this pair comes from.")
    skill: str
    scene_type: str
    customised: bool
    hours_wanted: Hours
    available_now: Hours = Field(description="Eligible hours the catalogue holds for this pair.")
    from_stock: Hours
    to_collect: Hours
    scenes: list[str] = Field(description="Scene ids that can collect this pair.")
    capacity_hours_per_week: Hours = Field(description="Their weekly capacity (shared).")
    collected_by_horizon: Hours
    ready_by: IsoDate | None = Field(description="Day the last hour is ready; null: never.")
    shortfall: Hours = Field(description="Hours not ready by the horizon.")
    status: Literal["in_stock", "collect", "shortfall"]
    excluded: dict[str, Hours] = Field(
        default_factory=dict, description="Stock of this pair left out, by the filter at fault."
    )
    datasets: list[int] = Field(default_factory=list, description="Datasets stock comes from.")


class MatchTotals(TrustModel):
    hours_wanted: Hours
    from_stock: Hours
    to_collect: Hours
    collected_by_horizon: Hours
    shortfall: Hours
    ready_by: IsoDate | None


class MatchResult(TrustModel):
    """The answer to a demand, line by line, with totals."""

    listing_digest: Digest
    demand_title: str
    start: IsoDate
    horizon: IsoDate
    weeks_to_horizon: int = Field(description="Whole weeks from start that end by the horizon.")
    collection_from: IsoDate
    lines: list[MatchLine]
    totals: MatchTotals

    @property
    def feasible(self) -> bool:
        return self.totals.shortfall == 0

    def to_json(self) -> dict[str, Any]:
        """The match with ``feasible`` (``embodex catalog match --json``)."""
        return {**self.model_dump(mode="json"), "feasible": self.feasible}

    def raise_if_infeasible(self) -> None:
        """Raise ``DemandError`` when some hours cannot be ready by the horizon."""
        if not self.feasible:
            raise DemandError(
                f"{self.totals.shortfall} h of the demand cannot be ready by {self.horizon}",
                hint="Move the horizon, lower the hours, or widen the scenes; a quote prices "
                "what can be delivered.",
            )


def _exclusion(demand: Demand, entry: DatasetEntry, holding: Holding) -> str | None:
    """Why a holding of the right skill and scene cannot serve the demand (None: it can)."""
    if holding.verdict == "FAIL" or (demand.min_qc.verdict == "PASS" and holding.verdict != "PASS"):
        return f"qc verdict {holding.verdict}"
    if demand.robot_models is not None and holding.robot_model not in demand.robot_models:
        return "robot model"
    cameras = {c.name for c in entry.cameras}
    if not set(demand.required_cameras) <= cameras:
        return "cameras"
    if demand.fps is not None and entry.fps != demand.fps:
        return "fps"
    if demand.min_qc.profile_digest is not None and (
        entry.qc.profile_digest != demand.min_qc.profile_digest
    ):
        return "qc profile"
    return None


def _week_end(start: date, k: int) -> date:
    return start + timedelta(days=7 * k - 1)


@dataclass
class _Stock:
    """What one item found in stock."""

    available_now: Decimal = ZERO
    from_stock: Decimal = ZERO
    excluded: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    datasets: set[int] = field(default_factory=set)


def _take_stock(listing: Listing, demand: Demand, item: DemandItem) -> _Stock:
    """Draw ``item``'s hours from the eligible holdings, in listing order."""
    found = _Stock()
    for h in listing.holdings:
        if (h.skill, h.scene_type) != (item.skill, item.scene_type):
            continue
        if item.scene_ids is not None and h.scene_id not in item.scene_ids:
            continue
        why = _exclusion(demand, listing.datasets[h.dataset], h)
        if why is not None:
            found.excluded[why] += h.hours
            continue
        found.available_now += h.hours
        take = min(h.hours, item.hours - found.from_stock)
        if take > 0:
            found.from_stock += take
            found.datasets.add(h.dataset)
    return found


def match_demand(listing: Listing, demand: Demand) -> MatchResult:
    """Match ``demand`` against ``listing`` (see the module docstring for the rules).

    Example::

        result = match_demand(open_catalog("catalog").listing, load_demand("demand.yaml"))
        for line in result.lines:
            print(line.skill, line.scene_type, line.from_stock, line.ready_by, line.shortfall)
    """
    items = demand.items()
    stock = [_take_stock(listing, demand, item) for item in items]
    need = [item.hours - st.from_stock for item, st in zip(items, stock, strict=True)]
    scenes_of = [
        [
            s.scene.scene_id
            for s in listing.scenes
            if s.scene.scene_type == item.scene_type
            and (item.scene_ids is None or s.scene.scene_id in item.scene_ids)
        ]
        for item in items
    ]
    collection_from = max(demand.start, listing.capacity_available_from or demand.start)
    weeks_to_horizon = ((demand.horizon - demand.start).days + 1) // 7
    by_horizon, ready = _collect(
        listing, demand.start, collection_from, weeks_to_horizon, need, scenes_of
    )
    out: list[MatchLine] = []
    for i, item in enumerate(items):
        short = tidy(item.hours - stock[i].from_stock - by_horizon[i])
        status: Literal["in_stock", "collect", "shortfall"] = (
            "in_stock" if need[i] == 0 else ("collect" if short == 0 else "shortfall")
        )
        out.append(
            MatchLine(
                line=item.line,
                skill=item.skill,
                scene_type=item.scene_type,
                customised=item.customised,
                hours_wanted=item.hours,
                available_now=stock[i].available_now,
                from_stock=stock[i].from_stock,
                to_collect=tidy(need[i]),
                scenes=scenes_of[i],
                capacity_hours_per_week=sum((listing.capacity(s) for s in scenes_of[i]), ZERO),
                collected_by_horizon=by_horizon[i],
                ready_by=demand.start if need[i] == 0 else ready[i],
                shortfall=short,
                status=status,
                excluded=dict(sorted(stock[i].excluded.items())),
                datasets=sorted(stock[i].datasets),
            )
        )
    return MatchResult(
        listing_digest=listing.digest,
        demand_title=demand.title,
        start=demand.start,
        horizon=demand.horizon,
        weeks_to_horizon=weeks_to_horizon,
        collection_from=collection_from,
        lines=out,
        totals=_totals(out),
    )


def _collect(
    listing: Listing,
    start: date,
    collection_from: date,
    weeks_to_horizon: int,
    need: list[Decimal],
    scenes_of: list[list[str]],
) -> tuple[list[Decimal], list[date | None]]:
    """Share weekly capacity out to the items in order: hours ready by the horizon, and the
    day each item's last hour is ready (None when the capacity never covers it)."""
    remaining = list(need)
    by_horizon = [ZERO] * len(need)
    ready: list[date | None] = [None] * len(need)
    capacity = {s.scene.scene_id: s.capacity_hours_per_week for s in listing.scenes}
    for k in range(1, MAX_WEEKS + 1):
        pending = [i for i, r in enumerate(remaining) if r > 0]
        if not pending or not any(capacity.get(s, ZERO) > 0 for i in pending for s in scenes_of[i]):
            break  # done, or nothing left to collect with
        week_start = start + timedelta(days=7 * (k - 1))
        if week_start < collection_from:
            continue
        left = dict(capacity)
        for i in pending:
            for scene in scenes_of[i]:
                take = min(left.get(scene, ZERO), remaining[i])
                if take <= 0:
                    continue
                left[scene] -= take
                remaining[i] -= take
                if k <= weeks_to_horizon:
                    by_horizon[i] += take
            if remaining[i] == 0:
                ready[i] = _week_end(start, k)
    return by_horizon, ready


def _totals(lines: list[MatchLine]) -> MatchTotals:
    def total(field: str) -> Decimal:
        return tidy(sum((getattr(line, field) for line in lines), ZERO))

    dates = [line.ready_by for line in lines]
    return MatchTotals(
        hours_wanted=total("hours_wanted"),
        from_stock=total("from_stock"),
        to_collect=total("to_collect"),
        collected_by_horizon=total("collected_by_horizon"),
        shortfall=total("shortfall"),
        ready_by=None if any(d is None for d in dates) else max(d for d in dates if d is not None),
    )
