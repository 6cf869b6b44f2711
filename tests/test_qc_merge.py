"""combine_qc: a dataset's QC manifest assembled from the QC of the batches it was built from."""

from __future__ import annotations

from pathlib import Path

import pytest

from embodex.errors import QCManifestError
from embodex.format import copy_episodes, open_dataset
from embodex.qc import load_findings, load_metrics, load_qc_manifest, run_qc, write_qc
from embodex.qc.manifest import ReviewRecord
from embodex.qc.merge import combine_qc

from ._delivery import PROFILE, centre_dataset


def _batch(path: Path, count: int, first: int, defects: dict[int, str] | None = None) -> Path:
    centre_dataset(path, count, first=first, defects=defects)
    write_qc(path, run_qc(path, PROFILE))
    return path


def test_combined_manifest_carries_each_batch_verdicts(tmp_path: Path) -> None:
    a = _batch(tmp_path / "a", 3, 0, defects={2: "nan"})
    b = _batch(tmp_path / "b", 3, 10)
    local = tmp_path / "local"
    ma, mb = load_qc_manifest(a), load_qc_manifest(b)
    keep_a = [e for e in open_dataset(a).episode_ids if e != ma.failed[0]]
    copy_episodes(a, local, keep_a)
    combine_qc(local, [(a, ma)])
    copy_episodes(b, local, None, append=True)
    merged = combine_qc(local, [(local, load_qc_manifest(local)), (b, mb)])
    ds = open_dataset(local)
    assert merged.dataset_digest == ds.digest
    assert [e.episode_id for e in merged.episodes] == ds.episode_ids
    by_id = {e.episode_id: e for e in [*ma.episodes, *mb.episodes]}
    assert all(e == by_id[e.episode_id] for e in merged.episodes)
    assert merged.aggregates.overall.episodes == 5 and merged.aggregates.overall.failed == 0
    findings = load_findings(local)  # sha256-checked against the manifest
    assert set(findings.column("episode_id").to_pylist()) <= set(ds.episode_ids)
    assert ma.failed[0] not in load_metrics(local).column("episode_id").to_pylist()
    assert load_qc_manifest(local) == merged


def test_reviews_override_and_errors(tmp_path: Path) -> None:
    a = _batch(tmp_path / "a", 2, 0)
    ma = load_qc_manifest(a)
    first = ma.episodes[0].episode_id
    review = ReviewRecord(verdict="reject", reason="revoked", reviewer="agibot", at="2026-01-01")
    merged = combine_qc(a, [(a, ma)], reviews={first: review})
    assert merged.episode(first).verdict == "FAIL"
    assert [t.rule for t in merged.aggregates.top_failures] == ["review.revoked"]
    other = _batch(tmp_path / "other", 1, 50)
    with pytest.raises(QCManifestError, match="no QC verdict"):
        combine_qc(a, [(other, load_qc_manifest(other))])
    foreign = load_qc_manifest(other).model_copy(
        update={"profile": ma.profile.model_copy(update={"digest": "sha256:" + "0" * 64})}
    )
    with pytest.raises(QCManifestError, match="profiles"):
        combine_qc(a, [(a, ma), (other, foreign)])
