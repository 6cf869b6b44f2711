"""embodex → Hugging Face datasets: the Hub's Parquet layout read back with
datasets.load_dataset, the save_to_disk form with load_from_disk, the dataset card."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from huggingface_hub import DatasetCard

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import InteropError
from embodex.format import Dataset, open_dataset
from embodex.format.exporters.card import dataset_card, hf_licence, size_category
from embodex.format.exporters.hf import export_hf, to_hf_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.qc import run_qc
from embodex.qc.manifest import QCManifest, write_qc
from embodex_cli.main import cli

from .conftest import SHORT
from .test_train_batch import video_root  # noqa: F401


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    meta = synth_meta(image_size=32, cameras=("head",), depth=True)
    return synth_dataset(
        tmp_path_factory.mktemp("hf") / "src", 3, seed=5, meta=meta, duration_s=SHORT
    )


def _front_matter(card: Path) -> dict[str, Any]:
    text = card.read_text("utf-8")
    assert text.startswith("---\n")
    got = yaml.safe_load(text.split("---\n")[1])
    assert isinstance(got, dict)
    return got


def test_export_loads_with_load_dataset(source: Dataset, tmp_path: Path) -> None:
    """The default layout: Parquet shards that datasets.load_dataset(path) opens through
    the card's configs, with every value equal to what the embodex reader gives."""
    out = tmp_path / "hf"
    report = export_hf(source, out)
    assert report.frames == source.num_frames and report.url is None
    shards = sorted((out / "data").iterdir())
    assert [p.name for p in shards] == ["train-00000-of-00001.parquet"]
    frames = datasets.load_dataset(str(out), split="train")
    assert isinstance(frames, datasets.Dataset) and len(frames) == source.num_frames
    assert isinstance(frames.features["image.head"], datasets.Image)
    assert frames.features["state"] == datasets.List(datasets.Value("float32"), length=20)
    numbers = [c for c in frames.column_names if not c.startswith("image.head")]
    np_frames = frames.with_format("numpy", columns=numbers)
    views = list(source)
    for name in ("state", "action"):
        want = np.concatenate([v.feature(name) for v in views])
        np.testing.assert_array_equal(np.stack(np_frames[name]), want)
    times = np.concatenate([v.timestamp_ns for v in views])
    np.testing.assert_array_equal(np_frames["timestamp_ns"], times)
    starts = np.concatenate([np.full(v.frame_count, v.timestamp_ns[0]) for v in views])
    np.testing.assert_allclose(np_frames["timestamp"], (times - starts) / 1e9)
    assert frames["episode_id"] == [v.episode_id for v in views for _ in range(v.frame_count)]
    assert frames["frame_index"] == [t for v in views for t in range(v.frame_count)]
    first = source.episode(0)
    assert frames["instruction"][0] == first.meta.instruction_en and first.meta.instruction_en
    row = frames[5]
    np.testing.assert_array_equal(np.asarray(row["image.head"]), first.images("head")[5])
    depth = np.asarray(row["image.head_depth"])
    np.testing.assert_array_equal(depth, first.images("head_depth")[5])  # 16-bit kept
    assert row["image.head.timestamp_ns"] == int(first.image_timestamps_ns("head")[5])
    episodes = datasets.load_dataset(str(out), "episodes", split="train")
    assert episodes["episode_id"] == source.episode_ids
    assert "stats" not in episodes.column_names and "shard" not in episodes.column_names
    assert episodes[0]["segments"][0]["skill"] == first.meta.segments[0].skill
    # the card: YAML that parses, configs naming the files, features and row counts
    front = _front_matter(out / "README.md")
    assert front["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}],
         "default": True},
        {"config_name": "episodes",
         "data_files": [{"split": "train", "path": "episodes/train-*"}]},
    ]  # fmt: skip
    info = {i["config_name"]: i for i in front["dataset_info"]}
    assert info["default"]["splits"][0]["num_examples"] == source.num_frames
    assert info["episodes"]["splits"][0]["num_examples"] == len(source)
    assert {"name": "image.head", "dtype": "image"} in info["default"]["features"]
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-nc-4.0"
    assert card.data.task_categories == ["robotics"]
    assert card.data.size_categories == ["n<1K"]
    assert card.data["embodex"]["source_digest"] == source.digest
    assert card.data["embodex"]["provenance"]["centre_id"] == source.meta.provenance.centre_id
    assert "qc" not in card.data["embodex"] and "No QC report" in card.text
    assert "load_dataset(" in card.text
    assert json.loads((out / "embodex.json").read_text())["licence"] == "CC-BY-NC-4.0"
    # streamed, as the Hub's viewer reads first rows
    streamed = next(iter(datasets.load_dataset(str(out), split="train", streaming=True)))
    assert streamed["episode_id"] == first.episode_id and streamed["frame_index"] == 0
    np.testing.assert_array_equal(np.asarray(streamed["image.head"]), first.images("head")[0])
    # each file carries its features too (the Image type) for readers without the card
    plain = datasets.load_dataset("parquet", data_files=str(shards[0]), split="train")
    assert isinstance(plain.features["image.head"], datasets.Image)


def test_parquet_shards_hold_whole_episodes(source: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    export_hf(source, out, cameras=["head"], max_shard_bytes=1)  # every episode its own
    shards = sorted((out / "data").iterdir())
    n = len(source)
    assert [p.name for p in shards] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    for shard, view in zip(shards, source, strict=True):
        table = pq.read_table(shard, columns=["episode_id", "frame_index"])
        assert set(table.column("episode_id").to_pylist()) == {view.episode_id}
        assert table.num_rows == view.frame_count
        assert pq.ParquetFile(shard).metadata.row_group(0).num_rows <= 100  # viewer pages
    frames = datasets.load_dataset(str(out), split="train")
    assert len(frames) == source.num_frames and "image.head_depth" not in frames.column_names


def test_disk_layout_loads_with_load_from_disk(source: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    report = export_hf(source, out, layout="disk")
    assert report.frames == source.num_frames
    frames = datasets.load_from_disk(str(out))
    assert isinstance(frames, datasets.Dataset) and len(frames) == source.num_frames
    first = source.episode(0)
    np.testing.assert_array_equal(np.asarray(frames[5]["image.head"]), first.images("head")[5])
    np.testing.assert_array_equal(np.asarray(frames["state"][:3]), first.feature("state")[:3])
    episodes = datasets.load_from_disk(str(out / "episodes"))
    assert episodes["episode_id"] == source.episode_ids
    assert "load_from_disk(" in (out / "README.md").read_text()
    with pytest.raises(InteropError, match="unknown Hugging Face layout"):
        export_hf(source, tmp_path / "x", layout="arrow")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, QCManifest]:
    """A dataset with a real QC manifest: clean episodes and two defective ones (FAIL)."""
    meta = synth_meta(image_size=32, cameras=("head",))
    ds, _labels = write_defective_dataset(
        tmp_path_factory.mktemp("hf-qc") / "ds", meta=meta, clean=3,
        kinds=["nan", "beyond_limit"], duration_s=(2.0, 3.0),
    )  # fmt: skip
    return ds, write_qc(ds.root, run_qc(ds.root))


_FIGURES = ("episodes", "hours", "passed", "warned", "failed", "hours_passed", "hours_warned",
            "hours_failed", "pass_rate", "success_rate")  # fmt: skip


def test_card_qc_figures_are_the_qc_manifest_aggregates(
    checked: tuple[Dataset, QCManifest], tmp_path: Path
) -> None:
    ds, manifest = checked
    overall = manifest.aggregates.overall.model_dump(mode="json")
    assert overall["failed"] >= 1 and overall["passed"] + overall["warned"] >= 1  # non-trivial
    qc = dataset_card(ds).data["embodex"]["qc"]
    assert {k: qc[k] for k in _FIGURES} == {k: overall[k] for k in _FIGURES}
    assert qc["covers"] == "all episodes" and qc["matches_this_dataset"] is True
    assert qc["profile"] == f"{manifest.profile.id} v{manifest.profile.version}"
    assert qc["profile_digest"] == manifest.profile.digest
    assert qc["top_failures"] == [
        f"{t.rule} ({t.episodes})" for t in manifest.aggregates.top_failures
    ]
    # the exporters write that card: Hugging Face and LeRobot share the code
    export_hf(ds, tmp_path / "hf")
    export_lerobot(ds, tmp_path / "lerobot")
    for out in (tmp_path / "hf", tmp_path / "lerobot"):
        card = DatasetCard.load(out / "README.md")
        assert card.data["embodex"]["qc"]["failed"] == overall["failed"]
        assert f"| FAIL | {overall['failed']} | {overall['hours_failed']} |" in card.text
        assert f"pass rate (PASS + WARN) {overall['pass_rate']}" in card.text


def test_card_qc_figures_of_a_selection(checked: tuple[Dataset, QCManifest]) -> None:
    ds, manifest = checked
    failed = set(manifest.failed)
    chosen = [i for i in ds.episode_ids if i in failed][:1] + [
        i for i in ds.episode_ids if i not in failed
    ][:2]
    qc = dataset_card(ds.select(episode_ids=chosen)).data["embodex"]["qc"]
    rows = [manifest.episode(i) for i in chosen]
    hours = {v: sum((Decimal(r.hours) for r in rows if r.verdict == v), Decimal(0))
             for v in ("PASS", "WARN", "FAIL")}  # fmt: skip
    assert qc["covers"] == f"3 exported of {len(ds)} checked episodes"
    assert (qc["episodes"], qc["failed"], qc["passed"] + qc["warned"]) == (3, 1, 2)
    assert Decimal(qc["hours_failed"]) == hours["FAIL"]
    assert Decimal(qc["hours"]) == sum(hours.values(), Decimal(0))
    assert qc["pass_rate"] == "0.6667" and "top_failures" not in qc


def test_card_qc_errors_and_licence_mapping(source: Dataset) -> None:
    qc = source.root / "qc"
    qc.mkdir(exist_ok=True)
    (qc / "manifest.json").write_text(json.dumps({"summary": {"pass": 2}}))  # not a manifest
    try:
        card = dataset_card(source)
    finally:
        (qc / "manifest.json").unlink()
    assert card.data["embodex"]["qc"] == {
        "error": "qc/manifest.json is not a QC manifest (specs/qc.md)"
    }
    assert "QC results unavailable" in card.text
    assert hf_licence("MIT") == {"license": "mit"}
    assert hf_licence("proprietary:contract-17") == {
        "license": "other",
        "license_name": "proprietary-contract-17",
    }
    assert size_category(999) == "n<1K" and size_category(25_000) == "10K<n<100K"


def test_to_hf_dataset_in_memory_and_camera_choice(source: Dataset) -> None:
    view = source.select(episode_ids=source.episode_ids[1:2])
    hf = to_hf_dataset(view, cameras=[])
    assert len(hf) == view.num_frames
    assert not [c for c in hf.column_names if c.startswith("image.")]
    assert set(hf["episode_index"]) == {view.episode(0).index}
    with pytest.raises(InteropError, match="unknown camera"):
        to_hf_dataset(view, cameras=["nope"])


def test_cli(source: Dataset, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["export", "hf", str(source.root), str(tmp_path / "o"), "--no-images", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["frames"] == source.num_frames
    got = datasets.load_dataset(str(tmp_path / "o"), split="train")
    assert "image.head" not in got.column_names and len(got) == source.num_frames
    res = CliRunner().invoke(
        cli, ["export", "hf", str(source.root), str(tmp_path / "d"), "--layout", "disk"]
    )
    assert res.exit_code == 0, res.output
    assert "as Hugging Face datasets (disk)" in res.output
    assert len(datasets.load_from_disk(str(tmp_path / "d"))) == source.num_frames


def test_video_camera_frames_become_viewer_images(video_root: Path, tmp_path: Path) -> None:  # noqa: F811
    """A video camera goes to the Hub layout as one JPEG per frame (the viewer shows images),
    each the decoded frame re-encoded: close to what the embodex reader decodes."""
    ds = open_dataset(video_root)
    video = [c.name for c in ds.meta.cameras if c.is_video]
    assert video
    export_hf(ds, tmp_path / "hf")
    frames = datasets.load_dataset(str(tmp_path / "hf"), split="train")
    assert len(frames) == ds.num_frames
    cam = video[0]
    first = ds.episode(0)
    decoded = first.images(cam)
    for t in (0, 7, first.frame_count - 1):
        got = np.asarray(frames[t][f"image.{cam}"], dtype=np.float32)
        assert got.shape == decoded[t].shape
        assert np.abs(got - decoded[t]).mean() < 3  # JPEG of the decoded frame
        other = decoded[(t + 3) % first.frame_count].astype(np.float32)
        assert np.abs(got - other).mean() > 3 * np.abs(got - decoded[t]).mean()  # this one
