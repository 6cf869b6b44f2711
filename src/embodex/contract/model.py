"""The data service contract as a typed model; ``specs/schemas/contract.schema.json`` comes
from here and ``specs/contract.md`` explains every field.

A contract is validated as a whole: unknown fields, inconsistent dates, non-positive hours,
rates outside [0, 1] and floats where money goes are errors.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from functools import cached_property
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ..canonical import digest_json
from ..trust.keys import Identity
from ..trust.types import (
    MAX_TRADE_HOURS,
    MAX_UNIT_PRICE,
    REGION_PATTERN,
    Dec,
    Digest,
    Hours,
    Identifier,
    IsoDate,
    Money,
    NonEmpty,
    Rate,
    Slug,
    TrustModel,
)
from .periods import DateDuration, Period, make_periods, parse_duration, zone

__all__ = [
    "CONTRACT_KIND",
    "REGION_PATTERN",
    "Acceptance",
    "Contract",
    "Origin",
    "Parties",
    "Party",
    "PolicyRule",
    "Price",
    "Schedule",
    "Scope",
    "Threshold",
    "UsagePolicy",
    "Volume",
]

CONTRACT_KIND = "embodex.contract"
_REGION = REGION_PATTERN  # defined in trust.types: ledger entries carry a region too


def _unique(values: list[str], what: str) -> list[str]:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} lists {v!r} twice")
        seen.add(v)
    return values


class Party(Identity):
    """A party: its public identity (as ``embodex keys export`` writes it) and organisation."""

    organisation: str | None = Field(default=None, description="Legal name of the party.")

    def identity(self) -> Identity:
        return Identity(
            name=self.name, role=self.role, public_key=self.public_key, key_id=self.key_id
        )


class Parties(TrustModel):
    """Who signs: the centre and the buyer; reviewers may sign QC reviews, not the contract."""

    centre: Party
    buyer: Party
    reviewers: list[Party] = Field(default_factory=list)

    @model_validator(mode="after")
    def _roles(self) -> Parties:
        if self.centre.role != "centre":
            raise ValueError(f"parties.centre has role {self.centre.role!r}, expected 'centre'")
        if self.buyer.role != "buyer":
            raise ValueError(f"parties.buyer has role {self.buyer.role!r}, expected 'buyer'")
        for r in self.reviewers:
            if r.role != "reviewer":
                raise ValueError(f"reviewer {r.name!r} has role {r.role!r}, expected 'reviewer'")
        ids = [p.key_id for p in self.all()]
        if len(set(ids)) != len(ids):
            raise ValueError("two parties share the same key")
        return self

    def all(self) -> list[Party]:
        return [self.centre, self.buyer, *self.reviewers]

    def signing(self) -> list[Identity]:
        """The identities whose signatures make the contract: centre and buyer."""
        return [self.centre.identity(), self.buyer.identity()]


class Scope(TrustModel):
    """What data is in scope: episodes outside it are violations."""

    skills: list[Slug] = Field(min_length=1)
    scene_types: list[Slug] = Field(min_length=1)
    scene_ids: list[Identifier] | None = Field(
        default=None, description="Specific scenes (e.g. the centre's 23); null: any scene."
    )
    robot_models: list[NonEmpty] = Field(min_length=1)
    required_cameras: list[Slug] = Field(default_factory=list)
    fps: int = Field(gt=0, le=1000, description="Nominal frame rate every batch must have.")
    format_version: str = Field(pattern=r"^\d+\.\d+$", description="embodex format version.")

    @field_validator("skills", "scene_types", "robot_models", "required_cameras", "scene_ids")
    @classmethod
    def _no_duplicates(cls, v: list[str] | None) -> list[str] | None:
        return v if v is None else _unique(v, "the list")


class Volume(TrustModel):
    total_hours: Dec = Field(
        gt=0, le=MAX_TRADE_HOURS, description="Hours of accepted data over the whole term."
    )
    min_hours_per_delivery: Dec = Field(
        gt=0, le=MAX_TRADE_HOURS, description="Each delivery holds at least this many hours."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Volume:
        if self.min_hours_per_delivery > self.total_hours:
            raise ValueError("volume.min_hours_per_delivery exceeds volume.total_hours")
        return self


class Schedule(TrustModel):
    start_date: IsoDate
    end_date: IsoDate = Field(description="Last day of the term (inclusive).")
    cadence: str = Field(description="ISO 8601 duration between deliveries: P1W, P7D, P1M.")
    delivery_deadline: str = Field(
        description="How long after a period ends its delivery may arrive: P0D, P2D."
    )
    acceptance_window_days: int = Field(
        ge=1, le=365, description="Days the buyer has to accept or reject a delivery."
    )
    timezone: str = Field(default="UTC", description="IANA time zone of dates and deadlines.")

    @field_validator("cadence", "delivery_deadline")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone(v)
        return v

    @model_validator(mode="after")
    def _dates(self) -> Schedule:
        if self.end_date < self.start_date:
            raise ValueError(
                f"schedule.end_date {self.end_date} is before start_date {self.start_date}"
            )
        if self.cadence_duration.is_zero:
            raise ValueError("schedule.cadence must be longer than zero")
        return self

    @property
    def cadence_duration(self) -> DateDuration:
        return parse_duration(self.cadence)

    @property
    def deadline_duration(self) -> DateDuration:
        return parse_duration(self.delivery_deadline)

    def periods(self) -> list[Period]:
        """Every delivery period of the term, with its deadline."""
        return make_periods(
            self.start_date,
            self.end_date,
            self.cadence_duration,
            self.deadline_duration,
            self.timezone,
        )


class Threshold(TrustModel):
    """A bound on one QC aggregate, read from ``aggregates.overall.<metric>``."""

    metric: Slug
    min: Dec | None = None
    max: Dec | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Threshold:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold {self.metric!r} needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"threshold {self.metric!r}: min is above max")
        return self


class Acceptance(TrustModel):
    """How a delivery is judged: which QC profile, which thresholds, what a rejection entails."""

    qc_profile_id: NonEmpty
    qc_profile_digest: Digest = Field(description="Digest of the QC profile both sides use.")
    min_pass_rate: Rate = Field(description="Minimum share of episodes passing QC per batch.")
    min_success_rate: Rate = Field(description="Minimum share of successful episodes per batch.")
    thresholds: list[Threshold] = Field(default_factory=list)
    replacement_days: int = Field(
        ge=0, le=365, description="Days the centre has to replace a rejected episode."
    )


class Price(TrustModel):
    per_accepted_hour: Money = Field(le=MAX_UNIT_PRICE)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CNY.")
    payment_terms: NonEmpty


class PolicyRule(TrustModel):
    """An ODRL-style rule: an action, optionally limited to purposes and a target."""

    action: Slug = Field(description="use, distribute, sell, reidentify, derive...")
    purposes: list[Slug] = Field(default_factory=list, description="Empty: any purpose.")
    target: str | None = Field(default=None, description="What the rule is about, if narrower.")


class UsagePolicy(TrustModel):
    """What the buyer may do with the data (ODRL permissions and prohibitions, simplified)."""

    permissions: list[PolicyRule] = Field(min_length=1)
    prohibitions: list[PolicyRule] = Field(default_factory=list)
    retention_days: int = Field(gt=0, description="Delete the data this many days after receipt.")
    origin_region: str = Field(pattern=_REGION, description="ISO 3166 code where data is made.")
    allowed_regions: list[str] = Field(min_length=1)
    transfer_approval_ref: str | None = Field(
        default=None,
        description="Approval for cross-border transfer; required when data may leave origin.",
    )

    @field_validator("allowed_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        for region in v:
            if not re.match(_REGION, region):
                raise ValueError(f"{region!r} is not an ISO 3166 region code like CN or CN-HB")
        return _unique(v, "allowed_regions")

    @model_validator(mode="after")
    def _consistent(self) -> UsagePolicy:
        origin = self.origin_region.split("-")[0]
        abroad = [r for r in self.allowed_regions if r.split("-")[0] != origin]
        if abroad and not self.transfer_approval_ref:
            raise ValueError(
                f"allowed_regions {abroad} lie outside origin {self.origin_region}: "
                "usage.transfer_approval_ref is required"
            )
        for p in self.permissions:
            for q in self.prohibitions:
                same_target = p.target == q.target or q.target is None
                overlap = not p.purposes or not q.purposes or set(p.purposes) & set(q.purposes)
                if p.action == q.action and same_target and overlap:
                    raise ValueError(f"action {p.action!r} is both permitted and prohibited")
        return self


class PrivacyTerms(TrustModel):
    """What the data must have been through before it is delivered (specs/privacy.md)."""

    anonymised: list[Literal["faces"]] = Field(
        default_factory=list,
        description="faces: every batch carries the face anonymisation record "
        "(embodex.json extra.privacy.faces, written by `embodex anonymise`).",
    )
    personal_information: list[Literal["none", "anonymised", "present"]] | None = Field(
        default=None,
        description="The personal-information classes a batch may carry (extra.classification); "
        "null: any.",
    )
    importance: list[Literal["general", "important", "core"]] | None = Field(
        default=None, description="The importance grades a batch may carry; null: any."
    )
    consent: Literal["required", "warn"] | None = Field(
        default=None,
        description="Consent on record (specs/privacy.md §4d): required — publish refuses an "
        "episode without a link to its operator's consent in force; warn — publish warns; "
        "null: not checked.",
    )
    consent_scope: list[NonEmpty] | None = Field(
        default=None,
        description="What each operator's consent must cover (every item in the statement's "
        "scope), e.g. [training, transfer]; null: any scope.",
    )
    pseudonyms: Literal["centre", "per-contract"] | None = Field(
        default=None,
        description="Operator ids in every batch are keyed pseudonyms (embodex.json "
        "extra.privacy.pseudonyms, written by `embodex package --pseudonymise` or `embodex "
        "pseudonymise`): centre — any scope; per-contract — scoped by this contract's id, so "
        "they differ between contracts. Null: no requirement.",
    )

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # privacy terms without the later fields serialise (and so sign and hash) as before
        data: dict[str, Any] = handler(self)
        for optional in ("consent", "consent_scope", "pseudonyms"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


class Origin(TrustModel):
    """The marketplace quote a contract was drafted from (specs/catalog.md §5), signed with
    the rest of the contract: what the parties agreed to was priced from that listing."""

    quote_id: NonEmpty
    quote_digest: Digest = Field(description="sha256 of the quote's canonical JSON.")
    listing_digest: Digest = Field(description="The centre's signed listing it was priced from.")
    listing_sequence: int = Field(ge=1)


class Contract(TrustModel):
    """A data service contract. The signed form is the RFC 8785 JSON of ``payload()``.

    Example::

        contract = load_contract_yaml("contract.yaml")
        contract.digest          # 'sha256:…' of the canonical payload
    """

    kind: Literal["embodex.contract"] = "embodex.contract"
    contract_id: Identifier
    version: int = Field(ge=1, description="1 for the original, +1 for each amendment.")
    replaces: Digest | None = Field(
        default=None, description="Digest of the version this amendment replaces."
    )
    title: NonEmpty
    parties: Parties
    scope: Scope
    volume: Volume
    schedule: Schedule
    acceptance: Acceptance
    price: Price
    usage: UsagePolicy
    origin: Origin | None = Field(
        default=None,
        description="The quote and listing a contract drafted from a quote comes from; "
        "absent otherwise.",
    )
    privacy: PrivacyTerms | None = Field(
        default=None,
        description="Anonymisation every batch must carry (specs/privacy.md); absent: none.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_origin(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A contract with no origin (or no privacy terms) serialises (and so signs and
        # hashes) exactly as before the field existed.
        data: dict[str, Any] = handler(self)
        for optional in ("origin", "privacy"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data

    @model_validator(mode="after")
    def _versioning(self) -> Contract:
        if self.version == 1 and self.replaces is not None:
            raise ValueError("version 1 replaces nothing: remove `replaces`")
        if self.version > 1 and self.replaces is None:
            raise ValueError(f"version {self.version} must name the digest it `replaces`")
        return self

    def payload(self) -> dict[str, object]:
        """The JSON object that is signed (decimals and dates as strings, no floats)."""
        return self.model_dump(mode="json")

    @cached_property
    def digest(self) -> str:
        """``sha256:`` of the canonical payload: the contract's name in receipts and ledgers."""
        return digest_json(self.payload())

    def periods(self) -> list[Period]:
        return self.schedule.periods()

    def hours_due_per_period(self) -> list[tuple[Period, Hours]]:
        """The total hours spread evenly over the periods (to 0.001 h; the last takes the rest)."""
        periods = self.periods()
        share = (self.volume.total_hours / len(periods)).quantize(
            Decimal("0.001"), rounding=ROUND_DOWN
        )
        rest = self.volume.total_hours - share * (len(periods) - 1)
        return [(p, rest if p is periods[-1] else share) for p in periods]
