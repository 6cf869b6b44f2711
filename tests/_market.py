"""Builders for the market tests: hand-made listings (for exact arithmetic) and real ones."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset
from embodex.market import Capacity, Demand, Listing, PriceSheet, parse_demand
from embodex.market.listing import (
    CameraOffer,
    CentreInfo,
    DatasetEntry,
    Holding,
    ProfileRef,
    ProvenanceRef,
    QCRef,
    SceneOffer,
)
from embodex.qc import run_qc, write_qc
from embodex.trust import Signer

PROFILE = "sha256:" + "ab" * 32
DIGEST = "sha256:" + "cd" * 32
USAGE = {
    "permissions": [{"action": "use", "purposes": ["model_training"]}],
    "prohibitions": [{"action": "distribute"}],
    "retention_days": 365,
    "origin_region": "CN",
    "allowed_regions": ["CN"],
}


def price_sheet(**changes: Any) -> PriceSheet:
    """A small price sheet whose numbers the tests compute by hand."""
    data: dict[str, Any] = {
        "currency": "CNY",
        "base_per_accepted_hour": "500.00",
        "payment_terms": "30 days",
        "scene_complexity": {"restaurant": "1.15", "home": "1.00"},
        "skill_difficulty": {"hold_cup": "1.00", "fold_clothes": "1.35", "grasp_plate": "1.05"},
        "cameras": [
            {"min_cameras": 0, "multiplier": "0.90"},
            {"min_cameras": 3, "multiplier": "1.00"},
        ],
        "exclusivity": "1.50",
        "customised_collection": "1.20",
        "volume_discounts": [
            {"min_hours": "10", "discount": "0.05"},
            {"min_hours": "100", "discount": "0.10"},
        ],
        "licences": [
            {"id": "standard", "title": "Non-exclusive training", "usage": USAGE},
            {"id": "exclusive", "title": "Exclusive training", "exclusive": True, "usage": USAGE},
        ],
    }
    data.update(changes)
    return PriceSheet.model_validate(data)


def holding(
    skill: str, scene_type: str, scene_id: str, verdict: str, hours: str, **kw: Any
) -> Holding:
    return Holding.model_validate(
        {
            "dataset": 0,
            "skill": skill,
            "scene_type": scene_type,
            "scene_id": scene_id,
            "robot_model": "R1",
            "verdict": verdict,
            "episodes": 1,
            "hours": hours,
            **kw,
        }
    )


#: Stock: 3 h of hold_cup in restaurants (plus 0.25 h FAIL and 1 h on robot R2), 4 h of
#: fold_clothes at home. Capacity: S04 2 h/week, S05 1 h/week, S11 1.5 h/week.
HOLDINGS = [
    holding("hold_cup", "restaurant", "S04", "PASS", "2.5", episodes=3),
    holding("hold_cup", "restaurant", "S05", "WARN", "0.5"),
    holding("hold_cup", "restaurant", "S04", "FAIL", "0.25"),
    holding("hold_cup", "restaurant", "S04", "PASS", "1.0", robot_model="R2"),
    holding("fold_clothes", "home", "S10", "PASS", "4", episodes=2),
]
CAPACITY = {"S04": "2", "S05": "1", "S11": "1.5"}


def listing(
    signer: Signer,
    holdings: list[Holding] | None = None,
    capacity: dict[str, str] | None = None,
    prices: PriceSheet | None = None,
    **changes: Any,
) -> Listing:
    """A listing made by hand (one dataset, robots R1 and R2, three cameras at 30 Hz)."""
    cap = Capacity.model_validate(
        {"hours_per_week": capacity if capacity is not None else CAPACITY}
    )
    cameras = [
        CameraOffer(
            name=n,
            kind="color",
            width=96,
            height=96,
            encoding="jpeg",
            rate_hz=Decimal("30.0"),
            calibrated=True,
        )
        for n in ("head", "hand_left", "hand_right")
    ]
    data: dict[str, Any] = {
        "sequence": 1,
        "issued_at": "2026-01-01T00:00:00Z",
        "valid_until": "2026-12-31",
        "centre": CentreInfo(
            centre_id="hubei", centre_name="Hubei centre", identity=signer.identity
        ),
        "datasets": [
            DatasetEntry(
                name="stock",
                digest=DIGEST,
                licence="CC-BY-NC-4.0",
                fps=Decimal("30.0"),
                episodes=8,
                hours=Decimal("8.25"),
                recorded_from=None,
                recorded_to=None,
                robot_models=["R1", "R2"],
                cameras=cameras,
                qc=QCRef(
                    manifest_digest=DIGEST,
                    profile_id="humanoid-30fps",
                    profile_version=1,
                    profile_digest=PROFILE,
                ),
                provenance=ProvenanceRef(path="provenance/x.json", head=DIGEST),
            )
        ],
        "holdings": holdings if holdings is not None else HOLDINGS,
        "scenes": [
            SceneOffer(scene=s, capacity_hours_per_week=cap.weekly(s.scene_id), stock_hours=0)
            for s in cap.scene_catalogue()
        ],
        "prices": prices or price_sheet(),
        "qc_profiles": [ProfileRef(id="humanoid-30fps", version=1, digest=PROFILE)],
    }
    data.update(changes)
    return Listing.model_validate(data)


DEMAND = """\
kind: embodex.demand
title: Pilot data
lines:
  - {skills: [hold_cup], scene_types: [restaurant], hours: "10"}
  - {skills: [fold_clothes], scene_types: [home], hours: "5", customised: true}
  - {skills: [grasp_plate], scene_types: [restaurant], hours: "4"}
robot_models: [R1]
required_cameras: [head, hand_left, hand_right]
licence: standard
start: 2026-01-05
horizon: 2026-01-31
"""


def demand(text: str = DEMAND, **replace: str) -> Demand:
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse_demand(text)


def qc_dataset(path: Path, episodes: int = 16, seed: int = 3, **meta: Any) -> Dataset:
    """A small real dataset (3-4 s episodes that pass QC) with its QC manifest."""
    m = synth_meta(image_size=32, cameras=("head", "hand_left"), **meta)
    ds = synth_dataset(path, episodes, seed=seed, meta=m, duration_s=(3.0, 4.0))
    write_qc(path, run_qc(path))
    return ds
