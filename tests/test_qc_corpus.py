"""QC on a realistic recorder's takes: clean ones PASS, each fault is flagged by its rule at
its frames (a confusion matrix), and image sampling cannot miss a 2-second event."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embodex.demo.recorder import FAULTS, Take, corpus, corpus_meta, corpus_profile
from embodex.demo.synth import synth_episodes, synth_meta
from embodex.format import (
    Camera,
    DatasetWriter,
    Embodiment,
    Episode,
    EpisodeMeta,
    Feature,
    Provenance,
)
from embodex.format.images import encode_image
from embodex.format.models import DatasetMeta
from embodex.qc import QCResult, default_profile, run_qc
from embodex.qc.manifest import load_qc_manifest, write_qc
from embodex.qc.review import record_review
from embodex.qc.robot import camera_mount, chain_mask
from embodex.qc.rules.images import coverage_stride
from embodex.qc.rules.timing import sync_error
from embodex.reports.qc_page import write_report
from tests.test_cli_format import run

CLEAN = 12


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[QCResult, list[Take], Path]:
    root = tmp_path_factory.mktemp("corpus") / "ds"
    meta = corpus_meta()
    takes = list(corpus(meta, clean=CLEAN, per_fault=1, seed=11))
    with DatasetWriter(root, meta) as w:
        for take in takes:
            w.add_episode(take.episode)
    return run_qc(root, corpus_profile()), takes, root


def test_clean_takes_pass_and_each_fault_is_flagged_by_its_rule_at_its_frames(
    corpus_run: tuple[QCResult, list[Take], Path],
) -> None:
    result, takes, _ = corpus_run
    # the confusion matrix: fault (None = clean) -> rules that flagged its take
    matrix: dict[str | None, set[str]] = {}
    for take in takes:
        ep = result.episode(take.episode_id)
        rules = {f.rule for f in ep.findings}
        matrix.setdefault(take.fault, set()).update(rules)
        if take.fault is None:
            assert ep.auto_verdict == "PASS", ep.findings
            continue
        fault = FAULTS[take.fault]
        assert take.frames is not None
        a, b = take.frames
        hits = [f for f in ep.findings if f.rule == fault.rule]
        assert hits, f"{take.fault}: {fault.rule} missed it; findings {ep.findings}"
        assert any(
            f.frame_start is None
            or (f.frame_start < b and f.frame_end is not None and f.frame_end > a)
            for f in hits
        ), f"{take.fault}: {fault.rule} names other frames than [{a}, {b}): {hits}"
        stray = rules - {fault.rule} - fault.also
        assert not stray, f"{take.fault} also set off {stray}: {ep.findings}"
    assert matrix[None] == set()
    # one-arm takes are there: their other wrist camera films a still scene (no "frozen")
    arms = {t.episode.meta.extra["arm"] for t in takes if t.fault is None}
    assert {"left", "right"} <= arms
    for name, fault in FAULTS.items():
        assert fault.rule in matrix[name]
        # no rule answers for another fault class unless listed as its side effect
        for other, rules in matrix.items():
            if other not in (None, name) and fault.rule in rules:
                assert fault.rule in FAULTS[other].also, (other, fault.rule)


def test_dataset_facts_are_notes_once_not_episode_findings(
    corpus_run: tuple[QCResult, list[Take], Path],
) -> None:
    result, _, root = corpus_run
    assert [n.rule for n in result.notes].count("integrity.calibration") == 1
    assert not any(f.rule == "integrity.calibration" for f in result.findings)
    assert any("velocity limits not declared" in n.message for n in result.notes)
    # the corpus profile declares the limits, so no note about them; without it there is
    # one, and the take driven past its limit goes unseen
    assert not any(n.rule == "numeric.limits" for n in result.notes)
    plain = run_qc(root, default_profile(), images="none")
    (note,) = [n for n in plain.notes if n.rule == "numeric.limits"]
    assert "joint limits not declared" in note.message and "robot.limits" in note.message
    assert not any(f.rule == "numeric.limits" for f in plain.findings)


def test_sync_error_ignores_jitter_drift_and_dropped_spans() -> None:
    rng = np.random.default_rng(3)
    n, period = 900, 1e9 / 30
    ts = (np.arange(n) * period * (1 + 700e-6) + rng.normal(0, 1e6, n)).astype(np.int64)
    ts[500:] += 500_000_000  # the recorder lost half a second of rows
    cam = (ts[0] + np.round(np.arange(n) * period)).astype(np.int64)  # video times: k/fps
    valid = np.ones(n, dtype=bool)
    err = sync_error(ts, cam, valid, 1.5 * period, 1000)
    assert err is not None and np.percentile(np.abs(err), 95) < 5.0  # jitter; warn is 17
    # the naive measure calls this a half-second offset
    assert np.percentile(np.abs(cam - ts), 95) * 1e-6 > 400
    late = sync_error(ts, cam + 60_000_000, valid, 1.5 * period, 1000)
    assert late is not None and 57 < np.median(late) < 63
    # a camera falling behind faster than clocks drift stays visible
    slow = (ts[0] + np.round(np.arange(n) * period * 1.004)).astype(np.int64)
    err = sync_error(ts, slow, valid, 1.5 * period, 1000)
    assert err is not None and np.percentile(np.abs(err), 95) > 17


def test_camera_mounts_and_chains_by_name() -> None:
    facts = default_profile().robot
    assert camera_mount("hand_left", facts) == "left_wrist"
    assert camera_mount("right_wrist_cam", facts) == "right_wrist"
    assert camera_mount("head_center_fisheye", facts) == "head"
    assert camera_mount("top_down", facts) == "fixed"
    assert camera_mount("top_down", facts, "left_wrist") == "left_wrist"  # the metadata's
    names = ["left_arm_joint1", "right_arm_joint1", "left_gripper", "head_yaw", "waist_lift"]
    assert chain_mask(names, "left_wrist") == [True, False, True, False, True]
    assert chain_mask(names, "fixed") == [True, True, True, False, False]
    # joints named without sides cannot be attributed: a wrist camera is judged by all
    assert chain_mask(["joint_0", "joint_1", "waist_pitch"], "left_wrist") == [True] * 3
    custom = default_profile().with_overrides({"robot.camera_mounts.top_down": "left_wrist"})
    assert camera_mount("top_down", custom.robot) == "left_wrist"
    assert camera_mount("top_down", custom.robot, "fixed") == "left_wrist"  # profile first
    assert custom.digest != default_profile().digest


# -- coverage: a 2 s freeze is found wherever it lies ----------------------------------------


def _moving_meta() -> DatasetMeta:
    names = ["left_arm_joint1", "left_arm_joint2", "right_arm_joint1", "waist_pitch"]
    return DatasetMeta(
        name="coverage",
        licence="CC0-1.0",
        provenance=Provenance(centre_id="c", centre_name="C"),
        embodiments=[Embodiment(model="r", dof=4, joint_names=names, units=["rad"] * 4)],
        cameras=[Camera(name="hand_left", width=16, height=16, encoding="jpeg")],
        features={
            "state": Feature(shape=[4], names=names, role="state"),
            "action": Feature(shape=[4], names=names, role="action"),
        },
        fps=30.0,
    )


def _frozen_takes(path: Path, length: int) -> list[int]:
    """One episode per chosen start frame of a ``length``-frame freeze of the left wrist
    camera while the left arm keeps moving; returns the start frames."""
    meta = _moving_meta()
    n = 600  # 20 s: eight evenly spaced samples are 83 frames apart
    t = np.arange(n) / 30.0
    state = np.stack(
        [0.5 * np.sin(2 * np.pi * t / 4), 0.5 * np.cos(2 * np.pi * t / 4), 0 * t, 0 * t], axis=1
    ).astype(np.float32)
    rng = np.random.default_rng(0)
    frames = [
        encode_image(rng.integers(0, 255, size=(16, 16, 3)).astype(np.uint8), "jpeg")
        for _ in range(n)
    ]
    ts = (1_700_000_000_000_000_000 + np.arange(n) * 33_333_333).astype(np.int64)
    # the guarantee depends on where the freeze starts modulo the grid step (45 frames at
    # the defaults): 46 consecutive start frames cover every residue; plus both ends
    last = n - length
    starts = [0, 1, *range(300, 346), last - 1, last]
    with DatasetWriter(path, meta) as w:
        for a in starts:
            imgs = list(frames)
            imgs[a : a + length] = [frames[a]] * length
            w.add_episode(
                Episode(
                    meta=EpisodeMeta(episode_id=f"freeze-{a:03d}"),
                    timestamp_ns=ts,
                    features={"state": state, "action": state + np.float32(0.001)},
                    images={"hand_left": imgs},
                    image_timestamps_ns={"hand_left": ts},
                )
            )
    return starts


def test_a_two_second_freeze_is_found_at_every_offset(tmp_path: Path) -> None:
    profile = default_profile()
    assert profile.images.min_event_s == 2.0
    starts = _frozen_takes(tmp_path / "ds", 60)  # exactly 2 s at 30 fps
    result = run_qc(tmp_path / "ds", profile)
    for a, ep in zip(starts, result.episodes, strict=True):
        hits = [f for f in ep.findings if f.rule == "images.frozen"]
        assert hits, f"a freeze over frames [{a}, {a + 60}) was missed"
        assert hits[0].frame_start is not None and hits[0].frame_end is not None
        assert hits[0].frame_start < a + 60 and hits[0].frame_end > a
    # the guarantee is the grid, not luck: eight evenly spaced samples miss some offsets
    sparse = profile.with_overrides({"images.min_event_s": 1000})
    missed = [
        ep
        for ep in run_qc(tmp_path / "ds", sparse).episodes
        if not any(f.rule == "images.frozen" for f in ep.findings)
    ]
    assert missed
    assert coverage_stride(2.0, 30.0, 15) == 45


def test_notes_reach_the_manifest_the_report_and_qc_run(
    corpus_run: tuple[QCResult, list[Take], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, takes, source = corpus_run
    root = tmp_path / "ds"
    shutil.copytree(source, root)
    manifest = write_qc(root, result)
    assert [n.message for n in manifest.notes] == [n.message for n in result.notes]
    # a review rewrites the manifest without running QC: the notes stay
    clean = next(t.episode_id for t in takes if t.fault is None)
    record_review(root, clean, verdict="accept", reason="meets_spec", reviewer="rev-1")
    assert load_qc_manifest(root).notes == manifest.notes
    page = write_report(root, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Dataset notes" in page and "ships no calibration" in page
    code, out, err = run(["qc", "run", str(root), "--images", "none"], capsys)
    assert code == 3, err  # the faulty takes fail; the notes are said once, apart
    assert out.count("ships no calibration") == 1 and "dataset notes" in out
    code, out, _ = run(["qc", "run", str(root), "--images", "none", "--json", "--no-write"], capsys)
    notes = json.loads(out)["notes"]
    assert {n["rule"] for n in notes} >= {"integrity.calibration", "numeric.velocity"}


def test_a_dimension_constant_over_the_whole_dataset_is_a_note(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    episodes = list(synth_episodes(meta, 3, seed=4, duration_s=(5, 6)))
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for ep in episodes:
            ep.features["action"][:, 19] = np.float32(0.1)  # never commanded: one value
            w.add_episode(ep)
    result = run_qc(tmp_path / "ds", images="none")
    (note,) = [n for n in result.notes if n.rule == "numeric.dead_channel"]
    assert note.subject == "action" and "waist_lift" in note.message
    assert "standard deviation is 0" in note.message and "state" not in note.message
    assert result.counts()["FAIL"] == 0  # per episode it is not a dead sensor: no command
