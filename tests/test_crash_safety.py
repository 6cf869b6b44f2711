"""A writer killed at any moment leaves the last finalized dataset fully readable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from embodex.demo.synth import synth_episode, synth_meta
from embodex.format import DatasetMeta, DatasetWriter, open_dataset

HELPER = Path(__file__).with_name("_kill_writer.py")


def _run_and_kill(root: Path, start: int, delay: float) -> list[int]:
    """Start a writer, wait until it has committed once (so a loaded machine cannot make
    the kill land before any commit), let it run ``delay`` more seconds, SIGKILL it.
    Returns the episode counts it reported committed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(root), str(start)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(120)
    if not first or not first[0].startswith("committed"):
        proc.kill()
        proc.communicate(timeout=30)
        pytest.fail(f"the writer did not commit within 120 s (said {first!r})")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    lines = first + out.splitlines()
    return [int(line.split()[1]) for line in lines if line.startswith("committed")]


def test_sigkill_at_random_moments_never_breaks_the_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rng = random.Random(1234)
    last_seen = 0
    start = 0
    for _round in range(8):
        committed = _run_and_kill(root, start, delay=rng.uniform(0.0, 1.2))
        assert committed, "every round commits at least once before the kill"
        ds = open_dataset(root)
        report = ds.verify()
        assert report.ok
        # the dataset holds every episode reported committed, and at most one more (a
        # finalize that reached its commit point just before the kill)
        floor = committed[-1]
        assert floor <= len(ds) <= floor + 1, (committed, len(ds))
        assert len(ds) >= last_seen
        last_seen = len(ds)
        start = 1000 * (_round + 1)  # new episode ids for the next process
    # the next writer recovers: leftover partial or orphan shards are cleaned, appends work
    meta = synth_meta(image_size=32, cameras=("head",))
    with DatasetWriter(root, append=True) as w:
        w.add_episode(synth_episode(meta, 10**6, seed=99, duration_s=(0.3, 0.6)))
    ds = open_dataset(root)
    report = ds.verify()
    assert len(ds) == last_seen + 1 and not report.notes


class PowerCut(BaseException):
    pass


def _append_two(root: Path, meta: DatasetMeta) -> DatasetWriter:
    """A writer holding two new episodes in one open shard (the default 256 MiB shard size:
    no roll-over), so finalize itself seals the shard and renames it."""
    w = DatasetWriter(root, append=True)
    w.add_episode(synth_episode(meta, 1, seed=5, duration_s=(0.3, 0.5)))
    w.add_episode(synth_episode(meta, 2, seed=5, duration_s=(0.3, 0.5)))
    return w


def _dataset_with_one(root: Path, meta: DatasetMeta) -> str:
    with DatasetWriter(root, meta) as w:
        w.add_episode(synth_episode(meta, 0, seed=5, duration_s=(0.3, 0.5)))
    return open_dataset(root).digest


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """The os.replace calls of an uninterrupted finalize (by destination), and its digest."""
    meta = synth_meta(image_size=32, cameras=("head",))
    root = tmp_path_factory.mktemp("reference") / "ds"
    _dataset_with_one(root, meta)
    w = _append_two(root, meta)
    calls: list[str] = []
    real = os.replace

    def counting(src: str, dst: str) -> None:
        calls.append(str(Path(dst).relative_to(root)))
        real(src, dst)

    mp = pytest.MonkeyPatch()
    mp.setattr(os, "replace", counting)
    try:
        digest = w.close()
    finally:
        mp.undo()
    return calls, digest


@pytest.mark.parametrize("crash_at", range(8))
def test_crash_at_every_step_of_finalize(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: tuple[list[str], str],
    crash_at: int,
) -> None:
    """A power cut at each file rename of a commit: readers see the old dataset until the
    commit point, the new one from it on, and the next writer recovers either way."""
    calls, new_digest = reference
    # the shard rename, the commit point, then the files moved out of the journal
    assert calls[0] == "data/shard-000001.arrow" and calls[1] == ".embodex/commit"
    assert len(calls) == 6
    commit_at = calls.index(".embodex/commit")
    meta = synth_meta(image_size=32, cameras=("head",))
    root = tmp_path / "ds"
    old = _dataset_with_one(root, meta)
    assert old != new_digest

    done = {"n": 0}
    real_replace = os.replace

    def flaky_replace(src: str, dst: str) -> None:
        if done["n"] == crash_at:
            raise PowerCut()
        done["n"] += 1
        real_replace(src, dst)

    w = _append_two(root, meta)
    monkeypatch.setattr(os, "replace", flaky_replace)
    crashed = False
    try:
        w.finalize()
    except PowerCut:
        crashed = True
    monkeypatch.undo()
    w._lock.release()  # the process "died": the OS would drop its lock

    assert crashed == (crash_at < len(calls))
    assert done["n"] == min(crash_at, len(calls))
    ds = open_dataset(root)  # readable in every state
    if crash_at <= commit_at:  # the commit rename did not happen: the old dataset
        assert (ds.digest, len(ds)) == (old, 1)
    else:  # from the commit point on: the new one, even with the journal half applied
        assert (ds.digest, len(ds)) == (new_digest, 3)
    assert ds.verify().ok
    with DatasetWriter(root, append=True) as w2:  # recovery, then append
        w2.add_episode(synth_episode(meta, 3, seed=5, duration_s=(0.3, 0.5)))
    after = open_dataset(root)
    assert len(after) == len(ds) + 1
    report = after.verify()
    assert report.ok and not report.notes
    assert not list((root / "data").glob("*.partial"))
