"""Manual review: the queue and sampling plan, decisions, and the append-only log."""

from __future__ import annotations

import json
import math
import multiprocessing
from pathlib import Path

import pytest

from embodex.errors import QCManifestError, ReviewError
from embodex.qc import run_qc
from embodex.qc.manifest import load_qc_manifest, write_qc
from embodex.qc.review import (
    list_reviews,
    record_review,
    review_queue,
    review_status,
    sampled_passes,
)
from embodex.qc.reviewlog import LOG_FILE, append_review, read_log
from embodex.reports import write_review_page
from tests.qc_helpers import Batch, defect_batch, private_copy

KINDS = ["jitter", "missing_instruction", "nan"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    root, labels = defect_batch(tmp_path_factory, clean=24, kinds=KINDS, seed=4, duration_s=(4, 5))
    write_qc(root, run_qc(root))
    return root, labels


@pytest.fixture
def batch(source: Batch, tmp_path: Path) -> Batch:
    return private_copy(source, tmp_path)


def _kind(labels: dict[str, str], kind: str) -> str:
    return next(e for e, k in labels.items() if k == kind)


def test_queue_holds_warns_then_a_sample_of_each_operators_passes(
    batch: tuple[Path, dict[str, str]],
) -> None:
    root, labels = batch
    manifest = load_qc_manifest(root)
    queue = review_queue(root)
    warns = [q.episode_id for q in queue if q.why == "warn"]
    assert (
        warns
        == [e.episode_id for e in manifest.episodes if e.auto_verdict == "WARN"]
        == [_kind(labels, "jitter"), _kind(labels, "missing_instruction")]
    )
    assert queue[: len(warns)] == [q for q in queue if q.why == "warn"]  # WARNs come first
    assert _kind(labels, "nan") not in {q.episode_id for q in queue}  # FAILs are labelled
    passes: dict[str, list[str]] = {}
    for e in manifest.episodes:
        if e.auto_verdict == "PASS":
            passes.setdefault(e.operator_id or "(unknown)", []).append(e.episode_id)
    sampled = [q for q in queue if q.why == "sample"]
    for op, ids in passes.items():
        got = [q.episode_id for q in sampled if (q.operator_id or "(unknown)") == op]
        assert len(got) == min(len(ids), max(2, math.ceil(0.1 * len(ids)))), op
        assert set(got) <= set(ids)
    # round-robin: the first samples cover distinct operators
    first = [q.operator_id for q in sampled[: len(passes)]]
    assert len(set(first)) == len(passes)
    assert review_queue(root) == queue  # deterministic


def test_sampling_plan_rate_minimum_and_tightening(batch: tuple[Path, dict[str, str]]) -> None:
    root, _ = batch
    manifest = load_qc_manifest(root)
    plan = sampled_passes(manifest, rate=0.5, minimum=1)
    counts = {op: len(ids) for op, ids in plan.items()}
    passes: dict[str, int] = {}
    for e in manifest.episodes:
        if e.auto_verdict == "PASS":
            passes[e.operator_id or "(unknown)"] = passes.get(e.operator_id or "(unknown)", 0) + 1
    assert counts == {op: max(1, math.ceil(0.5 * n)) for op, n in passes.items()}
    op = max(passes, key=lambda o: passes[o])
    tight = sampled_passes(manifest, rate=0.25, minimum=0, rejected_operators={op})
    loose = sampled_passes(manifest, rate=0.25, minimum=0)
    assert len(tight[op]) == min(passes[op], math.ceil(0.5 * passes[op])) > len(loose[op])
    assert tight[op][: len(loose[op])] == loose[op]  # the same ranking, just more of it


def test_decisions_change_the_final_verdicts(batch: tuple[Path, dict[str, str]]) -> None:
    root, labels = batch
    jitter, instr, nan = (_kind(labels, k) for k in ("jitter", "missing_instruction", "nan"))
    entry, manifest = record_review(
        root, jitter, verdict="accept", reason="warning_acceptable", reviewer="rev-1"
    )
    assert entry.seq == 1 and entry.prev is None and entry.auto_verdict == "WARN"
    assert manifest.episode(jitter).verdict == "PASS"
    assert manifest.episode(jitter).review is not None
    sample = next(q for q in review_queue(root) if q.why == "sample").episode_id
    _, manifest = record_review(
        root, sample, verdict="reject", reason="operator_error", reviewer="rev-2", note="slow"
    )
    assert manifest.episode(sample).verdict == "FAIL"
    assert {"rule": "review.operator_error", "episodes": 1} in [
        t.model_dump() for t in manifest.aggregates.top_failures
    ]
    # a later decision supersedes an earlier one; both stay in the log
    _, manifest = record_review(
        root, jitter, verdict="reject", reason="sensor_fault", reviewer="rev-3"
    )
    assert manifest.episode(jitter).verdict == "FAIL"
    assert [e.seq for e in list_reviews(root)] == [1, 2, 3]
    status = review_status(root)
    assert (status["reviewed"], status["accepted"], status["rejected"]) == (2, 0, 2)
    assert jitter not in {q.episode_id for q in review_queue(root)}
    assert instr in {q.episode_id for q in review_queue(root)}
    # a reject of an automatic FAIL is recorded; an accept is refused
    _, manifest = record_review(root, nan, verdict="reject", reason="sensor_fault", reviewer="r")
    assert manifest.episode(nan).verdict == "FAIL"
    with pytest.raises(ReviewError, match="cannot accept"):
        record_review(root, nan, verdict="accept", reason="meets_spec", reviewer="rev-1")
    # re-running QC keeps the manual decisions
    again = write_qc(root, run_qc(root))
    assert again.episode(jitter).verdict == "FAIL" and again.episode(jitter).review is not None
    assert again.aggregates.overall.failed == manifest.aggregates.overall.failed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"verdict": "accept", "reason": "duplicate"}, "does not go with accept"),
        ({"verdict": "reject", "reason": "meets_spec"}, "does not go with reject"),
        ({"verdict": "reject", "reason": "because"}, "unknown reason code"),
        ({"verdict": "reject", "reason": "other"}, "needs a note"),
        ({"verdict": "maybe", "reason": "other", "note": "x"}, "accept, reject or flag"),
        ({"verdict": "reject", "reason": "privacy", "reviewer": "Jane Doe"}, "reviewer id"),
        ({"verdict": "reject", "reason": "other", "note": "x" * 3000}, "at most"),
    ],
)
def test_bad_decisions_are_refused_and_log_nothing(
    batch: tuple[Path, dict[str, str]], kwargs: dict[str, str], match: str
) -> None:
    root, labels = batch
    args = {"reviewer": "rev-1", **kwargs}
    with pytest.raises(ReviewError, match=match):
        record_review(root, _kind(labels, "jitter"), **args)  # type: ignore[arg-type]
    assert list_reviews(root) == []
    with pytest.raises(ReviewError, match="not in the QC manifest"):
        record_review(root, "nobody:1", verdict="reject", reason="privacy", reviewer="rev-1")


def test_review_needs_a_qc_manifest(tmp_path: Path) -> None:
    with pytest.raises(QCManifestError, match="no QC manifest"):
        review_queue(tmp_path)


def test_log_is_chained_and_tampering_is_detected(batch: tuple[Path, dict[str, str]]) -> None:
    root, labels = batch
    eid = _kind(labels, "jitter")
    for reviewer in ("rev-1", "rev-2", "rev-3"):
        record_review(root, eid, verdict="reject", reason="sensor_fault", reviewer=reviewer)
    log = root / LOG_FILE
    lines = log.read_bytes().splitlines()
    assert len(lines) == 3 and all(json.loads(x)["kind"] == "embodex.review" for x in lines)
    # a torn last line (crash mid-append) is ignored, then cut off by the next append
    log.write_bytes(log.read_bytes() + b'{"kind": "embodex.rev')
    assert len(read_log(root)) == 3
    record_review(root, eid, verdict="reject", reason="privacy", reviewer="rev-4")
    assert [e.reviewer for e in read_log(root)] == ["rev-1", "rev-2", "rev-3", "rev-4"]
    # the chain cannot see the last line changed: the head in the QC manifest does
    head = load_qc_manifest(root).review_log
    assert head is not None and head.entries == 4
    good = log.read_bytes()
    log.write_bytes(good.replace(b'"reviewer":"rev-4"', b'"reviewer":"rev-8"'))
    assert len(read_log(root)) == 4  # the chain alone is fooled
    for reader in (
        lambda: read_log(root, expect=head),
        lambda: list_reviews(root),
        lambda: review_queue(root),
        lambda: write_qc(root, run_qc(root)),
        lambda: record_review(root, eid, verdict="reject", reason="privacy", reviewer="rev-5"),
    ):
        with pytest.raises(ReviewError, match="line 4 differs from the entry the QC manifest"):
            reader()
    log.write_bytes(b"".join(x + b"\n" for x in good.splitlines()[:3]))  # last line deleted
    with pytest.raises(ReviewError, match="has 3 entries, the QC manifest recorded 4"):
        list_reviews(root)
    log.write_bytes(b"")  # or the whole log
    with pytest.raises(ReviewError, match="has 0 entries"):
        review_status(root)
    log.write_bytes(good)
    assert len(list_reviews(root)) == 4
    # entries appended after the manifest was written (a crash before its rewrite) are fine
    append_review(root, episode_id=eid, verdict="reject", reason="privacy", reviewer="rev-6",
                  dataset_digest=load_qc_manifest(root).dataset_digest, auto_verdict="WARN",
                  expect=head)  # fmt: skip
    assert load_qc_manifest(root).review_log == head
    assert [e.reviewer for e in list_reviews(root)][-1] == "rev-6"
    # editing a line breaks the chain
    edited = log.read_bytes().replace(b'"reviewer":"rev-2"', b'"reviewer":"rev-9"')
    log.write_bytes(edited)
    with pytest.raises(ReviewError, match="line 3 does not follow"):
        read_log(root)
    # so does removing one
    lines = [x for x in log.read_bytes().splitlines() if b"rev-9" not in x]
    log.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ReviewError, match="does not follow"):
        read_log(root)


def _append_many(root: str, who: str, n: int) -> None:
    for _ in range(n):
        append_review(
            root,
            episode_id="x:1",
            verdict="reject",
            reason="privacy",
            reviewer=who,
            dataset_digest="sha256:" + "0" * 64,
            auto_verdict="PASS",
        )


def test_concurrent_reviewers_append_without_losing_entries(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_many, args=(str(tmp_path), f"rev-{k}", 8)) for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    entries = read_log(tmp_path)  # the chain verifies
    assert [e.seq for e in entries] == list(range(1, 25))
    assert sorted({e.reviewer for e in entries}) == ["rev-0", "rev-1", "rev-2"]


def test_review_page_is_written(batch: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, labels = batch
    eid = _kind(labels, "jitter")
    page = write_review_page(root, eid, tmp_path / "pages")
    html = page.read_text()
    assert eid in html and "timing.jitter" in html and "embodex review set" in html
    assert html.count("<svg") >= 3 and "data:image/jpeg;base64," in html
    assert "operator_error" in html  # the reason codes are listed
