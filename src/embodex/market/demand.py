"""A buyer's demand: which skills in which scene types, how many hours, by when, how good.

People write it as YAML (``kind: embodex.demand``, specs/catalog.md §3). Each line names one
or more skills and scene types and the hours wanted for **each** skill × scene type pair;
:meth:`Demand.items` expands the lines into those pairs, in file order, which is also the
order in which matching shares out stock and capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from ..contract.periods import parse_duration, zone
from ..errors import DemandError
from ..trust.types import (
    MAX_AMOUNT,
    MAX_TRADE_HOURS,
    Digest,
    Hours,
    Identifier,
    IsoDate,
    Money,
    NonEmpty,
    Rate,
    Slug,
    TrustModel,
)
from .yamlfile import load_yaml_model, parse_yaml_model

__all__ = [
    "Budget",
    "Demand",
    "DemandItem",
    "DemandLine",
    "MinQC",
    "demand_today",
    "load_demand",
    "parse_demand",
    "require_dates_ahead",
]


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _zone(value: str) -> str:
    zone(value)
    return value


#: An ISO 8601 date duration (``P1W``, ``P2D``, ``P1M``), checked as contracts check it.
IsoDuration = Annotated[str, AfterValidator(_duration)]
#: An IANA time zone name (``Asia/Shanghai``).
TimeZoneName = Annotated[str, AfterValidator(_zone)]


class DemandLine(TrustModel):
    skills: list[Slug] = Field(min_length=1)
    scene_types: list[Slug] = Field(min_length=1)
    scene_ids: list[Identifier] | None = Field(
        default=None, description="Only these scenes (stock and collection); null: any."
    )
    hours: Hours = Field(
        le=MAX_TRADE_HOURS, description="Hours wanted for each skill × scene type pair."
    )
    customised: bool = Field(
        default=False, description="Collect to the buyer's own scene specification."
    )
    note: str | None = None

    @field_validator("hours")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("hours must be more than 0")
        return v

    @model_validator(mode="after")
    def _unique(self) -> DemandLine:
        for name in ("skills", "scene_types"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a value twice")
        return self


class MinQC(TrustModel):
    """The least quality the buyer accepts."""

    verdict: Literal["PASS", "WARN"] = Field(
        default="WARN", description="Lowest final verdict accepted: WARN takes PASS and WARN."
    )
    profile_digest: Digest | None = Field(
        default=None, description="Only data certified against this QC profile."
    )
    min_pass_rate: Rate = Decimal("0.95")
    min_success_rate: Rate = Decimal("0.80")


class Budget(TrustModel):
    amount: Money = Field(le=MAX_AMOUNT)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class BuyerInfo(TrustModel):
    name: str | None = None
    organisation: str | None = None


class Demand(TrustModel):
    """``kind: embodex.demand``: what a buyer wants (see specs/catalog.md §3).

    Example::

        demand = load_demand("demand.yaml")
        [(i.skill, i.scene_type, i.hours) for i in demand.items()]
    """

    kind: Literal["embodex.demand"] = "embodex.demand"
    title: NonEmpty
    buyer: BuyerInfo = Field(default_factory=BuyerInfo)
    lines: list[DemandLine] = Field(min_length=1)
    robot_models: list[NonEmpty] | None = Field(default=None, description="null: any robot.")
    required_cameras: list[Slug] = Field(default_factory=list)
    fps: int | None = Field(default=None, gt=0, le=1000)
    min_qc: MinQC = Field(default_factory=MinQC)
    licence: Slug | None = Field(default=None, description="An offered licence id.")
    start: IsoDate
    horizon: IsoDate = Field(description="Last day by which all hours must be delivered.")
    cadence: IsoDuration = "P1W"
    delivery_deadline: IsoDuration = "P2D"
    acceptance_window_days: int = Field(default=7, ge=1, le=365)
    replacement_days: int = Field(default=14, ge=0, le=365)
    timezone: TimeZoneName = "UTC"
    budget: Budget | None = None

    @model_validator(mode="after")
    def _dates(self) -> Demand:
        if self.horizon < self.start:
            raise ValueError(f"horizon {self.horizon} is before start {self.start}")
        if parse_duration(self.cadence).is_zero:
            raise ValueError("cadence must be longer than zero")
        pairs = [(i.skill, i.scene_type) for i in self.items()]
        if len(set(pairs)) != len(pairs):
            raise ValueError("two lines ask for the same skill × scene type pair; merge them")
        return self

    def items(self) -> list[DemandItem]:
        """The lines expanded into one item per skill × scene type pair, in file order."""
        out = []
        for n, line in enumerate(self.lines, start=1):
            for skill in line.skills:
                for scene_type in line.scene_types:
                    out.append(
                        DemandItem(
                            line=n,
                            skill=skill,
                            scene_type=scene_type,
                            scene_ids=line.scene_ids,
                            hours=line.hours,
                            customised=line.customised,
                        )
                    )
        return out


@dataclass(frozen=True)
class DemandItem:
    """One skill × scene type pair of a demand line."""

    line: int
    skill: str
    scene_type: str
    scene_ids: list[str] | None
    hours: Decimal
    customised: bool


def parse_demand(text: str, source: str = "demand") -> Demand:
    """Parse demand YAML. Raises :class:`DemandError` naming the field at fault."""
    return parse_yaml_model(text, Demand, source=source, error=DemandError)


def load_demand(path: str | Path) -> Demand:
    """:func:`parse_demand` of a file."""
    return load_yaml_model(path, Demand, error=DemandError)


def demand_today(demand: Demand, now: datetime | None = None) -> date:
    """The day ``now`` (default: the clock) falls on in the demand's time zone."""
    return (now or datetime.now(UTC)).astimezone(zone(demand.timezone)).date()


def require_dates_ahead(demand: Demand, today: date) -> None:
    """Refuse a demand whose dates are past on ``today``: a start before today, or a
    horizon before it (every period would be due or overdue before anything is signed;
    signing refuses an ended contract anyway). Raises :class:`DemandError`."""
    if demand.horizon < today:
        past = f"its horizon {demand.horizon} is past"
    elif demand.start < today:
        past = f"it starts on {demand.start}, before today"
    else:
        return
    raise DemandError(
        f"the demand {demand.title!r} is dated in the past: {past} ({today} in {demand.timezone})",
        hint=f"Set start to {today} or later, and horizon after it, in the demand.",
        field="horizon" if demand.horizon < today else "start",
    )
