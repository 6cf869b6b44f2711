"""Errors of the market layer (``embodex.market``): catalogue, sample packs, demand,
quotes, provenance."""

from __future__ import annotations

from .base import ConfigError, EmbodexError

__all__ = [
    "CatalogError",
    "DemandError",
    "MarketError",
    "PriceSheetError",
    "ProvenanceError",
    "QuoteError",
    "SamplePackError",
]


class MarketError(EmbodexError):
    """A catalogue, sample pack, demand, quote or provenance chain cannot be used."""

    default_hint = "See specs/catalog.md."


class CatalogError(MarketError):
    """A catalogue is missing, malformed, stale, or does not match what it names."""

    default_hint = (
        "Ask the centre for a fresh catalogue (`build_catalog(...)`); see specs/catalog.md."
    )


class PriceSheetError(MarketError, ConfigError):
    """A price sheet or capacity file is invalid (a float for money, an unknown field...)."""

    default_hint = (
        'Fix the file: money and multipliers are quoted decimal strings ("1.15"); '
        "see specs/catalog.md for every field."
    )


class DemandError(MarketError, ConfigError):
    """A demand file is invalid or asks for something the catalogue cannot price."""

    default_hint = "Fix the demand file; specs/catalog.md lists every field (examples/market/)."


class QuoteError(MarketError):
    """A quote file is malformed, or its arithmetic does not add up (edited by hand)."""

    default_hint = "Compute the quote again (`build_quote(listing, demand)`)."


class ProvenanceError(MarketError):
    """A provenance chain is broken: a missing link, a wrong order, another dataset."""

    default_hint = (
        "Do not rely on this data's provenance; ask the centre for the original catalogue "
        "or sample pack."
    )


class SamplePackError(MarketError):
    """A sample pack cannot be built or does not check out (watermark, provenance)."""

    default_hint = (
        "Do not rely on this sample pack: pull it again, or ask the centre to rebuild it "
        "(`build_sample_pack(...)`); see specs/catalog.md §7."
    )
