"""Format 1.1 streams at their own rate over a channel: published, pulled, hash-checked and
appended with their samples unchanged (folder channel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embodex.delivery import publish, pull
from embodex.demo.synth import SCENES, SKILLS, synth_episode, synth_meta
from embodex.format import DatasetWriter, open_dataset, verify_dataset

from ._delivery import META, PROFILE, SHORT, at, contract


def _centre(path: Path, count: int, first: int = 0) -> None:
    imu = synth_meta(imu_hz=200.0).streams
    meta = META.model_copy(update={"streams": imu})
    exists = (path / "embodex.json").exists()
    with DatasetWriter(path, None if exists else meta, append=exists) as w:
        for i in range(first, first + count):
            w.add_episode(
                synth_episode(
                    meta,
                    i,
                    seed=5,
                    scene=SCENES[i % len(SCENES)],
                    skill=SKILLS[i % 3],
                    duration_s=SHORT,
                )
            )


def test_streams_are_delivered_and_appended(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path, min_pass_rate="0.5")
    channel, store = str(tmp_path / "channel"), tmp_path / "buyer"
    _centre(tmp_path / "centre", 3)
    src = open_dataset(tmp_path / "centre")
    r1 = publish(src.root, channel, terms, centre, profile=PROFILE, now=at(5))
    pull(channel, terms, buyer, store, now=at(5, 12))
    got = open_dataset(store / "dataset")
    verify_dataset(got)
    assert got.meta.stream("imu").rate_hz == 200.0
    for eid in r1.episodes:
        a, b = src.episode(eid).stream("imu"), got.episode(eid).stream("imu")
        np.testing.assert_array_equal(a.timestamp_ns, b.timestamp_ns)
        np.testing.assert_array_equal(a.features["gyro"], b.features["gyro"])
    _centre(tmp_path / "centre2", 2, first=3)
    publish(tmp_path / "centre2", channel, terms, centre, profile=PROFILE, now=at(12))
    pull(channel, terms, buyer, store, now=at(12, 12))
    got = open_dataset(store / "dataset")
    assert len(got) == 5 and verify_dataset(got).ok
    assert len([f for f in got.manifest.files if f.path.startswith("streams/imu/")]) >= 2
