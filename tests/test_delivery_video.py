"""Format 1.1 video cameras over a channel: published, pulled, hash-checked, installed and
appended week after week with their bytes unchanged (folder channel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embodex.delivery import publish, pull
from embodex.format import open_dataset, transcode_dataset, verify_dataset

from ._delivery import PROFILE, at, centre_dataset, contract


def test_video_dataset_is_delivered_as_video(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path, min_pass_rate="0.5")
    channel, store = str(tmp_path / "channel"), tmp_path / "buyer"
    frames = tmp_path / "frames"
    centre_dataset(frames, 3)
    src = transcode_dataset(frames, tmp_path / "centre", cameras="video", gop=8).dataset
    assert any(c.is_video for c in src.meta.cameras)
    r1 = publish(src.root, channel, terms, centre, profile=PROFILE, now=at(5))
    p1 = pull(channel, terms, buyer, store, now=at(5, 12))
    assert [b.outcome for b in p1.batches] == ["accepted"] and len(r1.episodes) == 3
    got = open_dataset(store / "dataset")
    verify_dataset(got)
    cam = next(c.name for c in got.meta.cameras if c.is_video)
    for eid in r1.episodes:
        a, b = src.episode(eid), got.episode(eid)
        assert a.video_path(cam).read_bytes() == b.video_path(cam).read_bytes()
        assert np.array_equal(b.images(cam)[-1], a.images(cam)[-1])
    # week 2: more video episodes appended to the buyer's dataset
    centre_dataset(frames, 2, first=3)
    more = transcode_dataset(frames, tmp_path / "centre2", cameras="video", gop=8).dataset
    publish(more.root, channel, terms, centre, profile=PROFILE, now=at(12))
    p2 = pull(channel, terms, buyer, store, now=at(12, 12))
    assert [b.number for b in p2.batches] == [2]
    got = open_dataset(store / "dataset")
    assert len(got) == 5
    verify_dataset(got)
    assert sum(1 for f in got.manifest.files if f.path.startswith("videos/")) == 5 * sum(
        1 for c in got.meta.cameras if c.is_video
    )
