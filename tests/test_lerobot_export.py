"""embodex → LeRobot v3.0 → embodex, in the main venv (no LeRobot needed).

The proof with LeRobot's own loader is tests/test_lerobot_real.py; these tests check the
files we write and that importing them back gives the source again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import ConfigError, DatasetExistsError, ImportSourceError, InteropError
from embodex.format import Dataset, open_dataset
from embodex.format.exporters import export_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.format.importers import import_recordings
from embodex.format.importers.lerobot import import_lerobot
from embodex_cli.main import cli, main

from .conftest import SHORT


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    meta = synth_meta(image_size=32, cameras=("head", "hand_left"), depth=True)
    root = tmp_path_factory.mktemp("lr") / "src"
    return synth_dataset(root, 4, seed=3, meta=meta, duration_s=SHORT)


@pytest.fixture(scope="module")
def exported(source: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lr-out") / "lerobot"
    report = export_lerobot(source, out)
    assert report.episodes == 4 and report.frames == source.num_frames
    assert any("head_depth" in n for n in report.notes)
    return out


def test_layout_is_lerobot_v3(exported: Path, source: Dataset) -> None:
    info = json.loads((exported / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 4 and info["total_frames"] == source.num_frames
    assert info["fps"] == 30 and info["video_path"] is None
    feats = info["features"]
    assert feats["observation.state"]["names"] == source.meta.embodiments[0].joint_names
    assert feats["observation.images.head"] == {
        "dtype": "image",
        "shape": [32, 32, 3],
        "names": ["height", "width", "channels"],
    }
    assert "observation.images.head_depth" not in feats
    assert list(feats)[-5:] == ["timestamp", "frame_index", "episode_index", "index", "task_index"]
    assert info["embodex"]["licence"] == source.meta.licence
    assert info["embodex"]["source_digest"] == source.digest
    data = pq.read_table(exported / "data/chunk-000/file-000.parquet")
    assert data.num_rows == source.num_frames
    assert data.column("index").to_pylist() == list(range(source.num_frames))
    eps = pq.read_table(exported / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    for pos, (row, view) in enumerate(zip(eps, source, strict=True)):
        assert row["episode_index"] == pos
        assert row["embodex/episode_id"] == view.episode_id
        assert row["embodex/scene_type"] == view.meta.scene_type
        assert row["embodex/operator_id"] == view.meta.operator_id
        assert row["embodex/success"] == view.meta.success
        assert len(row["embodex/segments"]) == len(view.meta.segments)
        assert row["tasks"] == [view.meta.instruction_en]
        assert row["dataset_to_index"] - row["dataset_from_index"] == view.frame_count
    stats = json.loads((exported / "meta/stats.json").read_text())
    state = np.concatenate([v.feature("state") for v in source])
    assert np.allclose(stats["observation.state"]["min"], state.min(axis=0))
    assert np.allclose(stats["observation.state"]["mean"], state.mean(axis=0), atol=1e-6)
    assert np.asarray(stats["observation.images.head"]["mean"]).shape == (3, 1, 1)
    assert stats["index"]["count"] == [source.num_frames]
    card = (exported / "README.md").read_text()
    assert "license: cc-by-nc-4.0" in card and "LeRobot" in card


def test_round_trip_keeps_everything(exported: Path, source: Dataset, tmp_path: Path) -> None:
    report = import_lerobot(exported, tmp_path / "back")
    back = open_dataset(tmp_path / "back")
    assert report.episodes == 4 and back.verify().ok
    assert [c.name for c in back.meta.cameras] == ["head", "hand_left"]  # depth left out
    assert back.meta.licence == source.meta.licence
    assert back.meta.embodiments == source.meta.embodiments
    for a, b in zip(source, back, strict=True):
        assert a.meta == b.meta  # ids, scene, operator, segments, success, extra
        np.testing.assert_array_equal(a.timestamp_ns, b.timestamp_ns)
        np.testing.assert_array_equal(a.feature("state"), b.feature("state"))
        np.testing.assert_array_equal(a.feature("action"), b.feature("action"))
        for cam in ("head", "hand_left"):
            assert a.images(cam).all_encoded() == b.images(cam).all_encoded()
            np.testing.assert_array_equal(a.image_timestamps_ns(cam), b.image_timestamps_ns(cam))


@pytest.mark.parametrize("codec", ["av1", "h264"])
def test_video_round_trip(source: Dataset, tmp_path: Path, codec: str) -> None:
    view = source.select(episode_ids=source.episode_ids[:2])
    out = tmp_path / "lr-video"
    export_lerobot(view, out, video=True, video_codec=codec)
    info = json.loads((out / "meta/info.json").read_text())
    head = info["features"]["observation.images.head"]
    assert head["dtype"] == "video" and head["info"]["video.codec"] == codec
    assert (out / "videos/observation.images.head/chunk-000/file-000.mp4").is_file()
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert "observation.images.head" not in data.column_names
    eps = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert eps[0]["videos/observation.images.head/from_timestamp"] == 0.0
    second_start = eps[1]["videos/observation.images.head/from_timestamp"]
    assert second_start == pytest.approx(eps[0]["length"] / 30)
    import_lerobot(out, tmp_path / "back")
    back = open_dataset(tmp_path / "back")
    for a, b in zip(view, back, strict=True):
        assert a.meta == b.meta
        src = np.stack(a.images("head")[:]).astype(np.int16)
        got = np.stack(b.images("head")[:]).astype(np.int16)
        assert src.shape == got.shape  # one decoded frame per frame, none lost or repeated
        assert np.abs(src - got).mean() < 8  # lossy, but the same pictures
        # each frame is closer to its own source frame than to its neighbour's
        assert np.abs(src[1:] - got[1:]).mean() < np.abs(src[:-1] - got[1:]).mean()
    video = out / "videos/observation.images.head/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:300])  # truncated download
    with pytest.raises(ImportSourceError, match="no episode could be imported"):
        import_lerobot(out, tmp_path / "broken", skip_bad=True)
    with pytest.raises(ImportSourceError, match=r"cannot decode video|video span holds"):
        import_lerobot(out, tmp_path / "broken2")


def _as_plain_lerobot(exported: Path, dest: Path) -> Path:
    """A copy without anything embodex adds, as if LeRobot itself had written it."""
    shutil.copytree(exported, dest)
    shutil.rmtree(dest / "meta/embodex")
    (dest / "README.md").unlink()
    info = json.loads((dest / "meta/info.json").read_text())
    del info["embodex"]
    info["features"] = {k: v for k, v in info["features"].items() if not k.startswith("embodex")}
    (dest / "meta/info.json").write_text(json.dumps(info))
    for part, prefix in (("data", "embodex."), ("meta/episodes", "embodex/")):
        path = dest / part / "chunk-000/file-000.parquet"
        table = pq.read_table(path)
        keep = [c for c in table.column_names if not c.startswith(prefix)]
        pq.write_table(table.select(keep), path)
    return dest


def test_lerobot_without_embodex_metadata_keeps_real_times(
    exported: Path, source: Dataset, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(exported, partial)
    shutil.rmtree(partial / "meta/embodex")  # the real-time columns are still there
    import_lerobot(partial, tmp_path / "back")
    back = open_dataset(tmp_path / "back")
    assert back.meta.licence == "cc-by-nc-4.0"  # from the README card
    for a, b in zip(source, back, strict=True):
        np.testing.assert_array_equal(a.timestamp_ns, b.timestamp_ns)
        assert not b.meta.timestamps_synthesized
        assert b.meta.instruction_en == a.meta.instruction_en


def test_foreign_dataset_gets_synthesised_times_and_sidecar(exported: Path, tmp_path: Path) -> None:
    foreign = _as_plain_lerobot(exported, tmp_path / "foreign")
    with pytest.raises(ConfigError, match="no licence"):
        import_lerobot(foreign, tmp_path / "nolicence")
    assert not (tmp_path / "nolicence").exists()
    sidecar = {
        "licence": "MIT",
        "start_time_ns": 5_000_000_000,
        "provenance": {"centre_id": "lab", "centre_name": "A Lab"},
        "robot": {"units": "rad"},
        "episodes": {"1": {"success": False, "scene": {"scene_type": "kitchen"}}},
    }
    report = import_lerobot(foreign, tmp_path / "back", sidecar=sidecar)
    assert any("synthesised" in n for n in report.notes)
    back = open_dataset(tmp_path / "back")
    assert back.meta.licence == "MIT" and back.meta.embodiments[0].units[0] == "rad"
    first, second = back.episode(0), back.episode(1)
    assert first.episode_id == "lab:lerobot-0"
    assert first.meta.timestamps_synthesized
    assert first.timestamp_ns[0] == 5_000_000_000
    expected = 5_000_000_000 + np.rint(np.arange(first.frame_count) * 1e9 / 30).astype(np.int64)
    np.testing.assert_array_equal(first.timestamp_ns, expected)  # frame_index / fps, exactly
    assert second.timestamp_ns[0] > first.timestamp_ns[-1]  # episodes follow each other
    assert second.meta.success is False and second.meta.scene_type == "kitchen"
    assert first.meta.instruction_en  # the LeRobot task
    assert [s.skill for s in first.meta.segments]  # from LeRobot subtasks
    assert "state" in back.meta.features and back.meta.features["state"].role == "state"
    assert "embodex.timestamp_ns" not in back.meta.features


def test_v2_dataset_is_refused(exported: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(exported, old)
    info = json.loads((old / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (old / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(ImportSourceError, match="v2.1 is not supported"):
        import_lerobot(old, tmp_path / "out")
    with pytest.raises(ImportSourceError, match="no meta/info.json"):
        import_lerobot(tmp_path, tmp_path / "out2")


def test_export_never_overwrites(source: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetExistsError):
        export_lerobot(source, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(InteropError, match="no episodes"):
        export_lerobot(source.select(skill="no-such-skill"), tmp_path / "empty")
    assert not (tmp_path / "empty").exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_selection_and_registry(source: Dataset, tmp_path: Path) -> None:
    ids = source.episode_ids[1:3]
    report = export_dataset("lerobot", source.select(episode_ids=ids), tmp_path / "sel")
    assert report.episodes == 2
    eps = pq.read_table(tmp_path / "sel/meta/episodes/chunk-000/file-000.parquet")
    assert eps.column("episode_index").to_pylist() == [0, 1]
    assert eps.column("embodex/episode_id").to_pylist() == ids
    with pytest.raises(ConfigError, match="unknown export format"):
        export_dataset("rlds", source, tmp_path / "x")
    with pytest.raises(ConfigError, match="does not take topic_map"):
        import_recordings("lerobot", tmp_path / "sel", tmp_path / "y", topic_map="t.yaml")


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Through main(): the real entry point with its error mapping."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_export_and_package(
    source: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-lr"
    res = runner.invoke(
        cli,
        ["export", "lerobot", str(source.root), str(out), "--where", "success=true", "--json"],
    )
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["episodes"] == len(source.select(success=True))
    res = runner.invoke(
        cli, ["package", str(out), str(tmp_path / "back"), "--from", "lerobot", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["episodes"] == result["episodes"]
    code, text = _main(["export", "lerobot", str(source.root), str(out)], capsys)
    assert code == 1 and "already exists" in text and "Traceback" not in text
    code, text = _main(
        ["package", str(out), str(tmp_path / "z"), "--from", "agibot", "--map", __file__], capsys
    )
    assert code == 1 and "does not take topic_map" in text
