"""The QC manifest: shape, no floats, exact aggregates, hashed sidecars, comparison."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import QCManifestError
from embodex.qc import default_profile, run_qc
from embodex.qc.manifest import (
    MANIFEST_FILE,
    ReviewRecord,
    apply_reviews,
    compare_manifests,
    final_verdict,
    load_findings,
    load_metrics,
    load_qc_manifest,
    load_qc_profile,
    profile_path,
    write_qc,
)
from tests.qc_helpers import Batch, defect_batch, private_copy

SCHEMA = Path(__file__).resolve().parents[1] / "specs" / "schemas" / "qc-manifest.schema.json"
KINDS = ["nan", "jitter", "missing_success", "idle_head", "duplicate", "missing_metadata"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return defect_batch(tmp_path_factory, clean=8, kinds=KINDS, seed=2, duration_s=(6, 8))


@pytest.fixture
def batch(source: Batch, tmp_path: Path) -> Batch:
    return private_copy(source, tmp_path)


def _floats(value: Any, where: str = "$") -> list[str]:
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _floats(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _floats(v, f"{where}[{i}]")]
    return []


def test_manifest_shape_schema_and_no_floats(batch: tuple[Path, dict[str, str]]) -> None:
    root, labels = batch
    result = run_qc(root)
    manifest = write_qc(root, result)
    raw = json.loads((root / MANIFEST_FILE).read_text())
    assert _floats(raw) == [], "the signed manifest must not contain floats"
    jsonschema.validate(raw, json.loads(SCHEMA.read_text()))
    assert raw["kind"] == "embodex.qc-manifest" and raw["version"] == 1
    p = default_profile()
    assert raw["profile"] == {"id": p.id, "version": p.version, "digest": p.digest}
    assert raw["dataset_digest"] == result.dataset_digest
    assert raw["created_at"].endswith("Z")
    assert {e["episode_id"] for e in raw["episodes"]} == {e.episode_id for e in result.episodes}
    for e in raw["episodes"]:
        assert e["verdict"] == e["auto_verdict"] and e["review"] is None
        assert set(e) >= {"episode_id", "auto_verdict", "review", "verdict", "rules", "hours",
                          "scene_type", "skill", "operator_id", "robot_model"}  # fmt: skip
    by_id = {e.episode_id: e for e in manifest.episodes}
    nan_id = next(e for e, k in labels.items() if k == "nan")
    assert by_id[nan_id].auto_verdict == "FAIL" and by_id[nan_id].rules == ["numeric.finite"]
    assert load_qc_manifest(root) == manifest
    assert load_qc_profile(root).digest == p.digest


def test_aggregates_add_up_exactly(batch: tuple[Path, dict[str, str]]) -> None:
    root, _labels = batch
    manifest = write_qc(root, run_qc(root))
    agg = manifest.aggregates
    o = agg.overall
    assert o.episodes == len(manifest.episodes) == 8 + len(KINDS)
    assert o.passed + o.warned + o.failed == o.episodes
    total = sum(Decimal(e.hours) for e in manifest.episodes)
    assert Decimal(o.hours) == total
    assert Decimal(o.hours_passed) + Decimal(o.hours_warned) + Decimal(o.hours_failed) == total
    for groups in (agg.by_scene_type, agg.by_skill, agg.by_operator, agg.by_robot):
        assert sum(Decimal(g.hours) for g in groups.values()) == total  # to the last digit
        assert sum(g.episodes for g in groups.values()) == o.episodes
        for g in groups.values():
            assert Decimal(g.pass_rate) == (Decimal(g.passed + g.warned) / g.episodes).quantize(
                Decimal("0.0001")
            )
    assert "(unknown)" in agg.by_operator  # the missing_metadata episode has no operator
    labelled = [e for e in manifest.episodes if e.success is not None]
    assert len(labelled) == o.episodes - 1  # missing_success
    assert Decimal(o.success_rate) == (
        Decimal(sum(e.success for e in labelled)) / len(labelled)
    ).quantize(Decimal("0.0001"))
    fails = {t.rule: t.episodes for t in agg.top_failures}
    assert fails == {"numeric.finite": 1, "batch.duplicate": 1}
    assert agg.top_failures[0].episodes >= agg.top_failures[-1].episodes


def test_success_rate_is_null_without_labels(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _, _labels = write_defective_dataset(
        root,
        meta=synth_meta(image_size=32, cameras=("head",)),
        clean=0,
        kinds=["missing_success", "missing_success"],
        seed=1,
    )
    manifest = write_qc(root, run_qc(root))
    assert manifest.aggregates.overall.success_rate is None
    assert manifest.aggregates.overall.pass_rate == "1.0000"


def test_sidecars_are_hash_checked_and_paths_confined(batch: tuple[Path, dict[str, str]]) -> None:
    root, _ = batch
    result = run_qc(root)
    manifest = write_qc(root, result)
    findings = load_findings(root)
    assert findings.to_pylist() == [f.as_dict() for f in result.findings]
    assert findings.num_rows == len(KINDS)  # one finding per injected defect here
    assert load_metrics(root).num_rows == len(manifest.episodes)
    path = root / manifest.findings.path
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(QCManifestError, match="sha256"):
        load_findings(root)
    raw = json.loads((root / MANIFEST_FILE).read_text())
    raw["findings"]["path"] = "qc/../../etc/passwd"
    (root / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(QCManifestError, match="findings.path"):
        load_qc_manifest(root)
    (root / MANIFEST_FILE).unlink()
    with pytest.raises(QCManifestError, match="no QC manifest"):
        load_qc_manifest(root)


def test_rewriting_keeps_only_the_named_sidecars(batch: tuple[Path, dict[str, str]]) -> None:
    root, _ = batch
    first = write_qc(root, run_qc(root))
    stricter = default_profile().with_overrides({"timing.jitter.warn": 0.01})
    second = write_qc(root, run_qc(root, stricter))
    assert second.findings.path != first.findings.path
    arrows = sorted(p.name for p in (root / "qc").glob("*.arrow"))
    assert arrows == sorted([Path(second.findings.path).name, Path(second.metrics.path).name])
    assert load_qc_profile(root).digest == stricter.digest != default_profile().digest
    assert [p.name for p in (root / "qc").glob("profile-*.json")] == [
        Path(profile_path(stricter.digest)).name
    ]


def test_a_crash_before_the_manifest_is_replaced_leaves_the_old_one_whole(
    batch: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = batch
    first = run_qc(root)
    old = write_qc(root, first)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr("embodex.qc.manifest._finish", crash)
    stricter = default_profile().with_overrides({"timing.jitter.warn": 0.01})
    with pytest.raises(KeyboardInterrupt):
        write_qc(root, run_qc(root, stricter))  # new sidecars and profile written, no manifest
    assert load_qc_manifest(root) == old
    assert load_findings(root).to_pylist() == [f.as_dict() for f in first.findings]
    assert load_qc_profile(root).digest == default_profile().digest


def test_a_stale_result_is_refused(tmp_path: Path) -> None:
    meta = synth_meta(image_size=32, cameras=("head",))
    root = tmp_path / "ds"
    synth_dataset(root, 2, seed=3, meta=meta, duration_s=(6, 6))
    result = run_qc(root)
    synth_dataset(root, 1, seed=3, meta=meta, duration_s=(6, 6), append=True, first_index=2)
    with pytest.raises(QCManifestError, match="changed since QC ran"):
        write_qc(root, result)


@pytest.mark.parametrize(
    ("auto", "review", "final"),
    [
        ("PASS", None, "PASS"),
        ("WARN", None, "WARN"),
        ("FAIL", None, "FAIL"),
        ("PASS", "reject", "FAIL"),
        ("WARN", "reject", "FAIL"),
        ("WARN", "accept", "PASS"),
        ("PASS", "accept", "PASS"),
        ("FAIL", "accept", "FAIL"),
    ],
)
def test_final_verdict_rules(auto: str, review: str | None, final: str) -> None:
    record = (
        None
        if review is None
        else ReviewRecord(verdict=review, reason="other", reviewer="r", at="2026-01-01T00:00:00Z")
    )
    assert final_verdict(auto, record) == final  # type: ignore[arg-type]


def test_compare_manifests(batch: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, labels = batch
    centre = write_qc(root, run_qc(root))
    buyer_copy = tmp_path / "buyer"
    shutil.copytree(root, buyer_copy)
    shutil.rmtree(buyer_copy / "qc")
    buyer = write_qc(buyer_copy, run_qc(buyer_copy))
    assert compare_manifests(centre, buyer) == []  # the buyer's re-run agrees
    stricter = default_profile().with_overrides({"timing.jitter.fail": 3.0})
    strict = write_qc(buyer_copy, run_qc(buyer_copy, stricter))
    diff = compare_manifests(centre, strict)
    jitter = next(e for e, k in labels.items() if k == "jitter")
    assert diff[0].startswith("profile differs")
    assert diff[1:] == [f"episode {jitter}: centre WARN, buyer FAIL"]
    fewer = strict.model_copy(update={"episodes": strict.episodes[1:]})
    assert any("centre's manifest only" in d for d in compare_manifests(centre, fewer))


def test_apply_reviews_without_a_log_changes_nothing(batch: tuple[Path, dict[str, str]]) -> None:
    root, _ = batch
    manifest = write_qc(root, run_qc(root))
    again = apply_reviews(root)
    assert again.episodes == manifest.episodes and again.aggregates == manifest.aggregates


def test_the_trust_layer_signs_and_verifies_the_manifest(
    batch: tuple[Path, dict[str, str]],
) -> None:
    from embodex.errors import SignatureError
    from embodex.trust import Signer, sign_qc_manifest, verify_qc_manifest

    root, _ = batch
    write_qc(root, run_qc(root))
    raw = json.loads((root / MANIFEST_FILE).read_text())
    centre = Signer.ephemeral("hubei-centre", "centre")
    envelope = sign_qc_manifest(raw, centre)  # refuses floats: the manifest has none
    assert verify_qc_manifest(envelope, centre.identity) == raw
    forged = envelope.model_dump(mode="json")
    other = Signer.ephemeral("hubei-centre", "centre")
    with pytest.raises(SignatureError):
        verify_qc_manifest(forged, other.identity)
