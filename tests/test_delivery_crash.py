"""A pull SIGKILLed while it installs a batch or marks a revocation: the buyer's dataset
stays loadable with its QC filter at every point (episodes and QC manifest switch together),
and the next pull finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from embodex.delivery import publish, pull, revoke_batch
from embodex.delivery.generations import KEEP
from embodex.format import open_dataset
from embodex.qc import load_qc_manifest
from embodex.train import load
from embodex.trust import Signer

from ._delivery import PROFILE, at, centre_dataset, contract

HELPER = Path(__file__).with_name("_kill_installer.py")


def _killed_pull(url: str, terms: Path, store: Path, when: str, point: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, str(HELPER), url, str(terms), str(store), when, point],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr
    assert "dying" in proc.stdout


def _training_ids(store: Path) -> set[str]:
    """What training sees (the QC filter on: the QC manifest must match the dataset)."""
    ds = open_dataset(store / "dataset")
    assert load_qc_manifest(store / "dataset").dataset_digest == ds.digest
    return set(load(store / "dataset", horizon=5, cameras=[], qc="pass+warn").episode_ids)


def _generations(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "generations").iterdir())


@dataclass
class _Trade:
    url: str
    terms: Path
    buyer: Signer
    store: Path
    first: list[str]  # the episodes of batch 1, then of batch 2
    second: list[str]


def _two_batches(tmp_path: Path, *, pull_both: bool) -> _Trade:
    """Batch 1 (3 episodes) published and pulled, batch 2 (2 episodes) published (and
    pulled with ``pull_both``)."""
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 3)
    r1 = publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    pull(url, terms, buyer, store, now=at(5, 12))
    centre_dataset(src, 2, first=3)
    r2 = publish(src, url, terms, centre, profile=PROFILE, now=at(6))
    if pull_both:
        pull(url, terms, buyer, store, now=at(6, 12))
        revoke_batch(url, terms, centre, 1, "operator consent withdrawn", now=at(7))
    return _Trade(url, terms, buyer, store, r1.episodes, r2.episodes)


@pytest.mark.parametrize("point", ["qc", "switch", "switched"])
def test_pull_killed_while_installing_leaves_a_loadable_dataset(tmp_path: Path, point: str) -> None:
    t = _two_batches(tmp_path, pull_both=False)
    url, terms, buyer, store = t.url, t.terms, t.buyer, t.store
    _killed_pull(url, str(terms), store, at(6, 12).isoformat(), point)
    # dead mid-install: training still opens the dataset, with its QC filter, and sees
    # either the old episodes or the new ones — never a dataset its QC does not describe
    switched = point == "switched"
    want = set(t.first) | (set(t.second) if switched else set())
    assert _training_ids(store) == want

    report = pull(url, terms, buyer, store, now=at(6, 13))
    assert [(b.number, b.accepted) for b in report.batches] == [(2, 2)]
    assert _training_ids(store) == set(t.first) | set(t.second)
    assert len(open_dataset(store / "dataset")) == 5
    assert not [g for g in _generations(store) if g.endswith(".partial")]
    assert pull(url, terms, buyer, store, now=at(6, 14)).batches == []


@pytest.mark.parametrize("point", ["qc", "switched"])
def test_pull_killed_while_marking_a_revocation_leaves_a_loadable_dataset(
    tmp_path: Path, point: str
) -> None:
    t = _two_batches(tmp_path, pull_both=True)  # and batch 1 revoked
    url, terms, buyer, store = t.url, t.terms, t.buyer, t.store
    _killed_pull(url, str(terms), store, at(7, 12).isoformat(), point)
    everything = set(t.first) | set(t.second)
    assert _training_ids(store) == (set(t.second) if point == "switched" else everything)

    report = pull(url, terms, buyer, store, now=at(7, 13))
    assert sorted(report.revoked.get(1, t.first)) == sorted(t.first)
    assert _training_ids(store) == set(t.second)


def test_old_generations_are_pruned_and_readers_keep_theirs(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    opened = None
    for week in range(KEEP + 2):
        centre_dataset(src, 1, first=week)
        publish(src, url, terms, centre, profile=PROFILE, now=at(5 + week))
        pull(url, terms, buyer, store, now=at(5 + week, 12))
        if week == 0:
            opened = load(store / "dataset", horizon=5, cameras=[])
            first_gen = (store / "dataset").resolve()
        if week == KEEP - 1:
            # a reader opened at week 0 still reads its generation, unchanged
            assert opened is not None and len(opened.episode_ids) == 1
            assert first_gen.exists()
    assert (store / "dataset").is_symlink()
    gens = _generations(store)
    assert len(gens) == KEEP and gens[-1] == (store / "dataset").resolve().name
    assert len(open_dataset(store / "dataset")) == KEEP + 2
    # shards are shared between generations, not copied
    shard = next((store / "generations" / gens[0] / "data").glob("shard-*.arrow"))
    assert shard.stat().st_nlink >= 2
