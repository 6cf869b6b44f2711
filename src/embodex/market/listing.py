"""The catalogue listing: what a centre holds and can collect, signed, with no frames.

The listing is the payload of ``catalog/listing.json`` (a DSSE envelope of type
``listing``). It holds only aggregates and metadata: hours and episodes by skill, scene,
robot and QC verdict; the scenes with their weekly collection capacity; cameras and rates;
the price sheet with the licence terms offered; the QC profiles certified against; and, per
dataset, its digest, QC manifest digest and the head of its provenance chain.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from ..canonical import digest_json
from ..qc.findings import Verdict
from ..trust.keys import Identity
from ..trust.types import Dec, Digest, Hours, Identifier, IsoDate, NonEmpty, Slug, TrustModel
from .capacity import SceneInfo
from .prices import PriceSheet

__all__ = [
    "DELIVERABLE",
    "CameraOffer",
    "CentreInfo",
    "DatasetEntry",
    "Holding",
    "Listing",
    "ProfileRef",
    "ProvenanceRef",
    "QCRef",
    "SceneOffer",
]

#: Final QC verdicts a buyer can be delivered (WARN is deliverable, see specs/qc.md).
DELIVERABLE: tuple[str, ...] = ("PASS", "WARN")


class CentreInfo(TrustModel):
    """Who offers the data, and the key every signature of the catalogue verifies with."""

    centre_id: Identifier
    centre_name: NonEmpty
    site: str | None = None
    contact: str | None = None
    identity: Identity


class CameraOffer(TrustModel):
    name: Slug
    kind: Literal["color", "depth"]
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    encoding: str
    rate_hz: Dec = Field(description="Frames per second, as a decimal string.")
    calibrated: bool


class QCRef(TrustModel):
    manifest_digest: Digest
    profile_id: NonEmpty
    profile_version: int
    profile_digest: Digest


class ProvenanceRef(TrustModel):
    path: str = Field(pattern=r"^provenance/[A-Za-z0-9][A-Za-z0-9._-]*\.json$")
    head: Digest = Field(description="Digest of the chain's last statement.")


class DatasetEntry(TrustModel):
    """One dataset the centre holds: identity, shape and trust anchors (no frames)."""

    name: NonEmpty
    digest: Digest
    licence: NonEmpty
    fps: Dec
    episodes: int = Field(ge=0)
    hours: Hours
    recorded_from: str | None
    recorded_to: str | None
    robot_models: list[str]
    cameras: list[CameraOffer]
    qc: QCRef
    provenance: ProvenanceRef


class Holding(TrustModel):
    """Episodes and hours of one dataset with one skill, scene, robot and final verdict."""

    dataset: int = Field(ge=0, description="Index into `datasets`.")
    skill: str | None
    scene_type: str | None
    scene_id: str | None
    robot_model: str | None
    verdict: Verdict
    episodes: int = Field(ge=1)
    hours: Hours


class SceneOffer(TrustModel):
    """A scene of the centre: what it is, hours deliverable now, capacity per week."""

    scene: SceneInfo
    capacity_hours_per_week: Hours
    stock_hours: Hours = Field(description="Deliverable (PASS or WARN) hours held now.")


class ProfileRef(TrustModel):
    id: NonEmpty
    version: int
    digest: Digest


class Listing(TrustModel):
    """``kind: embodex.listing`` — see specs/catalog.md §2 for every field."""

    kind: Literal["embodex.listing"] = "embodex.listing"
    version: Literal[1] = 1
    sequence: int = Field(ge=1, description="+1 on every rebuild of the same catalogue.")
    issued_at: str
    valid_until: IsoDate = Field(description="Buyers refuse the listing after this day.")
    centre: CentreInfo
    datasets: list[DatasetEntry] = Field(min_length=1)
    holdings: list[Holding]
    scenes: list[SceneOffer]
    capacity_available_from: IsoDate | None = None
    prices: PriceSheet
    qc_profiles: list[ProfileRef] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Listing:
        digests = [d.digest for d in self.datasets]
        if len(set(digests)) != len(digests):
            raise ValueError("a dataset is listed twice")
        for h in self.holdings:
            if h.dataset >= len(self.datasets):
                raise ValueError(f"a holding names dataset {h.dataset}, which is not listed")
        if self.centre.identity.role != "centre":
            raise ValueError("the listing's identity must be a centre key")
        return self

    @property
    def digest(self) -> str:
        return digest_json(self.model_dump(mode="json"))

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def capacity(self, scene_id: str) -> Decimal:
        for s in self.scenes:
            if s.scene.scene_id == scene_id:
                return s.capacity_hours_per_week
        return Decimal(0)

    def totals(self) -> dict[str, Any]:
        """Episodes and hours by verdict, scene type, skill, robot, and skill × scene type."""

        def blank() -> dict[str, Any]:
            return {"episodes": 0, "hours": Decimal(0), "PASS": Decimal(0), "WARN": Decimal(0),
                    "FAIL": Decimal(0)}  # fmt: skip

        overall = blank()
        groups: dict[str, dict[str, dict[str, Any]]] = {
            "by_scene_type": defaultdict(blank),
            "by_skill": defaultdict(blank),
            "by_robot": defaultdict(blank),
        }
        cross: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for h in self.holdings:
            keys = {"by_scene_type": h.scene_type, "by_skill": h.skill, "by_robot": h.robot_model}
            for target in (overall, *(groups[g][k or "(unknown)"] for g, k in keys.items())):
                target["episodes"] += h.episodes
                target["hours"] += h.hours
                target[h.verdict] += h.hours
            if h.verdict in DELIVERABLE:
                cross[h.skill or "(unknown)"][h.scene_type or "(unknown)"] += h.hours
        return {
            "overall": overall,
            **{g: dict(sorted(v.items())) for g, v in groups.items()},
            "deliverable_hours_by_skill_and_scene_type": {
                k: dict(sorted(v.items())) for k, v in sorted(cross.items())
            },
        }
