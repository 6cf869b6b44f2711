"""The mark a buyer's store sets on episodes the centre revoked (specs/channel.md §5.4).

``extra.embodex_revoked = {batch, notice, reason}``: the loader leaves such an episode out
whatever its QC filter (``embodex.train``), so a withdrawn episode — a batch revoked, or one
operator's consent withdrawn — is never trained on from the switch to the marking
generation on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["REVOKED_KEY", "is_revoked"]

#: ``extra`` key set on revoked episodes in the buyer's dataset.
REVOKED_KEY = "embodex_revoked"


def is_revoked(extra: Mapping[str, Any]) -> bool:
    """Whether an episode's ``extra`` carries the revocation mark."""
    return isinstance(extra.get(REVOKED_KEY), dict)
