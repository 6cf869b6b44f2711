"""The QC results the CLI renders, used from Python: a run's summary and its gate, the next
review item, a review decision and the review list — one call each, no CLI involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.errors import ProfileError, QCError, QCFailedError
from embodex.qc import (
    check_dataset,
    default_profile,
    next_review,
    read_known_ids,
    resolve_profile,
    review_queue,
    reviews,
    set_review,
)
from embodex.qc.manifest import MANIFEST_FILE, describe_episode, load_qc_manifest
from tests.qc_helpers import Batch, defect_batch, private_copy
from tests.test_cli_format import run

KINDS = ["nan", "jitter"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return defect_batch(tmp_path_factory, clean=6, kinds=KINDS, seed=7, duration_s=(4, 5))


@pytest.fixture
def batch(source: Batch, tmp_path: Path) -> Batch:
    return private_copy(source, tmp_path)


def _kind(labels: dict[str, str], kind: str) -> str:
    return next(e for e, k in labels.items() if k == kind)


def test_the_gate_from_python(batch: Batch) -> None:
    root, labels = batch
    summary = check_dataset(root, write=False)
    assert not (root / MANIFEST_FILE).exists() and summary.written is None
    nan = _kind(labels, "nan")
    assert summary.counts == {"PASS": 6, "WARN": 1, "FAIL": 1}
    assert summary.gate_failed and summary.exit_code == QCFailedError.exit_code == 3
    assert [(f.episode_id, f.verdict) for f in summary.flagged] == [
        (e, v) for e, v in summary.final.items() if v != "PASS"
    ]
    assert nan in {f.episode_id for f in summary.flagged}
    with pytest.raises(QCFailedError, match="1 of 8 episodes FAIL") as caught:
        summary.raise_for_gate()
    assert caught.value.failed == 1 and caught.value.total == 8
    assert summary.share("PASS") == pytest.approx(6 / 8)

    written = check_dataset(root)
    assert written.written == root / MANIFEST_FILE and (root / MANIFEST_FILE).exists()
    assert load_qc_manifest(root).aggregates == written.manifest.aggregates


def test_a_clean_run_passes_the_gate(tmp_path: Path) -> None:
    from embodex.demo.synth import synth_dataset, synth_meta

    root = tmp_path / "clean"
    synth_dataset(root, 3, seed=2, meta=synth_meta(image_size=32, cameras=("head",)))
    summary = check_dataset(root, images="none")
    assert not summary.gate_failed and summary.exit_code == 0 and summary.gate_error() is None
    summary.raise_for_gate()  # nothing to raise
    assert summary.flagged == [] and summary.top_failures == []


def test_the_cli_prints_the_sdk_summary_as_it_is(
    batch: Batch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`qc run --json` is QCRunSummary.to_json(): the CLI adds nothing and drops nothing."""
    root, _ = batch
    code, out, err = run(["qc", "run", str(root), "--json", "--no-write"], capsys)
    assert code == 3, err
    printed = json.loads(out)
    expected = check_dataset(root, write=False).to_json()
    for volatile in ("seconds",):
        printed.pop(volatile), expected.pop(volatile)
    assert printed == expected


def test_known_ids_and_overrides_from_python(batch: Batch, tmp_path: Path) -> None:
    root, labels = batch
    from embodex.format import open_dataset

    clean = next(e for e in open_dataset(root).episode_ids if e not in labels)
    ids = tmp_path / "delivered.txt"
    ids.write_text(f"\n{clean}\n  \n", encoding="utf-8")
    assert read_known_ids(ids) == [clean]
    from_file = check_dataset(root, known_ids=ids, write=False)
    from_list = check_dataset(root, known_ids=[clean], write=False)
    assert from_file.final[clean] == from_list.final[clean] == "FAIL"  # delivered before
    with pytest.raises(QCError, match="cannot read the known episode ids"):
        read_known_ids(tmp_path / "missing.txt")
    strict = resolve_profile(None, ["timing.gap.fail=250"])
    assert strict.digest != default_profile().digest
    assert resolve_profile(None, {"timing.gap.fail": 250}).digest == strict.digest
    assert check_dataset(root, overrides=["timing.gap.fail=250"], write=False).profile == strict
    with pytest.raises(ProfileError):
        resolve_profile(None, ["timing.nope.fail=1"])


def test_review_next_set_and_list_from_python(batch: Batch, tmp_path: Path) -> None:
    root, _ = batch
    check_dataset(root)
    queue = review_queue(root)
    nxt = next_review(root, tmp_path / "pages")
    assert nxt.item == queue[0] and nxt.waiting == len(queue) and nxt.stale is None
    assert nxt.page is not None and nxt.page.is_file() and nxt.page.parent == tmp_path / "pages"
    assert nxt.episode == describe_episode(root, queue[0].episode_id)
    assert nxt.why_text == ("automatic WARN" if queue[0].why == "warn" else "sampled PASS")
    data = nxt.to_json()
    assert data["next"] == queue[0].episode_id and data["findings"] == nxt.episode.findings
    recorded = set_review(
        root, nxt.item.episode_id, verdict="reject", reason="operator_error", reviewer="rev-1"
    )
    assert recorded.verdict == "FAIL" and recorded.entry.reviewer == "rev-1"
    listed = reviews(root)
    assert [e.episode_id for e in listed.entries] == [nxt.item.episode_id]
    assert listed.status["rejected"] == 1 and listed.status["waiting"] == len(queue) - 1
    # every decision taken: the queue is empty and says so
    for item in review_queue(root):
        set_review(root, item.episode_id, verdict="reject", reason="privacy", reviewer="rev-2")
    done = next_review(root)
    assert done.item is None and done.page is None and done.waiting == 0
    assert done.to_json() == {"next": None, "waiting": 0, "stale": None}


def test_report_figures_from_python(batch: Batch) -> None:
    from embodex.qc.report_figures import qc_report_figures
    from embodex.qc.rules import RULES

    root, labels = batch
    summary = check_dataset(root)
    nan = _kind(labels, "nan")
    set_review(root, nan, verdict="reject", reason="sensor_fault", reviewer="rev-1")
    f = qc_report_figures(root, worst=2)
    assert f.reviewed == 1 and f.stale is None
    assert f.worst[0] == nan and len(f.worst) == 2  # the FAIL first
    assert list(f.rules_flagged) == [r for r in RULES if r in f.rules_flagged]
    for rule, tally in f.rules_flagged.items():
        flagged = {x["episode_id"] for x in f.findings if x["rule"] == rule}
        assert tally.fail + tally.warn == len(flagged)
        assert tally.passing_share == pytest.approx(1 - len(flagged) / 8)
    assert set(f.rules_enabled) >= set(f.rules_flagged)
    assert sum(len(v) for v in f.durations_s.values()) == 8
    rates = [float(c.stats.pass_rate or 0) for c in f.operators]
    assert rates == sorted(rates)  # worst pass rate first
    for card in (*f.operators, *f.robots):
        counts = [n for _, n in card.top_failures]
        assert counts == sorted(counts, reverse=True)
        ties = [r for r, n in card.top_failures if counts and n == counts[0]]
        assert ties == [r for r in RULES if r in ties]  # ties in rule order, every run
    assert summary.counts["FAIL"] == 1


def test_signed_reviews_from_python(batch: Batch) -> None:
    from embodex.errors import ReviewError
    from embodex.trust import check_reviews, generate_key, load_signer, set_signed_review

    root, labels = batch
    check_dataset(root)
    generate_key("rev-7", "reviewer")
    jitter = _kind(labels, "jitter")
    signed = set_signed_review(
        root, jitter, verdict="accept", reason="warning_acceptable", signer=load_signer("rev-7")
    )
    assert signed.entry.reviewer == "rev-7" and signed.entry.signature is not None
    assert signed.verdict == "PASS"
    check = check_reviews(root)
    assert check.signed == 1 and check.not_signed == 0
    check.require_signed()  # every decision signed: nothing to raise
    assert check.to_json()[0]["signer"] == "rev-7"
    set_review(root, _kind(labels, "nan"), verdict="reject", reason="privacy", reviewer="anon")
    unsigned = check_reviews(root)
    assert unsigned.not_signed == 1
    with pytest.raises(ReviewError, match="1 decision"):
        unsigned.require_signed()
