"""The signed documents of a channel: the head, batch manifests and notices (specs/channel.md).

Each is a pydantic model signed by the centre as a DSSE envelope (:mod:`embodex.trust`);
:func:`open_document` verifies the signature with the contract's centre key *before* the
payload is parsed, then validates it. A document is named by the digest of its payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, field_validator, model_validator

from ..canonical import digest_json
from ..contract.checking import BatchSummary, EpisodeSummary
from ..errors import PayloadError, SignatureError, UnsafeKeyError
from ..storage.stores import validate_key
from ..trust import Identity, open_model
from ..trust.keys import KEY_ID_PATTERN
from ..trust.types import (
    Dec,
    Digest,
    Hours,
    Identifier,
    IsoDate,
    NonEmpty,
    Timestamp,
    TrustModel,
)

__all__ = [
    "CHANNEL_ID_PATTERN",
    "HEAD_KEY",
    "NOTICE_TYPES",
    "BatchEpisode",
    "BatchFile",
    "BatchManifest",
    "ChannelHead",
    "Notice",
    "batch_prefix",
    "deletion_key",
    "doc_digest",
    "episode_summaries",
    "manifest_key",
    "notice_key",
    "open_document",
    "qc_key",
    "receipt_key",
]

CHANNEL_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{7,63}$"
HEAD_KEY = "head.json"
NOTICE_TYPES = ("delay", "schema_change", "revocation")
#: Where batch files may live inside ``batches/<n>/`` (anything else is refused).
_BATCH_TOPS = ("dataset/", "qc/")
_QC_ENVELOPE = "qc.json"


def batch_prefix(number: int) -> str:
    """``batches/000042``: the folder of batch ``number``."""
    return f"batches/{number:06d}"


def manifest_key(number: int) -> str:
    return f"{batch_prefix(number)}/manifest.json"


def qc_key(number: int) -> str:
    return f"{batch_prefix(number)}/{_QC_ENVELOPE}"


def receipt_key(number: int) -> str:
    return f"receipts/{number:06d}.json"


def notice_key(number: int) -> str:
    return f"notices/{number:06d}.json"


def deletion_key(notice: int) -> str:
    """Where the buyer posts its deletion receipt for revocation notice ``notice``."""
    return f"receipts/deletions/{notice:06d}.json"


def doc_digest(document: BaseModel) -> str:
    """``sha256:`` of the canonical payload: the digest that names a signed document."""
    return digest_json(document.model_dump(mode="json"))


class ChannelHead(TrustModel):
    """The channel's entry point, re-signed by the centre on every change and refresh."""

    kind: Literal["embodex.channel-head"] = "embodex.channel-head"
    channel_id: str = Field(pattern=CHANNEL_ID_PATTERN)
    contract_id: Identifier
    contract_digest: Digest = Field(description="The contract version the channel runs under.")
    centre: str = Field(pattern=KEY_ID_PATTERN, description="Key id of the signing centre.")
    sequence: int = Field(ge=1, description="+1 on every head the centre signs; never lower.")
    batch: int = Field(ge=0, description="Latest complete batch (0: none yet).")
    batch_manifest: Digest | None = Field(description="Digest of that batch's manifest.")
    notice: int = Field(ge=0, description="Latest notice (0: none yet).")
    notice_digest: Digest | None
    issued_at: Timestamp
    expires_at: Timestamp = Field(description="Readers refuse the head from this time on.")

    @model_validator(mode="after")
    def _consistent(self) -> ChannelHead:
        if (self.batch == 0) != (self.batch_manifest is None):
            raise ValueError("batch_manifest is set exactly when batch > 0")
        if (self.notice == 0) != (self.notice_digest is None):
            raise ValueError("notice_digest is set exactly when notice > 0")
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


class BatchFile(TrustModel):
    """A file of a batch: its path below ``batches/<n>/``, size and sha256 (hex)."""

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe(cls, v: str) -> str:
        try:
            validate_key(v)
        except UnsafeKeyError as exc:
            raise ValueError(f"unsafe file name {v!r}: {exc.message}") from None
        if not (v == _QC_ENVELOPE or v.startswith(_BATCH_TOPS)):
            raise ValueError(f"file {v!r} is outside dataset/ and qc/")
        return v


class BatchEpisode(TrustModel):
    """What the contract and the accounts need to know about one delivered episode."""

    episode_id: Identifier
    skill: str | None
    scene_type: str | None
    scene_id: str | None
    robot_model: str | None
    robot_serial: str | None
    operator_id: str | None
    success: bool | None
    hours: Hours = Field(description="duration_s / 3600 to 6 decimals, as the QC manifest.")
    frames: int = Field(ge=1)
    cameras: list[str]


class BatchManifest(TrustModel):
    """A finalised, immutable batch: what it holds, how it was checked, every file's hash."""

    kind: Literal["embodex.batch-manifest"] = "embodex.batch-manifest"
    channel_id: str = Field(pattern=CHANNEL_ID_PATTERN)
    contract_id: Identifier
    contract_digest: Digest
    number: int = Field(ge=1)
    previous: Digest | None = Field(description="Digest of batch number-1's manifest.")
    published_at: Timestamp
    period: int | None = Field(default=None, ge=1, description="Delivery period it is for.")
    replacement_for: int | None = Field(default=None, ge=1)
    dataset_digest: Digest
    qc_manifest_digest: Digest = Field(description="Digest of the centre's signed QC manifest.")
    qc_profile_digest: Digest
    fps: Dec
    format_version: NonEmpty
    hours: Hours
    episodes: list[BatchEpisode] = Field(min_length=1)
    files: list[BatchFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> BatchManifest:
        if (self.number == 1) != (self.previous is None):
            raise ValueError("previous is null exactly for batch 1")
        ids = [e.episode_id for e in self.episodes]
        if len(set(ids)) != len(ids):
            raise ValueError("an episode is listed twice")
        paths = [f.path for f in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError("a file is listed twice")
        if sum((e.hours for e in self.episodes), Decimal(0)) != self.hours:
            raise ValueError("hours is not the sum of the episodes' hours")
        return self

    @property
    def episode_ids(self) -> list[str]:
        return [e.episode_id for e in self.episodes]

    def summary(self) -> BatchSummary:
        """The batch as the contract checks see it (contract.check_batch, supply_status)."""
        return BatchSummary(
            batch_number=self.number,
            delivered_at=self.published_at,
            period=self.period,
            replacement_for=self.replacement_for,
            dataset_digest=self.dataset_digest,
            episodes=episode_summaries(self.episodes, self.fps),
        )


def episode_summaries(episodes: Sequence[BatchEpisode], fps: Decimal) -> list[EpisodeSummary]:
    """The contract's view of batch episodes (contract.check_batch, supply_status)."""
    return [
        EpisodeSummary(
            episode_id=e.episode_id,
            skill=e.skill,
            scene_type=e.scene_type,
            scene_id=e.scene_id,
            robot_model=e.robot_model,
            hours=e.hours,
            cameras=e.cameras,
            fps=fps,
        )
        for e in episodes
    ]


class Notice(TrustModel):
    """A signed notice from the centre: a delivery delay, a schema change, a revocation."""

    kind: Literal["embodex.notice"] = "embodex.notice"
    channel_id: str = Field(pattern=CHANNEL_ID_PATTERN)
    contract_id: Identifier
    contract_digest: Digest
    number: int = Field(ge=1)
    previous: Digest | None = Field(description="Digest of notice number-1.")
    type: Literal["delay", "schema_change", "revocation"]
    reason: NonEmpty = Field(description="Why; mandatory for every notice.")
    batch: int | None = Field(default=None, ge=1, description="The batch it is about.")
    episodes: list[Identifier] = Field(
        default_factory=list, description="Revocation: the episodes withdrawn."
    )
    period: int | None = Field(default=None, ge=1, description="Delay: the period delayed.")
    expected_by: IsoDate | None = Field(default=None, description="Delay: new expected date.")
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)

    @model_validator(mode="after")
    def _consistent(self) -> Notice:
        if (self.number == 1) != (self.previous is None):
            raise ValueError("previous is null exactly for notice 1")
        if self.type == "revocation" and (self.batch is None or not self.episodes):
            raise ValueError("a revocation names its batch and the episodes withdrawn")
        if self.type != "revocation" and self.episodes:
            raise ValueError("only a revocation lists episodes")
        return self


D = TypeVar("D", bound=BaseModel)


def open_document(
    kind: str,
    model: type[D],
    data: bytes,
    centre: Identity,
    where: str,
    *,
    trusted: Sequence[Identity] = (),
) -> D:
    """Verify ``data`` (an envelope) with the centre's key, then parse it as ``model``.

    ``trusted`` adds keys whose signatures are checked too (a countersigning party).
    Raises :class:`SignatureError` or :class:`PayloadError` naming ``where``.
    """
    try:
        return open_model(kind, model, data, [centre, *trusted], required_keyids=[centre.key_id])
    except SignatureError as exc:
        raise SignatureError(
            f"{where} is not validly signed by centre {centre.name} ({centre.key_id}): "
            f"{exc.message}",
            hint="Do not use this channel's data: it was altered or signed by another key. "
            "Tell the centre.",
        ) from None
    except PayloadError as exc:
        raise PayloadError(f"{where}: {exc.message}", hint=exc.hint) from None
