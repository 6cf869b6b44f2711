"""Proof with LeRobot itself: our export loads in LeRobot's own ``LeRobotDataset``, and a
dataset written by LeRobot's own writer imports into embodex with the frames LeRobot reads.

LeRobot lives in its own venv (.venv-lerobot, `make lerobot-venv`; see
scripts/lerobot_venv.sh for why). When it could not be installed these tests skip with the
reason; the round trip in test_lerobot_export.py runs regardless.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset, open_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.format.importers.lerobot import import_lerobot

from ._lerobot import lerobot_python, load_with_lerobot, write_with_lerobot
from .conftest import SHORT


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    meta = synth_meta(image_size=32, cameras=("head", "hand_left"))
    return synth_dataset(
        tmp_path_factory.mktemp("real") / "src", 3, seed=11, meta=meta, duration_s=SHORT
    )


def test_lerobot_dataset_loads_our_export(source: Dataset, tmp_path: Path) -> None:
    lerobot_python()  # skip early, with the reason, when LeRobot is not installed
    out = tmp_path / "lerobot"
    export_lerobot(source, out)
    data, meta = load_with_lerobot(out, tmp_path / "loaded.npz", "--delta")
    assert meta["len"] == source.num_frames and meta["num_episodes"] == len(source)
    assert meta["fps"] == 30
    assert meta["camera_keys"] == ["observation.images.head", "observation.images.hand_left"]
    state = np.concatenate([v.feature("state") for v in source])
    action = np.concatenate([v.feature("action") for v in source])
    np.testing.assert_array_equal(data["observation.state"], state)
    np.testing.assert_array_equal(data["action"], action)
    times = np.concatenate([v.timestamp_ns for v in source])
    np.testing.assert_array_equal(data["embodex.timestamp_ns"], times)
    for cam in ("head", "hand_left"):
        ours = np.concatenate([np.stack(v.images(cam)[:]) for v in source])
        theirs = data[f"observation.images.{cam}"]
        assert theirs.shape == ours.shape
        # LeRobot decodes the same JPEG bytes with Pillow; we use libjpeg-turbo directly.
        assert np.abs(theirs.astype(int) - ours.astype(int)).max() <= 1
    ep_index = np.concatenate([np.full(v.frame_count, i) for i, v in enumerate(source)])
    np.testing.assert_array_equal(data["episode_index"], ep_index)
    assert meta["tasks"] == [t for v in source for t in [v.meta.instruction_en] * v.frame_count]
    first = source.episode(0)
    labels = [s.text for s in first.meta.segments]
    assert meta["subtasks"][: first.frame_count] == [
        labels[
            next(k for k, s in enumerate(first.meta.segments) if s.start_frame <= i < s.end_frame)
        ]
        for i in range(first.frame_count)
    ]
    for row, view in zip(meta["episodes"], source, strict=True):
        assert row["embodex/episode_id"] == view.episode_id
        assert row["embodex/operator_id"] == view.meta.operator_id
        assert row["embodex/success"] == view.meta.success
    # delta_timestamps (policy action chunks): the last frame of episode 1 pads the future
    last = source.episode(1).feature("action")[-1]
    np.testing.assert_array_equal(data["delta_action_last"][0], last)
    assert data["delta_action_is_pad_last"].tolist() == [False, True, True]
    assert meta["delta_len"] == source.episode(1).frame_count
    assert "observation.state" in meta["stats_keys"]


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_lerobot_reads_our_video_export(source: Dataset, tmp_path: Path, codec: str) -> None:
    lerobot_python()
    view = source.select(episode_ids=source.episode_ids[:2])
    out = tmp_path / "lerobot-video"
    export_lerobot(view, out, video=True, video_codec=codec)
    data, meta = load_with_lerobot(out, tmp_path / "loaded.npz", "--pyav-decoder")
    assert meta["len"] == view.num_frames
    np.testing.assert_array_equal(
        data["observation.state"], np.concatenate([v.feature("state") for v in view])
    )
    ours = np.concatenate([np.stack(v.images("head")[:]) for v in view]).astype(int)
    theirs = data["observation.images.head"].astype(int)
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours).mean() < 8  # lossy video, same pictures, same frames
    assert np.abs(theirs[1:] - ours[1:]).mean() < np.abs(theirs[1:] - ours[:-1]).mean()


SIDECAR = {
    "licence": "Apache-2.0",
    "name": "so100-lerobot",
    "provenance": {"centre_id": "lab-x", "centre_name": "Lab X", "site": "Paris"},
}


def test_a_dataset_written_by_lerobot_imports_with_the_frames_lerobot_reads(
    tmp_path: Path,
) -> None:
    """LeRobotDataset.create + add_frame + save_episode + finalize (an image camera stored as
    PNG, a video camera encoded by LeRobot), then `--from lerobot`: the embodex dataset holds
    what was written, frame for frame, and what LeRobotDataset reads back."""
    lerobot_python()
    root = tmp_path / "written"
    written = write_with_lerobot(root, tmp_path / "written.npz")
    theirs, meta = load_with_lerobot(root, tmp_path / "read.npz", "--pyav-decoder")
    assert meta["len"] == len(written["state"]) == 33 and meta["num_episodes"] == 3
    assert meta["camera_keys"] == ["observation.images.head", "observation.images.wrist"]
    # LeRobot reads back what it was given (its own round trip, the reference)
    np.testing.assert_array_equal(theirs["observation.state"], written["state"])
    np.testing.assert_array_equal(theirs["observation.images.head"], written["head"])

    report = import_lerobot(root, tmp_path / "embodex", sidecar=SIDECAR)
    assert report.episodes == 3 and report.frames == 33
    ds = open_dataset(tmp_path / "embodex")
    ds.verify()
    assert ds.meta.fps == 15 and [c.name for c in ds.meta.cameras] == ["head", "wrist"]
    assert ds.meta.embodiments[0].joint_names == [f"joint_{i}" for i in range(6)]
    assert [v.frame_count for v in ds] == [10, 11, 12]
    ours = {
        "state": np.concatenate([v.feature("state") for v in ds]),
        "action": np.concatenate([v.feature("action") for v in ds]),
        "head": np.concatenate([np.stack(v.images("head")[:]) for v in ds]),
        "wrist": np.concatenate([np.stack(v.images("wrist")[:]) for v in ds]).astype(int),
    }
    for key, lerobot_key in (("state", "observation.state"), ("action", "action")):
        np.testing.assert_array_equal(ours[key], theirs[lerobot_key])
        np.testing.assert_array_equal(ours[key], written[key])
    # the image camera: LeRobot's PNG bytes, kept as stored: exactly the pixels
    np.testing.assert_array_equal(ours["head"], theirs["observation.images.head"])
    # the video camera: a video camera (format 1.1) cut from LeRobot's shared MP4 without
    # re-encoding: the frames LeRobot decodes, in the same order
    assert ds.meta.camera("wrist").storage == "video"
    lr_wrist = theirs["observation.images.wrist"].astype(int)
    assert ours["wrist"].shape == lr_wrist.shape == (33, 64, 64, 3)
    same = np.abs(ours["wrist"] - lr_wrist).mean(axis=(1, 2, 3))
    shifted = np.abs(ours["wrist"][1:] - lr_wrist[:-1]).mean(axis=(1, 2, 3))
    assert same.max() < 0.5 and (same[1:] < shifted).all(), (same, shifted)
    # tasks become instructions; LeRobot timestamps are frame_index / fps: synthesised
    assert [v.meta.instruction_en for v in ds] == written["tasks"]
    lengths = (10, 11, 12)
    expected = [t for t, n in zip(written["tasks"], lengths, strict=True) for _ in range(n)]
    assert meta["tasks"] == expected
    assert all(v.meta.timestamps_synthesized for v in ds)
    assert np.allclose(np.diff(ds.episode(0).timestamp_ns), 1e9 / 15, atol=1)
