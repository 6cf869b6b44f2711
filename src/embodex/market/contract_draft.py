"""A contract draft from an accepted quote: the trust layer's contract YAML, ready to sign.

A quote is not signed, so it is first checked against the centre's signed listing it names
(:func:`~embodex.market.quote.verify_quote`): a draft can only carry the prices the centre's
price sheet gives. Every field then comes from the quote (specs/catalog.md §5): scope from
the demand and the data the quote draws on, volume from the quoted hours, the schedule from
the demand, acceptance from the demand's minimum QC and the QC profile the data is
certified against, the price per accepted hour from the quote's blended price, and usage
from the licence offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from ..contract.yamlio import PLACEHOLDER, contract_from_yaml
from ..errors import CatalogError, QuoteError
from ..format.models import FORMAT_VERSION
from ..trust.keys import Identity
from ..trust.types import dec_str
from .demand import demand_today, require_dates_ahead
from .listing import Listing
from .publish import open_catalog_url
from .quote import Quote, load_quote, verify_quote

__all__ = ["contract_from_quote", "draft_contract"]


def _party(ident: Identity | None, role: str, name: str | None, organisation: str | None) -> Any:
    if ident is None:
        out = {"name": name or f"{role}-key", "role": role}
        out |= {"public_key": PLACEHOLDER, "key_id": PLACEHOLDER}
    else:
        out = ident.model_dump(mode="json")
    if organisation:
        out["organisation"] = organisation
    return out


def draft_contract(
    quote: Quote,
    listing: Listing,
    *,
    buyer: Identity | None = None,
    centre: Identity | None = None,
    today: date | None = None,
) -> str:
    """The contract YAML for ``quote`` (parties: the quote's centre and ``buyer``).

    ``listing`` is the centre's verified listing the quote was priced from: the quote must
    be exactly what it prices (:func:`verify_quote`). Without ``buyer`` the buyer's key is
    left as ``REPLACE-ME`` (the trust loader refuses to sign until it is filled in). Raises
    :class:`DemandError` when the quoted demand's dates are past (``today``, default: today
    in its time zone), :class:`QuoteError` when the quote does not match the listing, has
    expired, when ``centre`` is not the quote's centre, or when ``buyer`` is not a buyer key.

    Example::

        catalog = open_catalog_url("catalog")             # signatures verified
        text = draft_contract(load_quote("quote.json"), catalog.listing,
                              buyer=load_identity("agibot"))
        Path("contract.yaml").write_text(text)
    """
    verify_quote(quote, listing)
    day = today or datetime.now(UTC).date()
    if day > quote.valid_until:
        raise QuoteError(
            f"quote {quote.quote_id} expired on {quote.valid_until}",
            hint="Ask for a fresh quote: `build_quote(listing, demand)`.",
        )
    require_dates_ahead(quote.demand, today or demand_today(quote.demand))
    listed = quote.centre.identity
    if centre is not None and centre.key_id != listed.key_id:
        raise QuoteError(
            f"the quote is from centre key {listed.key_id} ({listed.name}), not {centre.key_id}",
            hint="Draft with the centre that issued the catalogue, or leave `centre=` out.",
            key_id=centre.key_id,
        )
    if buyer is not None and buyer.role != "buyer":
        raise QuoteError(f"{buyer.name!r} is a {buyer.role} key, not a buyer key")
    if quote.blended_per_accepted_hour is None:
        raise QuoteError(f"quote {quote.quote_id} prices no hours")
    demand = quote.demand
    data: dict[str, Any] = {
        "kind": "embodex.contract",
        "contract_id": f"{quote.centre.centre_id}-{quote.quote_id}",
        "version": 1,
        "title": f"{demand.title} (quote {quote.quote_id})",
        "parties": {
            "centre": _party(listed, "centre", None, quote.centre.centre_name),
            "buyer": _party(buyer, "buyer", demand.buyer.name, demand.buyer.organisation),
            "reviewers": [],
        },
        "scope": {**quote.scope.model_dump(mode="json"), "format_version": FORMAT_VERSION},
        "volume": {
            "total_hours": dec_str(quote.hours),
            "min_hours_per_delivery": dec_str(min(d.hours for d in quote.deliveries)),
        },
        "schedule": {
            "start_date": demand.start.isoformat(),
            "end_date": demand.horizon.isoformat(),
            "cadence": demand.cadence,
            "delivery_deadline": demand.delivery_deadline,
            "acceptance_window_days": demand.acceptance_window_days,
            "timezone": demand.timezone,
        },
        "acceptance": {
            "qc_profile_id": quote.qc_profile.id,
            "qc_profile_digest": quote.qc_profile.digest,
            "min_pass_rate": dec_str(demand.min_qc.min_pass_rate),
            "min_success_rate": dec_str(demand.min_qc.min_success_rate),
            "thresholds": [],
            "replacement_days": demand.replacement_days,
        },
        "price": {
            "per_accepted_hour": dec_str(quote.blended_per_accepted_hour),
            "currency": quote.currency,
            "payment_terms": quote.payment_terms,
        },
        "usage": quote.licence.usage.model_dump(mode="json"),
        "origin": {
            "quote_id": quote.quote_id,
            "quote_digest": quote.digest,
            "listing_digest": quote.listing_digest,
            "listing_sequence": quote.listing_sequence,
        },
    }
    header = (
        "# embodex data service contract (specs/contract.md), drafted from quote "
        f"{quote.quote_id}\n"
        f"# of {quote.created_at} against listing {quote.listing_digest}.\n"
        f"# Quote total {dec_str(quote.total)} {quote.currency} for {dec_str(quote.hours)} h; "
        f"the price per accepted hour is the\n# quote's blended price (total / hours, to cents): "
        f"{dec_str(quote.contract_value)} {quote.currency} at the quoted hours.\n"
        "# `embodex contract sign contract.yaml --key CENTRE` turns it into the signed JSON.\n"
    )
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if buyer is not None:
        contract_from_yaml(text, source=f"contract drafted from quote {quote.quote_id}")
    return text


def contract_from_quote(
    path: str | Path,
    *,
    catalog: str | Path | None = None,
    trusted: Sequence[Identity] | None = None,
    buyer: Identity | None = None,
    centre: Identity | None = None,
    today: date | None = None,
) -> str:
    """:func:`draft_contract` of a quote file, checked against the centre's signed listing.

    The quote's arithmetic is checked first (:func:`load_quote`); then the catalogue at
    ``catalog`` (a folder or channel URL; default: the one the quote records it was priced
    from) is opened and verified against ``trusted`` (default: the key store), and the
    quote must be exactly what its listing prices. Raises :class:`QuoteError`,
    :class:`CatalogError` and ``SignatureError``.

    Example::

        text = contract_from_quote("quote.json", catalog="catalog",
                                   buyer=load_identity("agibot"))
    """
    quote = load_quote(path)
    source = catalog if catalog is not None else quote.catalog
    if source is None:
        raise QuoteError(
            f"quote {quote.quote_id} does not say which catalogue it was priced from",
            hint="Pass the catalogue (`catalog=`); the quote is checked against its signed "
            "listing.",
        )
    try:
        listing = open_catalog_url(source, trusted).listing
    except CatalogError as exc:
        if catalog is not None:
            raise
        raise CatalogError(
            f"cannot open the catalogue quote {quote.quote_id} was priced from: {exc.message}",
            hint="Pass the centre's catalogue (`catalog=`).",
        ) from None
    return draft_contract(quote, listing, buyer=buyer, centre=centre, today=today)
