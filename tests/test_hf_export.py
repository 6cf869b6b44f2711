"""embodex → Hugging Face datasets, loaded back with datasets.load_from_disk."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import datasets
import numpy as np
import pytest
from click.testing import CliRunner
from huggingface_hub import DatasetCard

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import InteropError
from embodex.format import Dataset
from embodex.format.exporters.card import dataset_card, hf_licence, size_category
from embodex.format.exporters.hf import export_hf, to_hf_dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.qc import run_qc
from embodex.qc.manifest import QCManifest, write_qc
from embodex_cli.main import cli

from .conftest import SHORT


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    meta = synth_meta(image_size=32, cameras=("head",), depth=True)
    return synth_dataset(
        tmp_path_factory.mktemp("hf") / "src", 3, seed=5, meta=meta, duration_s=SHORT
    )


def test_export_loads_with_datasets(source: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    report = export_hf(source, out)
    assert report.frames == source.num_frames
    frames = datasets.load_from_disk(str(out))
    assert isinstance(frames, datasets.Dataset) and len(frames) == source.num_frames
    assert isinstance(frames.features["image.head"], datasets.Image)
    np_frames = frames.with_format("numpy")
    state = np.concatenate([v.feature("state") for v in source])
    np.testing.assert_array_equal(np.stack(np_frames["state"]), state)
    times = np.concatenate([v.timestamp_ns for v in source])
    np.testing.assert_array_equal(np_frames["timestamp_ns"], times)
    first = source.episode(0)
    row = frames[5]
    np.testing.assert_array_equal(np.asarray(row["image.head"]), first.images("head")[5])
    depth = np.asarray(frames[5]["image.head_depth"])
    np.testing.assert_array_equal(depth, first.images("head_depth")[5])  # 16-bit kept
    assert row["image.head.timestamp_ns"] == int(first.image_timestamps_ns("head")[5])
    episodes = datasets.load_from_disk(str(out / "episodes"))
    assert episodes["episode_id"] == source.episode_ids
    assert "stats" not in episodes.column_names
    assert episodes[0]["segments"][0]["skill"] == first.meta.segments[0].skill
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-nc-4.0"
    assert card.data.task_categories == ["robotics"]
    assert card.data.size_categories == ["n<1K"]
    assert card.data["embodex"]["source_digest"] == source.digest
    assert card.data["embodex"]["provenance"]["centre_id"] == source.meta.provenance.centre_id
    assert "qc" not in card.data["embodex"] and "No QC report" in card.text
    assert json.loads((out / "embodex.json").read_text())["licence"] == "CC-BY-NC-4.0"


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
    assert "image.head" not in datasets.load_from_disk(str(tmp_path / "o")).column_names
