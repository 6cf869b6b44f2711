"""Every QC rule catches its injected defect, and clean synthetic data raises nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from embodex.demo.defects import (
    DEFECTS,
    corrupt_shard,
    defective_batch,
    inject,
    strip_calibration,
    write_defective_dataset,
)
from embodex.demo.synth import synth_dataset, synth_episodes, synth_meta
from embodex.format import DatasetWriter, Episode, open_dataset
from embodex.format.importers.common import record_repair
from embodex.format.layout import MANIFEST_FILE
from embodex.format.models import Manifest
from embodex.format.writer import dataset_digest
from embodex.qc import RULES, QCResult, default_profile, run_qc

SEVERITY = {"warn": 1, "fail": 2}


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[QCResult, dict[str, str]]:
    """Ten clean episodes plus one episode per defect kind, checked once."""
    meta = synth_meta(image_size=32, cameras=("head", "hand_left"))
    root = tmp_path_factory.mktemp("qc") / "defects"
    ds, labels = write_defective_dataset(root, meta=meta, clean=10, seed=1, duration_s=(6, 9))
    return run_qc(ds), labels


@pytest.mark.parametrize("kind", sorted(DEFECTS))
def test_each_defect_is_caught_by_its_rule(
    defect_run: tuple[QCResult, dict[str, str]], kind: str
) -> None:
    result, labels = defect_run
    (eid,) = [e for e, k in labels.items() if k == kind]
    ep = result.episode(eid)
    expected = DEFECTS[kind]
    hits = [f for f in ep.findings if f.rule == expected.rule]
    assert hits, f"{kind}: {expected.rule} did not fire; findings: {ep.findings}"
    worst = max(SEVERITY[f.severity] for f in hits)
    assert worst >= SEVERITY[expected.severity], (kind, hits)
    assert ep.auto_verdict == ("FAIL" if any(f.severity == "fail" for f in ep.findings) else "WARN")
    for f in ep.findings:
        assert f.episode_id == eid and f.message and f.rule in RULES
        assert f.unit == RULES[f.rule].unit
        if f.frame_start is not None:
            assert f.frame_end is not None
            assert 0 <= f.frame_start < f.frame_end <= ep.frame_count, f
    # graded rules say what they measured and the threshold it crossed
    for f in hits:
        if "warn" in RULES[f.rule].params.model_fields:
            assert f.measured is not None and f.threshold is not None
            assert f.measured > f.threshold or (
                f.measured < f.threshold
                and f.rule.startswith(("episode.duration", "batch.duration"))
            )


def test_clean_episodes_of_the_defect_batch_pass(
    defect_run: tuple[QCResult, dict[str, str]],
) -> None:
    result, labels = defect_run
    clean = [ep for ep in result.episodes if ep.episode_id not in labels]
    assert len(clean) == 10
    for ep in clean:
        assert ep.findings == [], ep.findings
        assert ep.auto_verdict == "PASS"
    # failed episodes are kept and labelled, never dropped
    assert len(result.episodes) == 10 + len(DEFECTS)
    assert result.counts()["FAIL"] == sum(1 for d in DEFECTS.values() if d.severity == "fail")


def test_defects_pinpoint_the_frames(defect_run: tuple[QCResult, dict[str, str]]) -> None:
    result, labels = defect_run
    by_kind = {k: result.episode(e) for e, k in labels.items()}
    nan = next(f for f in by_kind["nan"].findings if f.rule == "numeric.finite")
    n = by_kind["nan"].frame_count
    assert (nan.frame_start, nan.frame_end, nan.measured) == (n // 2, n // 2 + 3, 3)
    gap = next(f for f in by_kind["long_gap"].findings if f.rule == "timing.gap")
    assert gap.measured == pytest.approx(11 * 1000 / 30, abs=2)  # 10 frames missing
    assert gap.frame_end - gap.frame_start == 2
    head = next(f for f in by_kind["idle_head"].findings if f.rule == "motion.idle_ends")
    assert head.subject == "start" and head.frame_start == 0
    assert 2.0 < head.measured <= 3.1  # 3 s of standing still were inserted
    tail = next(f for f in by_kind["idle_tail"].findings if f.rule == "motion.idle_ends")
    assert tail.subject == "end" and tail.frame_end == by_kind["idle_tail"].frame_count
    short = next(f for f in by_kind["too_short"].findings if f.rule == "episode.duration")
    assert (short.severity, short.threshold) == ("warn", 3.0) and short.measured < 3.0
    dup = next(f for f in by_kind["duplicate"].findings if f.rule == "batch.duplicate")
    assert dup.subject is not None and "exact" in dup.message
    near = next(f for f in by_kind["near_duplicate"].findings if f.rule == "batch.duplicate")
    assert "near" in near.message and near.measured < 0.005
    # spike messages carry the joint's unit
    acc = next(
        f for f in by_kind["acceleration_spike"].findings if f.rule == "numeric.acceleration"
    )
    assert " rad/s² around frame" in acc.message, acc.message
    jump = next(f for f in by_kind["jump"].findings if f.rule == "numeric.jump")
    assert " rad between frames" in jump.message, jump.message


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("qc") / "clean"
    meta = synth_meta(image_size=32, depth=True)
    synth_dataset(root, 24, seed=21, meta=meta)  # default 8-20 s episodes, 3 colour + depth
    return root


def test_clean_synthetic_data_raises_nothing(clean_dataset: Path) -> None:
    for images in ("sample", "all"):
        result = run_qc(clean_dataset, images=images)  # type: ignore[arg-type]
        assert result.findings == [], [(f.rule, f.message) for f in result.findings]
        assert result.counts() == {"PASS": 24, "WARN": 0, "FAIL": 0}
    # the metrics are computed for every episode and look like real teleoperation
    ep = result.episodes[0]
    for name in ("rate_fps", "jerk_p95", "idle_fraction", "tracking_p95", "sync_p95_ms"):
        assert np.isfinite(ep.metrics[name]), name
    assert 29.9 < ep.metrics["rate_fps"] < 30.1


def test_clean_data_at_other_lengths_and_seeds(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    episodes = [
        *synth_episodes(meta, 10, seed=31, duration_s=(3.5, 6.0)),
        *synth_episodes(meta, 6, seed=32, duration_s=(30.0, 45.0), first_index=10),
        # long takes: an operator keeps moving, so no idle start or end (motion.idle_ends)
        *synth_episodes(meta, 6, seed=33, duration_s=(45.0, 60.0), first_index=16),
    ]
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for ep in episodes:
            w.add_episode(ep)
    result = run_qc(tmp_path / "ds")
    assert result.findings == [], [(f.rule, f.message) for f in result.findings]
    # a batch of takes of several minutes (among short ones they are rightly outliers)
    with DatasetWriter(tmp_path / "long", meta) as w:
        for ep in synth_episodes(meta, 4, seed=34, duration_s=(150.0, 280.0)):
            w.add_episode(ep)
    result = run_qc(tmp_path / "long")
    assert result.findings == [], [(f.rule, f.message) for f in result.findings]


def test_all_frames_mode_finds_what_sampling_misses(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    eps = list(synth_episodes(meta, 2, seed=3, duration_s=(6, 6)))
    frames = list(eps[1].images["head"])
    frames[7] = frames[7][:30]  # one undecodable frame between the sampled ones
    eps[1].images = {"head": frames}  # type: ignore[misc]
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for ep in eps:
            w.add_episode(ep)
    sampled = run_qc(tmp_path / "ds")
    assert not any(f.rule == "images.decodable" for f in sampled.findings)
    full = run_qc(tmp_path / "ds", images="all")
    (hit,) = [f for f in full.findings if f.rule == "images.decodable"]
    assert hit.episode_id == eps[1].meta.episode_id and hit.frame_start == 7
    none = run_qc(tmp_path / "ds", images="none")
    assert not any(f.rule.startswith("images.") for f in none.findings)


def test_missing_calibration_is_a_dataset_note_not_a_warn(tmp_path: Path) -> None:
    meta = strip_calibration(synth_meta(image_size=32, cameras=("head", "hand_left")), ["head"])
    synth_dataset(tmp_path / "ds", 3, seed=2, meta=meta, duration_s=(6, 7))
    result = run_qc(tmp_path / "ds")
    assert result.counts() == {"PASS": 3, "WARN": 0, "FAIL": 0}
    (note,) = [n for n in result.notes if n.rule == "integrity.calibration"]
    assert "head (intrinsics)" in note.message and "hand_left" not in note.message
    # a contract that requires calibration still gets it on every episode
    strict = default_profile().with_overrides({"integrity.calibration.severity": "warn"})
    result = run_qc(tmp_path / "ds", strict)
    for ep in result.episodes:
        assert [(f.rule, f.severity, f.subject) for f in ep.findings] == [
            ("integrity.calibration", "warn", "head")
        ]
    assert not [n for n in result.notes if n.rule == "integrity.calibration"]


def test_unreadable_shard_fails_its_episodes_and_keeps_the_others(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    with DatasetWriter(tmp_path / "ds", meta, shard_bytes=200_000) as w:
        for ep in synth_episodes(meta, 6, seed=4, duration_s=(6, 7)):
            w.add_episode(ep)
    ds = open_dataset(tmp_path / "ds")
    assert len(ds.shard_names) >= 2
    damaged = corrupt_shard(tmp_path / "ds")
    in_damaged = set(ds.select(shard=damaged.relative_to(tmp_path / "ds").as_posix()).episode_ids)
    result = run_qc(tmp_path / "ds")
    assert len(result.episodes) == 6
    for ep in result.episodes:
        if ep.episode_id in in_damaged:
            assert [f.rule for f in ep.findings] == ["integrity.readable"]
            assert ep.auto_verdict == "FAIL"
        else:
            assert ep.findings == []


def test_hash_verification_is_a_profile_switch(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    synth_dataset(tmp_path / "ds", 2, seed=5, meta=meta, duration_s=(6, 6))
    shard = next((tmp_path / "ds" / "data").glob("shard-*.arrow"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside an image: still parses, hash no longer matches
    shard.write_bytes(bytes(data))
    assert not any(f.rule == "integrity.readable" for f in run_qc(tmp_path / "ds").findings)
    strict = default_profile().with_overrides({"integrity.readable.verify_hashes": True})
    hits = [f for f in run_qc(tmp_path / "ds", strict).findings if f.rule == "integrity.readable"]
    assert len(hits) == 2 and "sha256" in hits[0].message


def _rewrite_shard(root: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the dataset's only shard through ``change`` and fix the manifest to match,
    as a buggy producer would publish it."""
    ds = open_dataset(root)
    (name,) = ds.shard_names
    table = change(ds.shard_table(name))
    del ds
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    data = sink.getvalue().to_pybytes()
    (root / name).write_bytes(data)
    manifest = Manifest.model_validate_json((root / MANIFEST_FILE).read_bytes())
    import hashlib

    files = [
        f.model_copy(update={"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        if f.path == name
        else f
        for f in manifest.files
    ]
    fixed = Manifest(files=files, digest=dataset_digest(files))
    (root / MANIFEST_FILE).write_text(fixed.model_dump_json())


def test_schema_and_bookkeeping_errors_fail(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    synth_dataset(tmp_path / "ds", 2, seed=6, meta=meta, duration_s=(6, 6))

    def shuffle_frame_index(t: pa.Table) -> pa.Table:
        fi = t.column("frame_index").to_numpy().copy()
        fi[5], fi[6] = fi[6], fi[5]
        return t.set_column(t.schema.get_field_index("frame_index"), "frame_index", pa.array(fi))

    _rewrite_shard(tmp_path / "ds", shuffle_frame_index)
    result = run_qc(tmp_path / "ds")
    first = result.episodes[0]
    (hit,) = [f for f in first.findings if f.rule == "integrity.schema"]
    assert (hit.frame_start, hit.frame_end, hit.measured) == (5, 7, 2)
    assert result.episodes[1].findings == []

    def drop_camera_times(t: pa.Table) -> pa.Table:
        return t.drop_columns(["image.head.timestamp_ns"])

    _rewrite_shard(tmp_path / "ds", drop_camera_times)
    result = run_qc(tmp_path / "ds")
    for ep in result.episodes:
        assert [f.rule for f in ep.findings] == ["integrity.schema"]
        assert "image.head.timestamp_ns is missing" in ep.findings[0].message


def test_required_streams_and_known_ids(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    ds = synth_dataset(tmp_path / "ds", 2, seed=7, meta=meta, duration_s=(6, 6))
    strict = default_profile().with_overrides({"integrity.streams.min_color_cameras": 3})
    result = run_qc(ds, strict)
    assert all(
        [f.rule for f in ep.findings] == ["integrity.streams"] and ep.auto_verdict == "FAIL"
        for ep in result.episodes
    )
    earlier = [ds.episode_ids[0], "somebody-else:1"]
    result = run_qc(ds, known_episode_ids=earlier)
    (hit,) = result.findings
    assert (hit.rule, hit.episode_id, hit.severity) == ("episode.unique_id", earlier[0], "fail")


def test_thresholds_come_from_the_profile(defect_run: tuple[QCResult, dict[str, str]]) -> None:
    result, labels = defect_run
    eid = next(e for e, k in labels.items() if k == "sync_offset")
    f = next(f for f in result.episode(eid).findings if f.rule == "timing.sync")
    assert f.threshold == default_profile().rules["timing.sync"]["fail"]


def test_inject_keeps_the_source_intact_and_is_deterministic() -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    (ep,) = synth_episodes(meta, 1, seed=9, duration_s=(6, 6))
    before = ep.features["state"].copy()
    a = inject(ep, "jump", meta, seed=3)
    b = inject(ep, "jump", meta, seed=3)
    assert np.array_equal(ep.features["state"], before)
    assert np.array_equal(a.features["state"], b.features["state"])
    assert not np.array_equal(a.features["state"], before)
    with pytest.raises(KeyError, match="unknown defect"):
        inject(ep, "gremlins", meta)
    episodes, labels = defective_batch(meta, clean=2, kinds=["nan", "duplicate"], seed=1)
    assert len(episodes) == 4 and sorted(labels.values()) == ["duplicate", "nan"]


def test_import_repairs_become_findings_with_their_frames(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    eps = list(synth_episodes(meta, 2, seed=6, duration_s=(6, 7)))
    record_repair(eps[1].meta.extra, "segment_clipped", "segment 2 clipped", (120, 180))
    record_repair(eps[1].meta.extra, "camera_padded", "camera head padded")
    with DatasetWriter(tmp_path / "ds", meta) as w:
        for ep in eps:
            w.add_episode(ep)
    result = run_qc(tmp_path / "ds", images="none")
    assert result.episode(eps[0].meta.episode_id).findings == []
    found = result.episode(eps[1].meta.episode_id).findings
    assert [(f.rule, f.subject, f.frame_start, f.frame_end) for f in found] == [
        ("episode.import_repairs", "camera_padded", None, None),
        ("episode.import_repairs", "segment_clipped", 120, 180),
    ]
    assert all(f.severity == "warn" and "repaired" in f.message for f in found)


def test_stream_rate_and_gap_of_streams_at_their_own_rate(tmp_path: Path) -> None:
    meta = synth_meta(cameras=(), imu_hz=200.0)
    eps = list(synth_episodes(meta, 4, seed=2, duration_s=(3.0, 3.5)))

    def with_imu(ep: Episode, ts: np.ndarray, keep: np.ndarray) -> Episode:
        _, values = ep.streams["imu"]
        streams = {"imu": (ts[keep], {k: v[keep] for k, v in values.items()})}
        return Episode(ep.meta, ep.timestamp_ns, ep.features, streams=streams)

    ts1, _ = eps[1].streams["imu"]
    gap = np.ones(len(ts1), bool)
    gap[200:260] = False  # 300 ms without a sample in the middle
    ts2, _ = eps[2].streams["imu"]
    every_other = np.arange(len(ts2)) % 2 == 0  # the IMU ran at 100 Hz, declared 200
    with DatasetWriter(tmp_path / "ds", meta) as w:
        w.add_episode(eps[0])
        w.add_episode(with_imu(eps[1], ts1, gap))
        w.add_episode(with_imu(eps[2], ts2, every_other))
        w.add_episode(Episode(eps[3].meta, eps[3].timestamp_ns, eps[3].features))  # no IMU
    result = run_qc(tmp_path / "ds", images="none")

    def findings(i: int, rule: str) -> list[object]:
        return [f for f in result.episode(eps[i].meta.episode_id).findings if f.rule == rule]

    assert not findings(0, "timing.stream_rate") and not findings(0, "timing.stream_gap")
    (g,) = findings(1, "timing.stream_gap")
    assert g.severity == "fail" and g.subject == "imu" and 300 <= g.measured <= 310  # type: ignore[attr-defined]
    # the frames the gap spans in frame time (30 fps: about 9 frames)
    assert 8 <= g.frame_end - g.frame_start <= 12  # type: ignore[attr-defined]
    (r,) = findings(2, "timing.stream_rate")
    assert r.severity == "fail" and abs(r.measured - 0.5) < 0.01  # type: ignore[attr-defined]
    (none,) = findings(3, "timing.stream_rate")
    assert none.measured == 1.0 and "0 samples" in none.message  # type: ignore[attr-defined]


def test_every_rule_is_tested_with_an_injected_defect() -> None:
    # rules whose defect is not an episode-level kind have their own test above
    own_tests = {
        "integrity.readable": test_unreadable_shard_fails_its_episodes_and_keeps_the_others,
        "integrity.schema": test_schema_and_bookkeeping_errors_fail,
        "integrity.calibration": test_missing_calibration_is_a_dataset_note_not_a_warn,
        "episode.unique_id": test_required_streams_and_known_ids,
        "episode.duration": test_defects_pinpoint_the_frames,  # the too_short episode
        "episode.import_repairs": test_import_repairs_become_findings_with_their_frames,
        "timing.stream_rate": test_stream_rate_and_gap_of_streams_at_their_own_rate,
        "timing.stream_gap": test_stream_rate_and_gap_of_streams_at_their_own_rate,
        # real faces left in an anonymised dataset (needs the privacy extra)
        "privacy.faces": "test_privacy_faces.py::test_qc_privacy_faces_finds_residual_faces",
    }
    assert {d.rule for d in DEFECTS.values()} | set(own_tests) == set(RULES)
