"""AgiBot World raw layout -> embodex: values, pictures, times and labels arrive unchanged;
every kind of broken recording is named, and skip_bad packages the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import h5py
import numpy as np
import pytest
from PIL import Image

from embodex.demo.raw import SAMPLE_EFFECTOR_RANGE_MM, write_agibot_sample
from embodex.errors import ConfigError, DatasetExistsError, ImportSourceError
from embodex.format import Dataset, open_dataset
from embodex.format.importers import SIDECAR_FILE, ImportReport, import_agibot, load_sidecar
from embodex.format.importers.agibot import JOINT_NAMES, UNITS
from embodex.qc import run_qc

TASK = 327
FIRST = 648642
PREFIX = "sample-centre"
# Small and quick: a bad-input case costs about 0.1 s to write and import.
TINY: dict[str, Any] = {
    "episodes": 3,
    "frames": (24, 30),
    "cameras": ("head_color",),
    "size": (32, 24),
}


def _id(i: int, task: int = TASK) -> str:
    return f"{PREFIX}:agibot-{task}-{FIRST + i}"


def _h5(root: Path, i: int, task: int = TASK) -> dict[str, np.ndarray]:
    with h5py.File(root / "proprio_stats" / str(task) / str(FIRST + i) / "proprio_stats.h5") as f:
        return {
            key: np.asarray(f[key][()])
            for key in (
                "state/joint/position",
                "state/effector/position",
                "state/head/position",
                "state/waist/position",
                "action/joint/position",
                "action/effector/position",
                "action/head/position",
                "action/waist/position",
                "action/robot/velocity",
                *(["timestamp"] if "timestamp" in f else []),
            )
        }


def _video(path: Path) -> tuple[list[np.ndarray], list[int]]:
    """Frames as PyAV decodes them, and their PTS offsets in ns from the first frame."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = list(c.decode(stream))
        tb = stream.time_base
        pts = [f.pts for f in frames]
        assert tb is not None and all(p is not None for p in pts)
        offsets = [round((int(p or 0) - int(pts[0] or 0)) * tb * 10**9) for p in pts]
        return [f.to_ndarray(format="rgb24") for f in frames], offsets


# -- a clean import, compared with the source ----------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset, ImportReport]:
    tmp = tmp_path_factory.mktemp("agibot")
    src = write_agibot_sample(tmp / "src", episodes=3, seed=5)
    report = import_agibot(src, tmp / "out")
    return src, open_dataset(tmp / "out"), report


def test_report_ids_and_metadata(clean: tuple[Path, Dataset, ImportReport]) -> None:
    src, ds, report = clean
    rows = [len(_h5(src, i)["state/joint/position"]) for i in range(3)]
    assert (report.episodes, report.frames, report.skipped) == (3, sum(rows), [])
    assert ds.episode_ids == [_id(0), _id(1), _id(2)]
    assert [ep.frame_count for ep in ds] == rows
    assert ds.verify().ok
    meta = ds.meta
    assert meta.licence == "CC-BY-NC-SA-4.0"
    assert meta.provenance.centre_id == PREFIX and meta.provenance.site == "Shanghai"
    emb = meta.embodiments[0]
    assert (emb.model, emb.dof, tuple(emb.joint_names), tuple(emb.units)) == (
        "AgiBot_A2D", 20, JOINT_NAMES, UNITS,
    )  # fmt: skip
    assert sorted(meta.features) == ["action", "action.base_velocity", "state"]
    assert meta.extra["agibot"]["effector_state_range_mm"] == list(SAMPLE_EFFECTOR_RANGE_MM)
    assert [c.name for c in meta.cameras] == ["head", "hand_left", "hand_right", "head_depth"]
    assert meta.camera("head_depth").encoding == "png16"
    assert meta.camera("head_depth").depth_unit == "mm"


def test_state_action_and_velocity_equal_the_h5(clean: tuple[Path, Dataset, ImportReport]) -> None:
    src, ds, _ = clean
    lo, hi = SAMPLE_EFFECTOR_RANGE_MM
    for i, ep in enumerate(ds):
        h = _h5(src, i)
        grip = (h["state/effector/position"] - lo) / (hi - lo)
        state = np.concatenate(
            [h["state/joint/position"], grip, h["state/head/position"], h["state/waist/position"]],
            axis=1,
        )
        action = np.concatenate([h[f"action/{g}/position"] for g in ("joint", "effector",
                                 "head", "waist")], axis=1)  # fmt: skip
        np.testing.assert_allclose(ep.feature("state"), state, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(ep.feature("action"), action, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            ep.feature("action.base_velocity"), h["action/robot/velocity"], rtol=1e-6, atol=1e-7
        )
        # the gripper state is now 0..1 like the action, not mm
        assert (
            0.0 <= ep.feature("state")[:, 14:16].min() <= ep.feature("state")[:, 14:16].max() <= 1
        )
        assert "action_filled" not in ep.meta.extra["agibot"]


def test_timestamps_come_from_h5_and_video_pts(clean: tuple[Path, Dataset, ImportReport]) -> None:
    src, ds, _ = clean
    for i, ep in enumerate(ds):
        ts = _h5(src, i)["timestamp"]
        assert ep.meta.timestamps_synthesized is False
        np.testing.assert_array_equal(ep.timestamp_ns, ts)
        obs = src / "observations" / str(TASK) / str(FIRST + i)
        for cam in ("head", "hand_left"):
            _, offsets = _video(obs / "videos" / f"{cam}_color.mp4")
            cam_ts = ep.image_timestamps_ns(cam)
            assert cam_ts is not None
            np.testing.assert_allclose(cam_ts, ts[0] + np.asarray(offsets), atol=1)
            # PTS are nominal 1/30 s steps, the h5 clock has jitter: they must differ
            assert not np.array_equal(cam_ts, ts)


def test_images_match_the_videos_and_depth(clean: tuple[Path, Dataset, ImportReport]) -> None:
    src, ds, _ = clean
    for i, ep in enumerate(ds):
        obs = src / "observations" / str(TASK) / str(FIRST + i)
        for cam in ("head", "hand_left", "hand_right"):
            source, _ = _video(obs / "videos" / f"{cam}_color.mp4")
            got = ep.images(cam)
            assert len(got) == len(source) == ep.frame_count
            for k in range(0, len(source), 5):
                diff = np.abs(got[k].astype(np.int16) - source[k].astype(np.int16)).mean()
                assert diff < 8, (cam, k, diff)
            assert np.abs(got[0].astype(np.int16) - got[len(got) - 1]).mean() > 0.5  # not frozen
        depth = ep.images("head_depth")
        for k in (0, ep.frame_count - 1):
            png = np.asarray(Image.open(obs / "depth" / f"head_depth_{k:06d}.png"), dtype=np.uint16)
            np.testing.assert_array_equal(depth[k], png)


def test_labels_scene_and_calibration(clean: tuple[Path, Dataset, ImportReport]) -> None:
    src, ds, _ = clean
    entries = json.loads((src / "task_info" / f"task_{TASK}.json").read_text())
    sidecar = load_sidecar(src / SIDECAR_FILE)
    for i, ep in enumerate(ds):
        m = ep.meta
        config = entries[i]["label_info"]["action_config"]
        assert [(s.start_frame, s.end_frame, s.skill, s.text) for s in m.segments] == [
            (c["start_frame"], c["end_frame"], c["skill"], c["action_text"]) for c in config
        ]
        assert m.skill == sidecar["skill"][TASK]
        assert m.instruction_en == entries[i]["task_name"]
        assert m.instruction_zh == sidecar["tasks"][TASK]["instruction_zh"]
        assert m.scene_id == sidecar["tasks"][TASK]["scene"]["scene_id"]
        assert m.scene_type == sidecar["tasks"][TASK]["scene"]["scene_type"]
        assert (m.operator_id, m.operator_level) == ("op-0001", "L2")
        assert m.extra["agibot"]["task_id"] == TASK
        assert m.extra["agibot"]["episode_id"] == FIRST + i
        assert m.extra["agibot"]["init_scene_text"] == entries[i]["init_scene_text"]
    # the episode override beats the defaults
    first, second = ds.episode(0).meta, ds.episode(1).meta
    assert (first.success, first.failure_cause, first.robot_serial) == (
        False, "grasp_missed", "A2D-0002",
    )  # fmt: skip
    assert (second.success, second.robot_serial) == (True, "A2D-0001")
    cal = src / "parameters" / str(TASK) / str(FIRST) / "parameters" / "camera"
    for cam in ("head", "hand_left"):
        raw = json.loads((cal / f"{cam}_intrinsic_params.json").read_text())["intrinsic"]
        intr = ds.meta.camera(cam).intrinsics
        assert intr is not None
        assert (intr.fx, intr.fy, intr.cx, intr.cy) == (
            raw["fx"], raw["fy"], raw["ppx"], raw["ppy"],
        )  # fmt: skip


def test_head_depth_gets_the_head_cameras_intrinsics(
    clean: tuple[Path, Dataset, ImportReport],
) -> None:
    """AgiBot's head depth is registered to head_color at the same size: same intrinsics."""
    _, ds, report = clean
    head, depth = ds.meta.camera("head"), ds.meta.camera("head_depth")
    assert depth.intrinsics is not None and depth.intrinsics == head.intrinsics
    assert ds.meta.extra["agibot"]["depth_intrinsics_from"] == "camera head (depth_aligned_to)"
    assert not [n for n in report.notes if "head_depth" in n]


def test_depth_intrinsics_file_or_none(tmp_path: Path) -> None:
    small = {**TINY, "episodes": 1}
    # its own calibration file wins over the head camera's
    src = write_agibot_sample(tmp_path / "own", **small)
    cal = src / "parameters" / str(TASK) / str(FIRST) / "parameters" / "camera"
    own = {"intrinsic": {"fx": 11.0, "fy": 12.0, "ppx": 13.0, "ppy": 14.0}}
    (cal / "head_depth_intrinsic_params.json").write_text(json.dumps(own))
    import_agibot(src, tmp_path / "own-out")
    meta = open_dataset(tmp_path / "own-out").meta
    intr = meta.camera("head_depth").intrinsics
    assert intr is not None and (intr.fx, intr.fy, intr.cx, intr.cy) == (11.0, 12.0, 13.0, 14.0)
    assert meta.extra["agibot"]["depth_intrinsics_from"] == "head_depth_intrinsic_params.json"
    # not registered to a camera of its size, or registration switched off: none, and said
    for name, sidecar_change in (("other", {"cameras": ["hand_left_color"]}),
                                 ("off", {"depth_aligned_to": None})):  # fmt: skip
        src = write_agibot_sample(
            tmp_path / name, **{**small, "cameras": ("head_color", "hand_left_color")}
        )
        sidecar = {**load_sidecar(src / SIDECAR_FILE), **sidecar_change}
        report = import_agibot(src, tmp_path / f"{name}-out", sidecar=sidecar)
        assert open_dataset(tmp_path / f"{name}-out").meta.camera("head_depth").intrinsics is None
        assert any("head_depth has no intrinsics" in n for n in report.notes), report.notes
    # a depth image of another size than the head camera cannot be registered to it
    src = write_agibot_sample(tmp_path / "size", **small)
    for png in (src / "observations" / str(TASK) / str(FIRST) / "depth").glob("*.png"):
        Image.fromarray(np.full((12, 16), 900, dtype=np.uint16)).save(png)
    report = import_agibot(src, tmp_path / "size-out")
    assert open_dataset(tmp_path / "size-out").meta.camera("head_depth").intrinsics is None
    assert any("16x12, camera head (depth_aligned_to) is 32x24" in n for n in report.notes)


# -- variants of valid input --------------------------------------------------------------


def test_missing_timestamps_are_synthesized_and_flagged(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", with_timestamps=False, depth=False, **TINY)
    (src / "observations" / str(TASK) / "999").mkdir()  # a folder task_info does not list
    sidecar = load_sidecar(src / SIDECAR_FILE)
    sidecar["start_time_ns"] = 5_000_000_000
    sidecar["episodes"][FIRST + 2] = {"start_time_ns": 9_000_000_000}
    report = import_agibot(src, tmp_path / "out", sidecar=sidecar)
    assert any("999" in note for note in report.notes)
    ds = open_dataset(tmp_path / "out")
    for i, ep in enumerate(ds):
        start = 9_000_000_000 if i == 2 else 5_000_000_000
        expected = start + np.round(np.arange(ep.frame_count) * 1e9 / 30).astype(np.int64)
        assert ep.meta.timestamps_synthesized is True
        np.testing.assert_array_equal(ep.timestamp_ns, expected)
        assert ep.image_timestamps_ns("head") is None  # no real clock to offset PTS from
    assert ds.verify().ok


def test_sparse_and_empty_actions_are_filled_from_state(tmp_path: Path) -> None:
    defects = {"sparse_action": 0, "empty_action": 0, "no_velocity": 1}
    src = write_agibot_sample(tmp_path / "src", defects=defects, depth=False, **TINY)
    import_agibot(src, tmp_path / "out")
    ds = open_dataset(tmp_path / "out")
    # one episode has no base velocity, so the dataset does not declare it
    assert "action.base_velocity" not in ds.meta.features
    ep = ds.episode(0)
    h = _h5(src, 0)
    state, action = ep.feature("state"), ep.feature("action")
    np.testing.assert_allclose(action[::2, :14], h["action/joint/position"], rtol=1e-6)
    np.testing.assert_array_equal(action[1::2, :14], state[1::2, :14])  # held pose
    assert not np.allclose(action[::2, :14], state[::2, :14], atol=1e-4)  # real commands
    np.testing.assert_array_equal(action[:, 18:20], state[:, 18:20])
    assert ep.meta.extra["agibot"]["action_filled"] == {"joint": "scattered", "waist": "state"}
    assert "action_filled" not in ds.episode(1).meta.extra["agibot"]


def test_declared_extra_camera_is_imported(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", defects={"unknown_camera": [0, 1, 2]}, **TINY)
    sidecar = load_sidecar(src / SIDECAR_FILE)
    sidecar["cameras"] = ["head_color", "thermal_color"]
    sidecar["depth"] = False
    sidecar["camera_mounts"] = {"thermal_color": "left_wrist"}
    import_agibot(src, tmp_path / "out", sidecar=sidecar)
    ds = open_dataset(tmp_path / "out")
    assert [c.name for c in ds.meta.cameras] == ["head", "thermal"]
    # mounts: from the stem, or as the sidecar declares (QC judges a still picture by them)
    assert [c.mount for c in ds.meta.cameras] == ["head", "left_wrist"]
    ep = ds.episode(1)
    assert len(ep.images("thermal")) == ep.frame_count


def test_segments_past_the_end_are_clipped_and_empty_ones_dropped(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", depth=False, **TINY)
    info = src / "task_info" / f"task_{TASK}.json"
    entries = json.loads(info.read_text())
    config = entries[0]["label_info"]["action_config"]
    config[-1]["end_frame"] = 10_000
    config.append({"start_frame": 4, "end_frame": 4, "skill": "Idle", "action_text": ""})
    info.write_text(json.dumps(entries))
    report = import_agibot(src, tmp_path / "out")
    ep = open_dataset(tmp_path / "out").episode(0)
    n = ep.frame_count
    assert ep.meta.segments[-1].end_frame == n
    assert "Idle" not in [s.skill for s in ep.meta.segments]
    assert ep.meta.extra["agibot"]["segments_clipped"] == 1
    assert ep.meta.extra["agibot"]["segments_dropped"] == 1
    # the repairs are in the packaging report and become QC findings with their frames
    eid = ep.meta.episode_id
    lines = [line for line in report.notes if line.startswith(f"{eid}: repaired:")]
    assert len(lines) == 2 and "ends at frame 10000" in lines[0], report.notes
    result = run_qc(tmp_path / "out", images="none")
    repairs = {
        f.subject: f for f in result.episode(eid).findings if f.rule == "episode.import_repairs"
    }
    assert sorted(repairs) == ["segment_clipped", "segment_dropped"]
    clipped = repairs["segment_clipped"]
    assert clipped.severity == "warn" and clipped.frame_end == n
    assert clipped.frame_start == config[-2]["start_frame"]
    assert repairs["segment_dropped"].frame_start is None
    others = [e for e in result.episodes if e.episode_id != eid]
    assert all(f.rule != "episode.import_repairs" for e in others for f in e.findings)


def test_append_language_and_duplicates(tmp_path: Path) -> None:
    a = write_agibot_sample(tmp_path / "a", depth=False, **{**TINY, "episodes": 2})
    b = write_agibot_sample(
        tmp_path / "b", task_id=328, first_episode_id=FIRST, task_name="把杯子放到托盘上",
        depth=False, **{**TINY, "episodes": 2},
    )  # fmt: skip
    out = tmp_path / "out"
    import_agibot(a, out)
    with pytest.raises(DatasetExistsError):
        import_agibot(b, out)
    side_b = load_sidecar(b / SIDECAR_FILE)
    del side_b["tasks"], side_b["skill"]  # so names come from task_info alone
    seen: list[str] = []
    report = import_agibot(b, out, sidecar=side_b, append=True, on_episode=seen.append)
    assert seen == [_id(0, 328), _id(1, 328)] and report.episodes == 2
    ds = open_dataset(out)
    assert ds.episode_ids == [_id(0), _id(1), _id(0, 328), _id(1, 328)]
    assert ds.verify().ok
    m = ds.episode(_id(0, 328)).meta
    assert (m.instruction_zh, m.instruction_en, m.skill) == ("把杯子放到托盘上", None, "task_328")
    # importing the same recordings again: named, skippable, and nothing changes
    digest = ds.digest
    with pytest.raises(ImportSourceError, match="already in the dataset") as exc:
        import_agibot(a, out, append=True)
    assert exc.value.episode == _id(0)
    with pytest.raises(ImportSourceError, match="no episode could be imported"):
        import_agibot(a, out, append=True, skip_bad=True)
    assert open_dataset(out).digest == digest
    other = load_sidecar(a / SIDECAR_FILE) | {"licence": "CC-BY-4.0"}
    with pytest.raises(ConfigError, match="licensed CC-BY-NC-SA-4.0"):
        import_agibot(a, out, sidecar=other, append=True)


# -- bad input ------------------------------------------------------------------------------

BAD = [
    ("missing_h5", "proprio_stats.h5 is missing", "proprio_stats.h5"),
    ("corrupt_h5", "cannot read proprio_stats.h5", "proprio_stats.h5"),
    ("missing_mp4", "head_color.mp4 is missing", "head_color.mp4"),
    ("corrupt_mp4", "cannot decode the video", "head_color.mp4"),
    ("frame_mismatch", "head_color.mp4 has", "head_color.mp4"),
    ("depth_mismatch", "depth frames, proprio_stats.h5 has", "depth"),
    ("state_mismatch", "state/head/position has", "proprio_stats.h5"),
    ("long_action", "action/joint/position has", "proprio_stats.h5"),
    ("timestamps_backwards", "goes backwards", "proprio_stats.h5"),
    ("unknown_camera", "unknown camera video thermal_color.mp4", "thermal_color.mp4"),
]


@pytest.mark.parametrize(("defect", "message", "file"), BAD, ids=[b[0] for b in BAD])
def test_bad_episode_is_named_or_skipped(
    tmp_path: Path, defect: str, message: str, file: str
) -> None:
    src = write_agibot_sample(tmp_path / "src", defects={defect: 1}, **TINY)
    out = tmp_path / "out"
    with pytest.raises(ImportSourceError) as exc:
        import_agibot(src, out)
    err = exc.value
    assert message in err.message
    assert err.episode == _id(1)
    assert err.path is not None and err.path.endswith(file)
    assert f"/{TASK}/{FIRST + 1}" in err.path
    assert "skip" in err.hint
    assert "\n" not in err.one_line()
    assert not (out / "embodex.json").exists()  # nothing was published

    report = import_agibot(src, out, skip_bad=True)
    assert report.episodes == 2
    assert len(report.skipped) == 1
    skipped_id, reason = report.skipped[0]
    assert skipped_id == _id(1) and message in reason and "\n" not in reason
    ds = open_dataset(out)
    assert ds.episode_ids == [_id(0), _id(2)]
    assert ds.verify().ok


def test_missing_licence_fails_before_reading_anything(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", defects={"no_licence": True}, **TINY)
    for skip_bad in (False, True):
        with pytest.raises(ConfigError, match="no licence") as exc:
            import_agibot(src, tmp_path / "out", skip_bad=skip_bad)
        assert "licence:" in exc.value.one_line()
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="no licence"):
        import_agibot(src, tmp_path / "out", sidecar={"name": "x"})


def test_provenance_is_required_unless_it_is_the_public_release(tmp_path: Path) -> None:
    """Nobody's recordings are credited to AgiBot World (or get its id prefix) by default."""
    src = write_agibot_sample(tmp_path / "src", depth=False, **{**TINY, "episodes": 1})
    base = load_sidecar(src / SIDECAR_FILE)
    del base["provenance"]
    with pytest.raises(ConfigError, match="no provenance given") as info:
        import_agibot(src, tmp_path / "out", sidecar=base)
    line = info.value.one_line()
    assert "provenance: {centre_id:" in line and "agibot-world-public" in line and "§9.1.3" in line
    assert "\n" not in line and not (tmp_path / "out").exists()
    # the public release says so explicitly
    import_agibot(src, tmp_path / "out", sidecar=base | {"provenance": "agibot-world-public"})
    ds = open_dataset(tmp_path / "out")
    assert ds.meta.provenance.centre_id == "agibot-world"
    assert ds.meta.provenance.centre_name == "AgiBot World (public release)"
    assert ds.episode_ids == [f"agibot-world:agibot-{TASK}-{FIRST}"]
    with pytest.raises(ConfigError, match="provenance"):
        import_agibot(src, tmp_path / "o2", sidecar=base | {"provenance": "agibot-world"})


def test_sidecar_mistakes_are_config_errors(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", depth=False, **{**TINY, "episodes": 1})
    base = load_sidecar(src / SIDECAR_FILE)
    with pytest.raises(ConfigError, match="licnece") as info:
        import_agibot(src, tmp_path / "o1", sidecar=base | {"licnece": "MIT"})
    assert "specs/format.md §9.1.3" in info.value.hint  # the fix points at the spec
    with pytest.raises(ConfigError, match="limits") as info:
        import_agibot(src, tmp_path / "o0", sidecar=base | {"limits": {"lower": [0.0] * 3}})
    assert "§9.1.3" in info.value.hint
    bad_scene = base | {"defaults": {"scene": {"scene_type": "Big Kitchen"}}}
    with pytest.raises(ConfigError, match="defaults.scene.scene_type"):
        import_agibot(src, tmp_path / "o2", sidecar=bad_scene)
    with pytest.raises(ConfigError, match="effector_state_range_mm"):
        import_agibot(src, tmp_path / "o3", sidecar=base | {"effector_state_range_mm": [120, 35]})
    listy = tmp_path / "list.yaml"
    listy.write_text("- licence: MIT\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_sidecar(listy)
    with pytest.raises(ConfigError, match="does not exist"):
        load_sidecar(tmp_path / "nope.yaml")


def test_not_an_agibot_tree(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportSourceError, match="task_info"):
        import_agibot(
            tmp_path / "empty", tmp_path / "out",
            sidecar={"licence": "MIT", "provenance": "agibot-world-public"},
        )  # fmt: skip


@pytest.mark.skipif("libsvtav1" not in av.codecs_available, reason="no AV1 encoder in this PyAV")
def test_av1_videos_like_the_release(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", codec="libsvtav1", depth=False, **TINY)
    report = import_agibot(src, tmp_path / "out")
    ep = open_dataset(tmp_path / "out").episode(0)
    source, _ = _video(src / "observations" / str(TASK) / str(FIRST) / "videos" / "head_color.mp4")
    assert report.episodes == 3 and len(source) == ep.frame_count
    diff = np.abs(ep.images("head")[3].astype(np.int16) - source[3].astype(np.int16)).mean()
    assert diff < 8


def test_every_sidecar_key_is_specified() -> None:
    """specs/format.md §9.1.3 lists every key of the AgiBot sidecar and of the episode
    settings, and the generated schema describes every one of them."""
    from embodex.format.importers.agibot_sidecar import Sidecar
    from embodex.format.importers.sidecar import Overrides
    from embodex.schemas import render_schemas

    spec = (Path(__file__).resolve().parents[1] / "specs" / "format.md").read_text()
    section = spec[spec.index("#### 9.1.3") : spec.index("#### 9.1.4")]
    table_keys = {
        m.split("`")[1] for m in section.splitlines() if m.startswith("| `") and "`" in m[3:]
    }
    assert table_keys == set(Sidecar.model_fields), table_keys ^ set(Sidecar.model_fields)
    for key in Overrides.model_fields:
        assert f"`{key}`" in section, key
    schema = json.loads(render_schemas()["agibot-sidecar.schema.json"])
    missing = [k for k, v in schema["properties"].items() if not v.get("description")]
    assert not missing, missing


def test_a_gripper_stored_as_an_opening_fraction_is_declared_in_the_sidecar(
    tmp_path: Path,
) -> None:
    src = write_agibot_sample(tmp_path / "src", depth=False, **{**TINY, "episodes": 1})
    path = src / "proprio_stats" / str(TASK) / str(FIRST) / "proprio_stats.h5"
    with h5py.File(path, "r+") as f:
        mm = np.asarray(f["state/effector/position"][()])
        lo, hi = SAMPLE_EFFECTOR_RANGE_MM
        opening = 1.0 - (mm - lo) / (hi - lo)  # this recorder: 1 = open
        del f["state/effector/position"]
        f["state/effector/position"] = opening
    base = load_sidecar(src / SIDECAR_FILE)
    # declared as mm (the default), the fraction is squashed: the report says so
    report = import_agibot(src, tmp_path / "as-mm", sidecar=base)
    assert any("effector_state_unit: fraction" in note for note in report.notes)
    squashed = open_dataset(tmp_path / "as-mm").episode(0).feature("state")[:, 14:16]
    assert np.ptp(squashed) < 0.05
    # declared as it is stored: 0 = open .. 1 = closed again, as AgiBot's mm map to
    sidecar = base | {"effector_state_unit": "fraction", "effector_state_open": "high"}
    report = import_agibot(src, tmp_path / "as-fraction", sidecar=sidecar)
    assert not any("effector_state_unit" in note for note in report.notes)
    ds = open_dataset(tmp_path / "as-fraction")
    grip = ds.episode(0).feature("state")[:, 14:16]
    np.testing.assert_allclose(grip, (mm - lo) / (hi - lo), atol=1e-5)
    assert ds.meta.extra["agibot"]["effector_state_unit"] == "fraction"
    assert "Gripper = 1 - the fraction." in ds.meta.features["state"].description
    with pytest.raises(ConfigError, match="effector_state_unit"):
        import_agibot(src, tmp_path / "as-fraction", sidecar=base, append=True)


def test_h5_datasets_with_their_own_timestamps_become_streams(tmp_path: Path) -> None:
    src = write_agibot_sample(tmp_path / "src", depth=False, **TINY)
    written = {}
    for i in range(3):
        path = src / "proprio_stats" / str(TASK) / str(FIRST + i) / "proprio_stats.h5"
        with h5py.File(path, "a") as f:
            t0 = int(f["timestamp"][0])
            m = 150 + i
            ts = t0 - 10_000_000 + np.arange(m, dtype=np.int64) * 5_000_000  # 200 Hz
            accel = np.random.default_rng(i).normal(size=(m, 3))
            f["imu/timestamp"] = ts
            f["imu/accel"] = accel
            f["imu/temperature"] = np.full(m, 30.0 + i)
            written[_id(i)] = (ts, accel)
    sidecar = load_sidecar(src / SIDECAR_FILE)
    sidecar["streams"] = {
        "imu": {
            "timestamps": "imu/timestamp",
            "rate_hz": 200,
            "fields": {"accel": "imu/accel", "temperature": "imu/temperature"},
            "units": {"accel": "m/s^2"},
        }
    }
    import_agibot(src, tmp_path / "out", sidecar=sidecar)
    ds = open_dataset(tmp_path / "out")
    imu = ds.meta.stream("imu")
    assert imu.features["accel"].shape == [3] and imu.features["temperature"].shape == [1]
    for ep in ds:
        ts, values = ep.stream("imu")
        want_ts, want_accel = written[ep.episode_id]
        np.testing.assert_array_equal(ts, want_ts)  # at its own rate, its own clock
        np.testing.assert_allclose(values["accel"], want_accel, rtol=1e-6)
        assert len(ts) > 4 * ep.frame_count
    assert ds.verify().ok
    sidecar["streams"]["imu"]["fields"] = {"accel": "imu/acceleration"}
    with pytest.raises(ImportSourceError, match="no episode's proprio_stats.h5 has the dataset"):
        import_agibot(src, tmp_path / "bad", sidecar=sidecar)
