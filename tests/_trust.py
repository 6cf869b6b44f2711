"""Shared builders for the trust tests: real keys in the isolated EMBODEX_HOME, real files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from embodex.contract import BatchSummary, EpisodeSummary, render_template, sign_contract
from embodex.trust import Identity, Signer, generate_key, load_signer

START = date(2026, 1, 5)  # a Monday; the template's term is 52 weekly periods from here
BEFORE = date(2026, 1, 1)  # before the term: signing gives AGREED
IN_TERM = date(2026, 3, 2)
AFTER = date(2027, 6, 1)
PROFILE = "sha256:" + "ab" * 32


def make_parties() -> tuple[Signer, Signer]:
    """The centre's and the buyer's keys, generated on disk, loaded back as signers."""
    generate_key("hubei-centre", "centre")
    generate_key("agibot", "buyer")
    return load_signer("hubei-centre"), load_signer("agibot")


def draft_text(centre: Identity, buyer: Identity, start: date = START) -> str:
    return render_template(centre=centre, buyer=buyer, start=start, qc_profile_digest=PROFILE)


def write_draft(tmp_path: Path, centre: Identity, buyer: Identity, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(draft_text(centre, buyer), encoding="utf-8")
    return path


def agreed(tmp_path: Path) -> tuple[Path, Signer, Signer]:
    """A contract signed by both parties (on BEFORE, so it is AGREED then, ACTIVE in term)."""
    centre, buyer = make_parties()
    draft = write_draft(tmp_path, centre.identity, buyer.identity)
    offered = sign_contract(draft, centre, at=BEFORE).path
    sign_contract(offered, buyer, at=BEFORE)
    return offered, centre, buyer


def qc_manifest(
    pass_rate: str = "0.97", success_rate: str = "0.85", **overall: Any
) -> dict[str, Any]:
    """The parts of a QC manifest the contract reads (no floats, as the signing rules want)."""
    return {
        "profile": {"id": "humanoid-30fps-default", "digest": PROFILE},
        "dataset": {"digest": "sha256:" + "cd" * 32},
        "aggregates": {
            "overall": {"pass_rate": pass_rate, "success_rate": success_rate, **overall},
            "by_scene_type": {},
        },
    }


def episode(
    i: int,
    hours: str = "0.5",
    *,
    skill: str = "hold_cup",
    scene_type: str = "restaurant",
    scene_id: str = "S04",
    robot: str = "embodex-humanoid-h2",
    cameras: tuple[str, ...] = ("head", "hand_left", "hand_right"),
    fps: str = "30.0",
) -> EpisodeSummary:
    return EpisodeSummary(
        episode_id=f"hubei:{i:04d}",
        skill=skill,
        scene_type=scene_type,
        scene_id=scene_id,
        robot_model=robot,
        hours=Decimal(hours),
        cameras=list(cameras),
        fps=Decimal(fps),
    )


def delivered(day: date, hour: int = 10) -> datetime:
    """A delivery time (in UTC) on ``day``; Asia/Shanghai is UTC+8."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def batch(
    number: int,
    day: date,
    episodes: list[EpisodeSummary] | None = None,
    **kw: Any,
) -> BatchSummary:
    """A batch of 50 half-hour episodes (25 h, above the template's 20 h minimum)."""
    eps = episodes if episodes is not None else [episode(number * 1000 + i) for i in range(50)]
    return BatchSummary(batch_number=number, delivered_at=delivered(day), episodes=eps, **kw)


def week(n: int) -> date:
    """Last day (Sunday) of period ``n`` of the template's schedule."""
    return START + timedelta(weeks=n) - timedelta(days=1)


def spoil(sig: str) -> str:
    """A signature string with its first character changed (always a change: never A for A)."""
    return ("B" if sig[0] == "A" else "A") + sig[1:]
