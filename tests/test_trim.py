"""Trimming episodes into a new dataset: exact slices, segments, statistics, QC's suggested
trims, provenance, and the inputs it refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_meta
from embodex.errors import DatasetExistsError, QCManifestError, TrimError
from embodex.format import Cut, DatasetWriter, Segment, open_dataset, trim_episodes
from embodex.format.reader import compute_dataset_stats
from embodex.format.stats import episode_feature_stats
from embodex.format.trim import collect_cuts
from embodex.market import build_sample_pack
from embodex.market.provenance import processing_steps
from embodex.qc import load_findings, run_qc, suggested_trims, trim_dataset, write_qc
from embodex.trust import generate_key, load_signer

from .test_cli_format import run

IDLE = ("idle_head", "idle_tail")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Two clean episodes and one idle at its start, one idle at its end; two colour cameras
    and a depth camera; QC run. Tests never change it (they copy it first)."""
    root = tmp_path_factory.mktemp("trim") / "src"
    meta = synth_meta(image_size=32, cameras=("head", "hand_left"), depth=True)
    _, labels = write_defective_dataset(
        root, meta=meta, clean=2, kinds=IDLE, seed=3, duration_s=(3.0, 4.0)
    )
    write_qc(root, run_qc(root))
    return root, {kind: eid for eid, kind in labels.items()}


def _idle_ends(root: Path) -> set[str]:
    findings = load_findings(root).to_pylist()
    return {f["episode_id"] for f in findings if f["rule"] == "motion.idle_ends"}


def test_trimmed_episode_is_the_exact_source_slice(batch: tuple[Path, dict[str, str]],
                                                   tmp_path: Path) -> None:  # fmt: skip
    root, _ = batch
    src = open_dataset(root)
    before = (root / "manifest.json").read_bytes()
    clean = src.episode_ids[0]
    # the clean episode's segments are reach, grasp, lift, hold: keep mid-grasp to mid-lift
    segs = src.episode(clean).meta.segments
    a, b = segs[1].start_frame + 6, segs[2].start_frame + 12
    out = trim_episodes(root, tmp_path / "out", {clean: (a, b)})
    ds = out.dataset
    assert ds.verify().ok and ds.episode_ids == src.episode_ids
    assert ds.meta == src.meta  # licence, provenance, cameras, features carried over
    old, new = src.episode(clean), ds.episode(clean)
    assert new.frame_count == b - a
    np.testing.assert_array_equal(new.timestamp_ns, old.timestamp_ns[a:b])  # capture times
    for name in src.meta.features:
        np.testing.assert_array_equal(new.feature(name), old.feature(name)[a:b])
    for cam in src.meta.cameras:
        assert new.images(cam.name).all_encoded() == old.images(cam.name).all_encoded()[a:b]
        np.testing.assert_array_equal(
            new.image_timestamps_ns(cam.name), old.image_timestamps_ns(cam.name)[a:b]
        )
    assert new.meta.segments == [
        Segment(start_frame=0, end_frame=segs[1].end_frame - a, skill="grasp",
                text=segs[1].text),
        Segment(start_frame=segs[2].start_frame - a, end_frame=b - a, skill="lift",
                text=segs[2].text),
    ]  # fmt: skip
    row = new.row
    assert row["start_time_ns"] == int(old.timestamp_ns[a])
    assert row["end_time_ns"] == int(old.timestamp_ns[b - 1])
    assert row["duration_s"] == pytest.approx(
        (int(old.timestamp_ns[b - 1]) - int(old.timestamp_ns[a])) / 1e9 + 1 / src.meta.fps
    )
    for name in src.meta.features:
        assert row["stats"][name] == episode_feature_stats(old.feature(name)[a:b])
    assert ds.stats == compute_dataset_stats(ds.meta, ds.episodes)
    assert ds.stats.frames == src.num_frames - (old.frame_count - (b - a))
    trim = new.meta.extra["trim"]
    assert trim == {"original_frames": old.frame_count, "kept": [a, b], "reason": "manual",
                    "tool": trim["tool"]}  # fmt: skip
    assert trim["tool"].startswith("embodex ")
    assert {k: v for k, v in new.meta.extra.items() if k != "trim"} == old.meta.extra
    # the other episodes are copied as they were
    for eid in src.episode_ids[1:]:
        assert ds.episode(eid).meta == src.episode(eid).meta
        assert ds.episode(eid).row["stats"] == src.episode(eid).row["stats"]
        assert ds.episode(eid).images("head").all_encoded() == (
            src.episode(eid).images("head").all_encoded()
        )
    assert out.trimmed.keys() == {clean} and out.frames_after == ds.num_frames
    # the source is untouched
    assert (root / "manifest.json").read_bytes() == before
    assert open_dataset(root).verify().ok


def test_suggested_trims_remove_the_idle_ends(batch: tuple[Path, dict[str, str]],
                                              tmp_path: Path) -> None:  # fmt: skip
    root, by_kind = batch
    assert _idle_ends(root) == set(by_kind.values())
    cuts = suggested_trims(root)
    src = open_dataset(root)
    head, tail = by_kind["idle_head"], by_kind["idle_tail"]
    assert set(cuts) == {head, tail}
    assert cuts[head].start > 60 and cuts[head].end == src.episode(head).frame_count
    assert cuts[tail].start == 0 and cuts[tail].end < src.episode(tail).frame_count - 60
    assert {c.reason for c in cuts.values()} == {"idle_ends"}
    trimmed = trim_dataset(root, tmp_path / "out", suggested=True)
    assert trimmed is not None
    out = trimmed.dataset
    assert out.verify().ok and len(out) == len(src)
    assert out.episode(head).meta.extra["trim"]["kept"] == [cuts[head].start, cuts[head].end]
    # the source's QC results are not carried over: they describe the source
    assert not (out.root / "qc").exists()
    write_qc(out.root, run_qc(out.root))
    assert _idle_ends(out.root) == set()


def test_provenance_of_a_sample_pack_shows_the_trim(batch: tuple[Path, dict[str, str]],
                                                    tmp_path: Path) -> None:  # fmt: skip
    root, by_kind = batch
    result = trim_dataset(root, tmp_path / "trimmed", suggested=True)
    assert result is not None and result.trimmed.keys() == set(by_kind.values())
    write_qc(result.dataset.root, run_qc(result.dataset.root))
    generate_key("hubei-centre", "centre")
    pack = build_sample_pack(result.dataset.root, tmp_path / "sample", load_signer("hubei-centre"))
    steps = pack.provenance.statement("processing").processing or []
    assert [s.step for s in steps] == ["synthesise", "trim", "package"]
    trim = steps[1]
    assert trim.episodes == 2 and trim.details["reasons"] == "idle_ends"
    kept = trim.details["kept"]
    for eid, rec in result.trimmed.items():
        assert f"{eid} [{rec.kept[0]}, {rec.kept[1]}) of {rec.original_frames}" in kept
    assert trim.details["frames_removed"] == str(sum(r.removed for r in result.trimmed.values()))
    assert trim.tool.startswith("embodex ")


def test_trimming_again_counts_frames_of_the_original(batch: tuple[Path, dict[str, str]],
                                                      tmp_path: Path) -> None:  # fmt: skip
    root, by_kind = batch
    head = by_kind["idle_head"]
    first = trim_dataset(root, tmp_path / "t1", suggested=True)
    assert first is not None
    k = first.trimmed[head].kept[0]
    n = open_dataset(root).episode(head).frame_count
    second = trim_episodes(first.dataset, tmp_path / "t2", {head: Cut(10, 50)})
    assert second.dataset.episode(head).meta.extra["trim"]["kept"] == [k + 10, k + 50]
    rec = second.trimmed[head]
    assert rec.original_frames == n and rec.reason == "idle_ends+manual"
    np.testing.assert_array_equal(
        second.dataset.episode(head).timestamp_ns,
        open_dataset(root).episode(head).timestamp_ns[k + 10 : k + 50],
    )
    # another tool's record is kept beside ours
    copy = tmp_path / "foreign"
    shutil.copytree(root, copy)
    eid = open_dataset(copy).episode_ids[0]
    with DatasetWriter(copy, append=True) as w:
        w.update_episodes({eid: {"extra": {"trim": {"head": 5, "tail": 3}}}})
    third = trim_episodes(copy, tmp_path / "t3", {eid: (0, 40)})
    assert third.trimmed[eid].previous == {"head": 5, "tail": 3}
    with DatasetWriter(copy, append=True) as w:  # in any JSON form
        w.update_episodes({eid: {"extra": {"trim": [5, 100]}}})
    fourth = trim_episodes(copy, tmp_path / "t4", {eid: (10, 50)})
    assert fourth.trimmed[eid].previous == [5, 100]
    assert fourth.dataset.episode(eid).meta.extra["trim"]["previous"] == [5, 100]
    steps = processing_steps(third.dataset)
    assert steps[1].step == "trim" and f"{eid} [0, 40)" in steps[1].details["kept"]
    # ...and the dataset changed, so QC's suggestions no longer apply to it
    with pytest.raises(QCManifestError, match="stale"):
        suggested_trims(copy)


def test_bad_cuts_are_refused_before_anything_is_written(
    batch: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, by_kind = batch
    src = open_dataset(root)
    eid = src.episode_ids[0]
    n = src.episode(eid).frame_count
    out = tmp_path / "out"
    cases = [
        ({"nope": (0, 5)}, "episode nope is not in"),
        ({eid: (5, 5)}, "keep no frame"),
        ({eid: (9, 3)}, "keep no frame"),
        ({eid: (0, n + 1)}, f"out of range \\(it has {n} frames"),
        ({eid: (n, None)}, "keep no frame"),
    ]
    for cuts, message in cases:
        with pytest.raises(TrimError, match=message):
            trim_episodes(root, out, cuts)
        assert not (out / "embodex.json").exists()
    with pytest.raises(TrimError, match="two kept ranges"):
        collect_cuts([(eid, "0:10"), (eid, "20:30")])
    with pytest.raises(TrimError, match="not a frame range"):
        collect_cuts([(eid, "0-10")])
    with pytest.raises(TrimError, match="both a suggested trim"):
        trim_dataset(root, out, frames=[(by_kind["idle_head"], "0:20")], suggested=True)
    with pytest.raises(TrimError, match="nothing to trim"):
        trim_dataset(root, out)
    assert not (out / "embodex.json").exists()
    # a dataset without QC results has no suggestions to offer
    bare = tmp_path / "bare"
    trim_episodes(root, bare, {eid: (0, 10)})
    with pytest.raises(QCManifestError, match="no QC manifest"):
        trim_dataset(bare, out, suggested=True)
    # an existing dataset is never written over, the source least of all
    with pytest.raises(DatasetExistsError, match="already holds a dataset"):
        trim_episodes(root, bare, {eid: (0, 10)})
    with pytest.raises(DatasetExistsError):
        trim_episodes(root, root, {eid: (0, 10)})
    assert open_dataset(root).digest == src.digest
    # a range covering the whole episode changes nothing
    whole = trim_episodes(root, tmp_path / "whole", {eid: (0, None)})
    assert whole.trimmed == {} and whole.dataset.digest == src.digest


def test_trim_command(batch: tuple[Path, dict[str, str]], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    root, by_kind = batch
    head = by_kind["idle_head"]
    code, out, _ = run(["trim", str(root), str(tmp_path / "a"), "--suggested", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert set(doc["trimmed"]) == set(by_kind.values()) and doc["episodes"] == 4
    assert doc["frames_after"] == open_dataset(tmp_path / "a").num_frames < doc["frames_before"]
    assert doc["trimmed"][head]["reason"] == "idle_ends"
    code, out, _ = run(
        ["trim", str(root), str(tmp_path / "b"), "--episode", head, "--frames", "100:",
         "--episode", by_kind["idle_tail"], "--frames", "0:50"], capsys,
    )  # fmt: skip
    assert code == 0 and "2 episodes trimmed" in out and head in out and "manual" in out
    assert open_dataset(tmp_path / "b").episode(head).meta.extra["trim"]["kept"][0] == 100
    code, _, err = run(["trim", str(root), str(tmp_path / "c"), "--episode", head], capsys)
    assert code == 2 and "one --frames" in err
    code, _, err = run(["trim", str(root), str(tmp_path / "c"), "--episode", head,
                        "--frames", "0:99999"], capsys)  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "out of range" in err
    code, _, err = run(["trim", str(root), str(tmp_path / "c"), "--episode", head,
                        "--frames", "a:b"], capsys)  # fmt: skip
    assert code == 2 and "not a frame range" in err
    code, _, err = run(["trim", str(root), str(tmp_path / "a"), "--suggested"], capsys)
    assert code == 1 and "already holds a dataset" in err


def test_suggested_trim_of_clean_data_is_an_answer_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Clean data (no motion.idle_ends finding): exit 0, "nothing to trim", nothing written,
    so a `set -e` script goes on; neither --suggested nor a range is a usage error (exit 2)."""
    from embodex.demo.synth import synth_dataset

    root = tmp_path / "clean"
    synth_dataset(root, 2, seed=3, meta=synth_meta(image_size=16), duration_s=(4.0, 5.0))
    write_qc(root, run_qc(root))
    assert suggested_trims(open_dataset(root)) == {}
    assert trim_dataset(root, tmp_path / "t", suggested=True) is None
    code, out, err = run(["trim", str(root), str(tmp_path / "t"), "--suggested"], capsys)
    assert code == 0 and out.startswith("nothing to trim in ") and "not written" in out, err
    code, out, _ = run(["trim", str(root), str(tmp_path / "t"), "--suggested", "--json"], capsys)
    assert code == 0 and json.loads(out) == {"source": str(root), "dataset": None, "trimmed": {}}
    assert not (tmp_path / "t").exists()
    code, _, err = run(["trim", str(root), str(tmp_path / "t")], capsys)
    assert code == 2 and "give --suggested, or --episode" in err  # a usage error
