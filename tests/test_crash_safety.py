"""A writer killed at any moment leaves the last finalized dataset fully readable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embodex.format import DatasetWriter, open_dataset
from embodex.synth import synth_episode, synth_meta

HELPER = Path(__file__).with_name("_kill_writer.py")


def _run_and_kill(root: Path, start: int, delay: float) -> list[int]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(root), str(start)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")]


def test_sigkill_at_random_moments_never_breaks_the_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    rng = random.Random(1234)
    last_seen = 0
    start = 0
    for _round in range(8):
        committed = _run_and_kill(root, start, delay=rng.uniform(1.2, 2.5))
        if not (root / "embodex.json").exists():
            assert not committed
            continue
        ds = open_dataset(root)
        report = ds.verify()
        assert report.ok
        # the dataset holds every episode reported committed, and at most one more (a
        # finalize that reached its commit point just before the kill)
        floor = committed[-1] if committed else last_seen
        assert floor <= len(ds) <= floor + 1, (committed, len(ds))
        assert len(ds) >= last_seen
        last_seen = len(ds)
        start = 1000 * (_round + 1)  # new episode ids for the next process
    assert last_seen > 0, "the writer never got to commit; raise the delays"
    # the next writer recovers: leftover partial or orphan shards are cleaned, appends work
    meta = synth_meta(image_size=32, cameras=("head",))
    with DatasetWriter(root, append=True) as w:
        w.add_episode(synth_episode(meta, 10**6, seed=99, duration_s=(0.3, 0.6)))
    ds = open_dataset(root)
    report = ds.verify()
    assert len(ds) == last_seen + 1 and not report.notes


@pytest.mark.parametrize("crash_at", range(12))
def test_crash_at_every_step_of_finalize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """Simulate a power cut at each file operation of a commit: readers see old or new."""
    import embodex.format.layout as layout_mod
    import embodex.format.writer as writer_mod
    import embodex.fsutil as fsutil_mod

    meta = synth_meta(image_size=32, cameras=("head",))
    root = tmp_path / "ds"
    with DatasetWriter(root, meta) as w:
        w.add_episode(synth_episode(meta, 0, seed=5, duration_s=(0.3, 0.5)))
    old = open_dataset(root).digest

    calls = {"n": 0}

    class PowerCut(BaseException):
        pass

    real_replace = os.replace

    def flaky_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == crash_at + 1:
            raise PowerCut()
        real_replace(src, dst)

    w = DatasetWriter(root, append=True, shard_bytes=1)
    w.add_episode(synth_episode(meta, 1, seed=5, duration_s=(0.3, 0.5)))
    w.add_episode(synth_episode(meta, 2, seed=5, duration_s=(0.3, 0.5)))
    for mod in (writer_mod.os, layout_mod.os, fsutil_mod.os):
        monkeypatch.setattr(mod, "replace", flaky_replace)
    crashed = False
    try:
        w.finalize()
    except PowerCut:
        crashed = True
    monkeypatch.undo()
    w._lock.release()  # the process "died": the OS would drop its lock

    ds = open_dataset(root)  # readable in every state
    assert ds.digest in (old, ds.digest)
    assert len(ds) in (1, 3)
    if not crashed:
        assert len(ds) == 3
    ds.verify()
    with DatasetWriter(root, append=True) as w2:  # recovery, then append
        w2.add_episode(synth_episode(meta, 3, seed=5, duration_s=(0.3, 0.5)))
    after = open_dataset(root)
    assert len(after) == len(ds) + 1
    assert after.verify().ok and not after.verify().notes
