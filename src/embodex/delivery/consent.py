"""Withdrawing an operator's consent, and taking back what was delivered under it.

:func:`embodex.trust.consent.withdraw_consent` records the withdrawal in the centre's
register; :func:`withdraw_and_revoke` does that and then, on each channel named, revokes
the delivered episodes of that operator one by one (:func:`~.notices.revoke_operator`): a
signed per-episode revocation notice per batch, which the buyer's next pull applies
(specs/privacy.md §4d, specs/channel.md §5.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..contract import VerifiedContract
from ..errors import ConsentError
from ..trust import Identity, Signer
from ..trust.consent import ConsentRecord, list_consents, withdraw_consent
from .channel import utc_now
from .heads import DEFAULT_HEAD_TTL
from .notices import EpisodeRevocation, revoke_operator

__all__ = ["ConsentWithdrawn", "withdraw_and_revoke"]

#: The reason the revocation notices of a withdrawn consent carry (the buyer sees it).
CONSENT_WITHDRAWN = "consent-withdrawn"


@dataclass
class ConsentWithdrawn:
    """The statements withdrawn and the revocations sent for them."""

    operator: str
    withdrawn: list[ConsentRecord]
    revocations: list[EpisodeRevocation] = field(default_factory=list)

    @property
    def episodes(self) -> list[str]:
        return [e for r in self.revocations for e in r.episodes]

    def to_json(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "withdrawn": [r.to_json() for r in self.withdrawn],
            "revocations": [r.to_json() for r in self.revocations],
            "episodes": self.episodes,
        }


def withdraw_and_revoke(
    operator: str,
    signer: Signer,
    *,
    channels: Sequence[tuple[str | Path, str | Path | VerifiedContract]] = (),
    reason: str = CONSENT_WITHDRAWN,
    ttl: timedelta = DEFAULT_HEAD_TTL,
    now: datetime | None = None,
    trusted: list[Identity] | None = None,
    home: Path | None = None,
    record: bool = True,
) -> ConsentWithdrawn:
    """Withdraw every consent of ``operator`` (a pseudonym) in the centre's register, then
    revoke the episodes of that operator each ``(channel URL, contract)`` delivered.

    The withdrawal is recorded first: a failure on a channel leaves it recorded, and running
    the call again revokes what is left (episodes revoked before are not revoked twice).
    Raises ``ConsentError`` (no consent on record), and the errors of
    :func:`~.notices.revoke_episodes`.

    Example::

        withdraw_and_revoke("op-3f9a0c1d2e4b5a68", load_signer("hubei-centre"),
                            channels=[("s3://acme/deliveries", "contract.signed.json")])
    """
    now = now or utc_now()
    try:
        done = withdraw_consent(
            operator, signer, reason=reason, now=now, trusted=trusted, home=home
        )
    except ConsentError:
        # withdrawn before (a run stopped on a channel): go on revoking what is left
        done = [
            r
            for r in list_consents(operator=operator, on=now.date(), trusted=trusted, home=home)
            if r.state == "withdrawn"
        ]
        if not done:
            raise
    out = ConsentWithdrawn(operator=operator, withdrawn=done)
    for url, contract in channels:
        out.revocations.append(
            revoke_operator(
                url,
                contract,
                signer,
                operator,
                reason,
                ttl=ttl,
                now=now,
                trusted=trusted,
                record=record,
            )
        )
    return out
