"""Acceptance receipts: the buyer's signed word on one batch.

A receipt names the contract (by digest), the batch (by number and manifest digest), which
episodes were accepted and which rejected with a reason, the measured QC values against the
contract's thresholds, the violations found, the accepted hours, and when rejected episodes
must be replaced. Accepted hours times the price is what the centre invoices.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from ..errors import ContractError, SignatureError
from ..trust.documents import open_model, sign_model
from ..trust.envelope import Envelope
from ..trust.keys import KEY_ID_PATTERN, Identity, Signer
from ..trust.types import (
    Digest,
    Hours,
    Identifier,
    IsoDate,
    NonEmpty,
    Timestamp,
    TrustModel,
    dec_str,
)
from .checking import BatchSummary, Violation, check_batch, measure_qc
from .file import VerifiedContract
from .model import Contract

__all__ = [
    "DeletionReceipt",
    "Measurement",
    "Receipt",
    "RejectedEpisode",
    "build_receipt",
    "is_for_contract",
    "open_receipt",
    "replaceable_batches",
    "sign_receipt",
]


class RejectedEpisode(TrustModel):
    episode_id: Identifier
    reason: NonEmpty


class Measurement(TrustModel):
    """A measured QC aggregate next to the contract's bound for it."""

    metric: str
    value: str | None = Field(description="Decimal string; null when the manifest lacks it.")
    threshold: str
    ok: bool


class Receipt(TrustModel):
    """The buyer's acceptance receipt for one batch (signed as a ``receipt`` envelope)."""

    kind: Literal["embodex.receipt"] = "embodex.receipt"
    contract_id: Identifier
    contract_digest: Digest
    batch_number: int = Field(ge=1)
    batch_manifest_digest: Digest
    accepted: list[Identifier]
    rejected: list[RejectedEpisode] = Field(default_factory=list)
    accepted_hours: Hours
    measurements: list[Measurement] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    replacement_due: IsoDate | None = Field(
        default=None, description="Rejected episodes must be replaced by this date."
    )
    delivered_at: Timestamp | None = Field(
        default=None,
        description="The delivery time the schedule was judged by: the batch's stated time, "
        "or later when the buyer holds signed evidence that it was published later.",
    )
    first_seen_at: Timestamp | None = Field(
        default=None, description="When the buyer's pulls first saw a head naming the batch."
    )
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)
    note: str | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> Receipt:
        rejected = [r.episode_id for r in self.rejected]
        both = set(self.accepted) & set(rejected)
        if both:
            raise ValueError(f"episode {sorted(both)[0]} is both accepted and rejected")
        if len(set(self.accepted)) != len(self.accepted) or len(set(rejected)) != len(rejected):
            raise ValueError("an episode is listed twice")
        return self


def _measurements(contract: Contract, qc_manifest: dict[str, Any] | None) -> list[Measurement]:
    """The QC aggregates the contract bounds, measured in ``qc_manifest``."""
    return [
        Measurement(
            metric=m.metric,
            value=None if m.value is None else dec_str(m.value),
            threshold=m.bound,
            ok=m.ok,
        )
        for m in measure_qc(contract, qc_manifest)
    ]


def build_receipt(
    contract: Contract | VerifiedContract,
    batch: BatchSummary,
    *,
    batch_manifest_digest: str,
    rejected: Mapping[str, str],
    qc_manifest: dict[str, Any] | None,
    issued_by: Identity | Signer,
    issued_at: datetime | None = None,
    note: str | None = None,
    first_seen_at: datetime | None = None,
    extra_violations: Sequence[Violation] = (),
) -> Receipt:
    """Compute a receipt: accepted = every episode not in ``rejected`` (id -> reason).

    Accepted hours are summed exactly from the batch; measurements and violations come from
    the QC manifest and :func:`check_batch` (plus ``extra_violations`` the caller found); the
    schedule is judged by ``batch.delivered_at``, recorded as the receipt's ``delivered_at``.
    Raises :class:`ContractError` when ``rejected`` names an episode that is not in the batch.

    Example::

        receipt = build_receipt(verified, summary, batch_manifest_digest=digest,
                                rejected={"c:0007": "object dropped"}, qc_manifest=qc,
                                issued_by=buyer_signer)
        envelope = sign_receipt(receipt, buyer_signer)
    """
    violations = check_batch(contract, batch, qc_manifest)
    c = contract.contract if isinstance(contract, VerifiedContract) else contract
    ids = {e.episode_id for e in batch.episodes}
    unknown = sorted(set(rejected) - ids)
    if unknown:
        raise ContractError(
            f"rejected episode {unknown[0]} is not in batch {batch.batch_number}",
            hint="Reject only episodes the batch delivered.",
        )
    when = issued_at or datetime.now(UTC).replace(microsecond=0)
    accepted = [e for e in batch.episodes if e.episode_id not in rejected]
    identity = issued_by.identity if isinstance(issued_by, Signer) else issued_by
    return Receipt(
        contract_id=c.contract_id,
        contract_digest=c.digest,
        batch_number=batch.batch_number,
        batch_manifest_digest=batch_manifest_digest,
        accepted=[e.episode_id for e in accepted],
        rejected=[RejectedEpisode(episode_id=i, reason=r) for i, r in sorted(rejected.items())],
        accepted_hours=sum((e.hours for e in accepted), Decimal(0)),
        measurements=_measurements(c, qc_manifest),
        violations=[*violations, *extra_violations],
        replacement_due=(
            when.date() + timedelta(days=c.acceptance.replacement_days) if rejected else None
        ),
        delivered_at=batch.delivered_at,
        first_seen_at=first_seen_at,
        issued_at=when,
        issued_by=identity.key_id,
        note=note,
    )


def sign_receipt(receipt: Receipt, signer: Signer) -> Envelope:
    """Sign a receipt; ``signer`` must be the key named in ``issued_by``."""
    if signer.key_id != receipt.issued_by:
        raise SignatureError(
            f"receipt names issuer {receipt.issued_by} but {signer.name} ({signer.key_id}) "
            "is signing it",
            hint="Sign with the issuer's key.",
        )
    return sign_model("receipt", receipt, signer)


def open_receipt(envelope: Envelope | dict[str, Any] | bytes, buyer: Identity) -> Receipt:
    """Verify a receipt envelope against the buyer's identity and parse it.

    Raises :class:`SignatureError` or :class:`PayloadError`.
    """
    receipt = open_model("receipt", Receipt, envelope, [buyer], required_keyids=[buyer.key_id])
    if receipt.issued_by != buyer.key_id:
        raise SignatureError("the receipt names another issuer than the key that signed it")
    return receipt


def replaceable_batches(receipts: Iterable[Receipt], revoked: Iterable[int]) -> set[int]:
    """The batches a later one may replace (``replacement_for``): those whose receipt rejected
    episodes, and the revoked ones. Everyone judging a replacement (the centre's publish and
    supply plan, the buyer's pull and supply status) applies this one rule."""
    return {r.batch_number for r in receipts if r.rejected} | set(revoked)


def is_for_contract(receipt: Receipt, contract_digests: Collection[str]) -> bool:
    """Whether ``receipt`` answers under the contract whose versions have
    ``contract_digests``: a receipt names the version in force when it was issued, and an
    amendment does not void the receipts before it. Supply accounting refuses any other
    receipt; the channel's readers report it and do not use it."""
    return receipt.contract_digest in contract_digests


class DeletionReceipt(TrustModel):
    """The buyer's signed record that it dropped revoked episodes from its dataset (type
    ``deletion-receipt``): one per revocation notice applied. The batch's acceptance receipt
    stays as signed; this one records what was taken back after it."""

    kind: Literal["embodex.deletion-receipt"] = "embodex.deletion-receipt"
    contract_id: Identifier
    contract_digest: Digest
    channel_id: str
    notice_number: int = Field(ge=1)
    notice_digest: Digest
    batch_number: int = Field(ge=1)
    deleted: list[Identifier] = Field(
        min_length=1, description="Episodes dropped from the buyer's training dataset."
    )
    deleted_hours: Hours
    reason: NonEmpty = Field(description="The revocation's reason, e.g. consent-withdrawn.")
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)
