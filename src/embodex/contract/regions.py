"""Where the contract lets data be processed (specs/privacy.md §4e): region codes and the
rule that decides whether a buyer's region is one the contract allows.

A region is an ISO 3166 code: a country (``CN``, ``DE``) or a subdivision (``CN-HB``). A
contract's ``usage.allowed_regions`` entry allows itself and every subdivision of it: ``CN``
allows ``CN-HB``; ``CN-HB`` does not allow ``CN`` (the buyer may be anywhere in China) nor
``CN-BJ``. A region outside the origin's country is a cross-border transfer, which the
contract model only accepts with ``usage.transfer_approval_ref``.
"""

from __future__ import annotations

import re

from .model import REGION_PATTERN, UsagePolicy

__all__ = ["abroad", "allows_region", "country", "parse_region"]


def parse_region(text: str) -> str | None:
    """``text`` as a region code (upper case, trimmed), or None when it is not one."""
    code = text.strip().upper()
    return code if re.match(REGION_PATTERN, code) else None


def country(region: str) -> str:
    """The country of a region code: ``CN`` for ``CN-HB``."""
    return region.split("-")[0]


def allows_region(usage: UsagePolicy, region: str) -> bool:
    """Whether data may be processed in ``region`` under ``usage``: it is an allowed region
    or a subdivision of one."""
    return any(region == a or region.startswith(f"{a}-") for a in usage.allowed_regions)


def abroad(usage: UsagePolicy, region: str) -> bool:
    """Whether ``region`` lies outside the country where the data is made."""
    return country(region) != country(usage.origin_region)
