"""Errors of the delivery layer (``embodex.delivery``): channels, publish, pull, receipts,
notices; ``url`` names the channel object and ``batch`` the batch where they apply."""

from __future__ import annotations

from .base import EmbodexError, Where

__all__ = [
    "ChannelError",
    "DeliveryError",
    "FrozenChannelError",
    "PullLockedError",
    "RegionError",
    "RollbackError",
    "ScopeError",
]


class DeliveryError(EmbodexError):
    """A delivery over a channel cannot go on (publish, pull, receipts, notices, supply)."""

    default_hint = "See specs/channel.md; call it again to resume where it stopped."


class ChannelError(DeliveryError):
    """The channel's content cannot be trusted: bad head, broken batch chain, unsafe names."""

    default_hint = (
        "Do not use this channel's data; ask the centre to check the channel "
        "(`describe_channel(url, contract)`)."
    )


class RollbackError(ChannelError):
    """The channel shows an older state than one already seen (an old head replayed)."""

    default_hint = (
        "Someone replayed an old head or restored an old copy of the channel: nothing was "
        "installed; tell the centre and pull again once the channel is current."
    )


class FrozenChannelError(ChannelError):
    """The channel head has expired: the channel may be frozen at an old state."""

    default_hint = (
        "Ask the centre to re-sign the head (`refresh_channel(url, contract, signer)`); pull "
        "again afterwards."
    )


class PullLockedError(DeliveryError):
    """Another pull is running into the same directory (``path``)."""

    default_hint = "Wait for the other pull to finish, or pass `wait=True` to queue behind it."

    def __init__(self, where: Where, *, hint: str | None = None) -> None:
        super().__init__(f"another pull is running into {where}", hint=hint, path=where)


class ScopeError(DeliveryError):
    """Episodes to publish lie outside the contract's scope."""

    default_hint = (
        "Leave them out (`exclude_out_of_scope=True`), fix their metadata, or amend the "
        "contract's scope."
    )


class RegionError(DeliveryError):
    """The contract does not let data be processed where this buyer's store is (its
    declared region), no region is declared where the contract allows several countries,
    or the store was declared in another region before (specs/privacy.md §4e)."""

    default_hint = (
        "Pull into a store in one of the contract's allowed regions (`region=`), or "
        "ask the centre for an amendment allowing your region (with its transfer approval)."
    )
