"""What a console serves and who signs its decisions (no web framework needed here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..trust.keys import Identity, Signer

__all__ = ["ConsoleSettings", "build_settings"]


@dataclass
class ConsoleSettings:
    """A console's dataset, the reviewer's key, the access token and the optional pages.

    ``catalog`` and ``supply`` return the HTML of those pages when asked (built fresh, so
    the page shows the channel as it is); None leaves the page out. ``trusted`` are extra
    identities whose signatures the review history shows as verified (the signer's own
    key is always trusted).
    """

    dataset: Path
    signer: Signer
    token: str
    catalog: Callable[[], str] | None = None
    supply: Callable[[], str] | None = None
    trusted: list[Identity] = field(default_factory=list)


def build_settings(
    dataset: str | Path,
    signer: Signer,
    *,
    token: str | None = None,
    catalog: str | None = None,
    channel: str | None = None,
    contract: str | Path | None = None,
    trusted: list[Identity] | None = None,
    supply_at: datetime | None = None,
) -> ConsoleSettings:
    """Settings for ``embodex console``: the catalogue page from ``catalog`` (a folder or a
    channel URL, verified on each view), the supply page from ``channel`` and ``contract``
    (as of ``supply_at``, default the time of each view).

    Raises ``TrustError`` when ``signer`` may not sign review decisions, ``ConsoleError``
    when only one of ``channel`` and ``contract`` is given.
    """
    from ..errors import ConsoleError
    from ..trust import list_keys
    from ..trust.reviews import review_signer
    from .server import new_token

    review_signer(signer)  # refuse a buyer key now, not at the first decision
    if (channel is None) != (contract is None):
        raise ConsoleError(
            "the supply page needs both `channel=` and `contract=`",
            hint="Give both, or neither to leave the supply page out.",
        )
    known = [k.identity for k in list_keys()] + list(trusted or [])
    catalog_page = None
    if catalog is not None:
        source = catalog

        def catalog_page() -> str:
            from ..market import find_sample_offer, open_catalog_url
            from ..reports.catalog_page import catalog_html

            cat = open_catalog_url(source, trusted or None)
            return catalog_html(cat, sample=find_sample_offer(source, cat))

    supply_page = None
    if channel is not None and contract is not None:
        url, terms = channel, contract

        def supply_page() -> str:
            from ..delivery import channel_supply
            from ..reports.supply_page import render_supply_report

            return render_supply_report(channel_supply(url, terms, now=supply_at))

    return ConsoleSettings(
        dataset=Path(dataset),
        signer=signer,
        token=token or new_token(),
        catalog=catalog_page,
        supply=supply_page,
        trusted=known,
    )
