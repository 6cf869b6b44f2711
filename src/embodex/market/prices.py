"""The price sheet: what a centre charges per accepted hour, and every factor applied to it.

A price sheet is explicit so a quote can show every term of its arithmetic (specs/catalog.md
§4): a base price per accepted hour, multipliers for scene complexity, skill difficulty,
number of cameras, exclusivity and customised collection, volume discount tiers, and the
licence terms offered (each a contract usage policy). It travels inside the signed listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..contract.model import UsagePolicy
from ..errors import PriceSheetError
from ..trust.types import (
    MAX_MULTIPLIER,
    MAX_TRADE_HOURS,
    MAX_UNIT_PRICE,
    Dec,
    Hours,
    IsoDate,
    Money,
    NonEmpty,
    Rate,
    Slug,
    TrustModel,
)
from .yamlfile import load_yaml_model, parse_yaml_model

__all__ = [
    "CameraTier",
    "LicenceOffer",
    "Multiplier",
    "PriceSheet",
    "VolumeTier",
    "default_price_sheet",
    "default_price_sheet_text",
    "load_price_sheet",
]

#: A factor applied to a price, as a decimal string (``"1.15"``), strictly positive.
Multiplier = Annotated[
    Dec, Field(gt=0, le=MAX_MULTIPLIER, description='A factor as a decimal string, e.g. "1.15".')
]


class CameraTier(TrustModel):
    """Applies to deliveries with at least ``min_cameras`` cameras (the highest tier wins)."""

    min_cameras: int = Field(ge=0)
    multiplier: Multiplier


class VolumeTier(TrustModel):
    """A discount on the whole order once it reaches ``min_hours`` (the highest tier wins)."""

    min_hours: Hours = Field(le=MAX_TRADE_HOURS)
    discount: Rate = Field(description='Fraction taken off the subtotal, e.g. "0.05".')


class LicenceOffer(TrustModel):
    """Licence terms the centre offers: the usage policy a contract will carry."""

    id: Slug
    title: NonEmpty
    exclusive: bool = Field(
        default=False, description="Exclusive: the price sheet's exclusivity multiplier applies."
    )
    usage: UsagePolicy


def _ascending(values: Sequence[Decimal], what: str) -> None:
    if list(values) != sorted(set(values)):
        raise ValueError(f"{what} must be strictly increasing")


class PriceSheet(TrustModel):
    """The centre's prices (``kind: embodex.price-sheet``); see specs/catalog.md §4.

    Example::

        sheet = load_price_sheet("prices.yaml")
        sheet.scene_multiplier("restaurant")     # Decimal('1.15')
    """

    kind: Literal["embodex.price-sheet"] = "embodex.price-sheet"
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY.")
    base_per_accepted_hour: Money = Field(le=MAX_UNIT_PRICE)
    payment_terms: NonEmpty
    valid_until: IsoDate | None = Field(default=None, description="Prices hold until this day.")
    scene_complexity: dict[Slug, Multiplier] = Field(
        default_factory=dict, description="Scene type -> multiplier."
    )
    default_scene_complexity: Multiplier = Decimal(1)
    skill_difficulty: dict[Slug, Multiplier] = Field(
        default_factory=dict, description="Skill -> multiplier."
    )
    default_skill_difficulty: Multiplier = Decimal(1)
    cameras: list[CameraTier] = Field(min_length=1)
    exclusivity: Multiplier = Field(description="Applied when the licence is exclusive.")
    customised_collection: Multiplier = Field(
        description="Applied to hours collected to the buyer's own specification."
    )
    volume_discounts: list[VolumeTier] = Field(default_factory=list)
    licences: list[LicenceOffer] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers(self) -> PriceSheet:
        _ascending([Decimal(t.min_cameras) for t in self.cameras], "cameras[].min_cameras")
        _ascending([t.min_hours for t in self.volume_discounts], "volume_discounts[].min_hours")
        ids = [lic.id for lic in self.licences]
        if len(set(ids)) != len(ids):
            raise ValueError("licences: two offers share an id")
        return self

    def scene_multiplier(self, scene_type: str) -> Decimal:
        return self.scene_complexity.get(scene_type, self.default_scene_complexity)

    def skill_multiplier(self, skill: str) -> Decimal:
        return self.skill_difficulty.get(skill, self.default_skill_difficulty)

    def camera_multiplier(self, count: int) -> Decimal:
        """The highest tier whose ``min_cameras`` is at most ``count`` (the lowest if none)."""
        fitting = [t for t in self.cameras if t.min_cameras <= count]
        return (fitting[-1] if fitting else self.cameras[0]).multiplier

    def volume_tier(self, hours: Decimal) -> VolumeTier | None:
        """The highest discount tier the order reaches, None below the first."""
        fitting = [t for t in self.volume_discounts if t.min_hours <= hours]
        return fitting[-1] if fitting else None

    def licence(self, licence_id: str | None) -> LicenceOffer:
        """The offer with this id (the first offer when None). Raises ``PriceSheetError``."""
        if licence_id is None:
            return self.licences[0]
        for lic in self.licences:
            if lic.id == licence_id:
                return lic
        raise PriceSheetError(
            f"the centre offers no licence {licence_id!r}",
            hint="Offered: " + ", ".join(lic.id for lic in self.licences) + ".",
        )

    def expired(self, today: date) -> bool:
        return self.valid_until is not None and today > self.valid_until


_DEFAULT = "prices.yaml"


def default_price_sheet_text() -> str:
    """The YAML of the built-in price sheet (the reference case's prices), to copy and edit."""
    folder = resources.files("embodex.market").joinpath("defaults")
    return folder.joinpath(_DEFAULT).read_text("utf-8")


def default_price_sheet() -> PriceSheet:
    """The built-in price sheet: 600.00 CNY per accepted hour before multipliers."""
    return parse_yaml_model(
        default_price_sheet_text(), PriceSheet, source="built-in prices", error=PriceSheetError
    )


def load_price_sheet(path: str | Path | None) -> PriceSheet:
    """A price sheet YAML file (the built-in one when ``path`` is None).

    Raises :class:`PriceSheetError` naming the field at fault (floats included).
    """
    if path is None:
        return default_price_sheet()
    return load_yaml_model(path, PriceSheet, error=PriceSheetError)
