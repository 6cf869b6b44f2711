"""Subprocess for test_crash_safety: appends tiny episodes forever, finalizing after each.

Prints "committed <episodes>" after every finalize; the test kills it with SIGKILL.
"""

from __future__ import annotations

import sys
from pathlib import Path

from embodex.demo.synth import synth_episode, synth_meta
from embodex.format import DatasetWriter

root = Path(sys.argv[1])
start = int(sys.argv[2])
meta = synth_meta(image_size=32, cameras=("head",))
exists = (root / "embodex.json").exists()
writer = DatasetWriter(
    root, None if exists else meta, append=exists, shard_bytes=200_000, wait_for_lock=True
)
i = start
while True:
    writer.add_episode(synth_episode(meta, i, seed=99, duration_s=(0.3, 0.6)))
    writer.finalize()
    i += 1
    print(f"committed {writer.num_episodes}", flush=True)
