"""The verified provenance chains behind what a buyer holds: a sample pack, a catalogue, or
the batches delivered on a channel (what ``embodex catalog provenance`` shows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ProvenanceError
from ..trust.keys import Identity
from .catalog import LISTING_FILE
from .provenance import EpisodeOrigin, ProvenanceChain
from .publish import open_catalog_url
from .sample import verify_sample_pack

__all__ = ["Provenance", "open_provenance"]


@dataclass(frozen=True)
class Provenance:
    """Verified chains, and for a sample pack the source episode of each sample id."""

    chains: list[ProvenanceChain]
    sources: dict[str, str] = field(default_factory=dict)  # sample episode id -> source id

    def origin(self, episode_id: str) -> EpisodeOrigin:
        """Where and how ``episode_id`` (or the source of a sample episode) was recorded.

        Raises :class:`ProvenanceError` when no chain here holds it.
        """
        wanted = self.sources.get(episode_id, episode_id)
        for chain in self.chains:
            try:
                return chain.origin(wanted)
            except ProvenanceError:
                continue
        raise ProvenanceError(
            f"episode {wanted} is in no provenance chain here",
            hint="List the episodes with `open_provenance(path)`.",
            episode_id=wanted,
        )

    def to_json(self) -> list[dict[str, Any]]:
        return self.describe()

    def describe(self) -> list[dict[str, Any]]:
        """Each chain's JSON-ready summary (:meth:`ProvenanceChain.describe`)."""
        return [c.describe() for c in self.chains]


def open_provenance(
    source: str | Path,
    trusted: Sequence[Identity] | None = None,
    *,
    contract: str | Path | None = None,
    batch: int | None = None,
    at: datetime | None = None,
) -> Provenance:
    """Verify and return the provenance chains of ``source``.

    With ``contract``, ``source`` is a delivery channel: the chains of its batches (only
    ``batch`` if given, as of ``at``), checked as :func:`verify_delivery` does. Without it,
    ``source`` is a catalogue folder (its chains, see :func:`open_catalog_url`) or a sample
    pack (every hash, the chain and the watermark, see :func:`verify_sample_pack`).
    Raises :class:`ProvenanceError` (``batch`` or ``at`` without ``contract``, or a chain
    missing or wrong), ``SignatureError``, and the catalogue, sample pack and channel errors.

    Example::

        prov = open_provenance("deliveries/", contract="contract.signed.json", batch=2)
        print(prov.origin("hubei-humanoid-centre:0a1b2c").operator_id)
    """
    if contract is not None:
        from .delivery_chain import verify_delivery  # the channel code, only when needed

        trusted_list = list(trusted) if trusted is not None else None
        delivered = verify_delivery(source, contract, batch=batch, trusted=trusted_list, at=at)
        return Provenance([d.chain for d in delivered])
    if batch is not None or at is not None:
        raise ProvenanceError(
            "a batch or a time only applies to a delivery channel",
            hint="Name the channel's contract as well (`contract=`).",
        )
    if (Path(source) / LISTING_FILE).exists():
        return Provenance(list(open_catalog_url(source, trusted).chains.values()))
    pack = verify_sample_pack(Path(source), trusted)
    return Provenance([pack.provenance], {e.episode_id: e.source_episode_id for e in pack.episodes})
