"""Shared builders for the delivery tests: real keys, a signed contract, centre datasets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from embodex.contract import render_template, sign_contract
from embodex.demo.defects import inject
from embodex.demo.synth import SCENES, SKILLS, synth_episode, synth_meta
from embodex.errors import KeyNotFoundError
from embodex.format import Dataset, DatasetWriter, open_dataset
from embodex.qc import default_profile
from embodex.trust import Signer, generate_key, load_signer

START = date(2026, 1, 5)  # a Monday: weekly periods start here
BEFORE = date(2026, 1, 1)
SHORT = (1.0, 2.0)
META = synth_meta(image_size=32)
#: The default profile, loosened for the 1-2 s test episodes; the test contracts name it.
PROFILE = default_profile().with_overrides(
    {
        "episode.duration.warn_min_s": 0.5,
        "episode.duration.fail_min_s": 0.2,
        "episode.horizon.action_horizon_frames": 10,
    }
)


def at(day: int, hour: int = 10) -> datetime:
    """``day`` days after START, at ``hour`` UTC (Asia/Shanghai is UTC+8)."""
    return datetime(START.year, START.month, START.day, hour, tzinfo=UTC) + timedelta(days=day)


def parties() -> tuple[Signer, Signer]:
    """The centre's and the buyer's keys (made on first use)."""
    for name, role in (("hubei-centre", "centre"), ("agibot", "buyer")):
        try:
            load_signer(name)
        except KeyNotFoundError:
            generate_key(name, role)
    return load_signer("hubei-centre"), load_signer("agibot")


def contract(
    tmp_path: Path,
    *,
    min_pass_rate: str = "0.5",
    min_success_rate: str = "0.0",
    skills: list[str] | None = None,
    total_hours: str = "1.0",
    profile_digest: str | None = None,
    contract_id: str | None = None,
    privacy: dict[str, object] | None = None,
    usage: dict[str, object] | None = None,
    scope: dict[str, object] | None = None,
    min_hours_per_delivery: str = "0.001",
) -> tuple[Path, Signer, Signer]:
    """A contract both parties signed before START, in scope for the synthetic episodes
    (QC profile: PROFILE unless ``profile_digest`` names another)."""
    centre, buyer = parties()
    text = render_template(
        centre=centre.identity,
        buyer=buyer.identity,
        start=START,
        qc_profile_digest=profile_digest or PROFILE.digest,
    )
    doc = yaml.safe_load(text)
    doc["scope"]["skills"] = skills or [s.skill for s in SKILLS]
    doc["volume"] = {"total_hours": total_hours, "min_hours_per_delivery": min_hours_per_delivery}
    doc["acceptance"]["min_pass_rate"] = min_pass_rate
    doc["acceptance"]["min_success_rate"] = min_success_rate
    if contract_id is not None:
        doc["contract_id"] = contract_id
    if privacy is not None:
        doc["privacy"] = privacy
    if usage is not None:
        doc["usage"].update(usage)
    if scope is not None:
        doc["scope"].update(scope)
    draft = tmp_path / "contract.yaml"
    draft.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    offered = sign_contract(draft, centre, at=BEFORE).path
    sign_contract(offered, buyer, at=BEFORE)
    return offered, centre, buyer


def centre_dataset(
    path: Path,
    count: int,
    *,
    first: int = 0,
    seed: int = 5,
    defects: dict[int, str] | None = None,
    skill: str | None = None,
) -> Dataset:
    """``count`` more synthetic episodes (indices ``first``..) in the centre's dataset at
    ``path``; ``defects`` maps an index to a defect kind of embodex.demo.defects."""
    exists = (path / "embodex.json").exists()
    skills = {s.skill: s for s in SKILLS}
    with DatasetWriter(path, None if exists else META, append=exists) as w:
        for i in range(first, first + count):
            ep = synth_episode(
                META, i, seed=seed, scene=SCENES[i % len(SCENES)],
                skill=skills[skill] if skill else SKILLS[i % 3], duration_s=SHORT,
            )  # fmt: skip
            if defects and i in defects:
                ep = inject(ep, defects[i], META, seed=i)
            w.add_episode(ep)
    return open_dataset(path)


class Crash(BaseException):
    """Stands for the process dying at that point (nothing catches it)."""


@contextmanager
def uploads_die_after(count: int) -> Iterator[list[str]]:
    """Inside: folder-channel uploads die (:class:`Crash`) after ``count`` files. Yields the
    keys each call tried, in order."""
    from embodex.storage import FileStorage

    real = FileStorage.upload_file
    calls: list[str] = []

    def upload(self: FileStorage, key: str, path: str | Path) -> None:
        calls.append(key)
        if len(calls) > count:
            raise Crash
        real(self, key, path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FileStorage, "upload_file", upload)
        yield calls
