"""QC accuracy on a realistic recorder's takes: recall per fault class, precision per rule,
and the false-positive rate on clean takes (issue 15).

The corpus (:mod:`embodex.demo.recorder`): clean takes with a jittered, drifting joint clock,
exact 1/fps video times, one-arm and two-arm tasks with dwells, wrist cameras, no calibration
and no limits shipped (the profile declares the limits); and takes with one known fault
each. A fault counts as **detected** when its rule flags the take with a frame range that
overlaps the fault's frames (or with no frame range, for whole-take faults).

Targets: every fault class detected in 100 % of its takes; on clean takes 0 FAIL and at most
1 % WARN; QC time (images included) reported against reading the same columns.

Usage: python benchmarks/qc_accuracy.py [--clean 200] [--per-fault 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from embodex.demo.recorder import FAULTS, corpus, corpus_meta, corpus_profile
from embodex.format import DatasetWriter
from embodex.qc import run_qc


def measure(root: Path, clean: int, per_fault: int, seed: int) -> dict[str, Any]:
    """Write the corpus at ``root``, run QC, and score it."""
    meta = corpus_meta()
    truth: list[tuple[str, str | None, tuple[int, int] | None]] = []
    with DatasetWriter(root, meta) as w:
        for take in corpus(meta, clean=clean, per_fault=per_fault, seed=seed):
            w.add_episode(take.episode)
            truth.append((take.episode_id, take.fault, take.frames))
    t = time.perf_counter()
    result = run_qc(root, corpus_profile())
    qc_s = time.perf_counter() - t
    detected: Counter[str] = Counter()
    takes: Counter[str] = Counter()
    flagged: dict[str, int] = defaultdict(int)  # rule -> takes it flagged
    right: dict[str, int] = defaultdict(int)  # ... that had that rule's fault (or side effect)
    clean_verdicts: Counter[str] = Counter()
    clean_rules: Counter[str] = Counter()
    for eid, fault, frames in truth:
        ep = result.episode(eid)
        rules = {f.rule for f in ep.findings}
        for rule in rules:
            flagged[rule] += 1
            if fault is not None and (rule == FAULTS[fault].rule or rule in FAULTS[fault].also):
                right[rule] += 1
        if fault is None:
            clean_verdicts[ep.auto_verdict] += 1
            clean_rules.update(rules)
            continue
        takes[fault] += 1
        spec = FAULTS[fault]
        assert frames is not None
        a, b = frames
        if any(
            f.rule == spec.rule
            and (f.frame_start is None or (f.frame_start < b and (f.frame_end or 0) > a))
            for f in ep.findings
        ):
            detected[fault] += 1
    return {
        "episodes": len(truth),
        "frames": result.frames,
        "qc_s": qc_s,
        "recall": {k: (detected[k], takes[k]) for k in FAULTS},
        "precision": {r: (right[r], flagged[r]) for r in sorted(flagged)},
        "clean": dict(clean_verdicts),
        "clean_rules": dict(clean_rules),
        "notes": [n.message for n in result.notes],
    }


def report(m: dict[str, Any]) -> None:
    """Print the scores."""
    print(
        f"QC accuracy corpus: {m['episodes']} takes, {m['frames']:,} frames, QC (images "
        f"sampled) {m['qc_s']:.2f} s"
    )
    print(f"  {'fault class':<16} {'rule':<24} recall")
    for fault, (hit, n) in m["recall"].items():
        print(f"  {fault:<16} {FAULTS[fault].rule:<24} {hit}/{n} = {hit / max(n, 1):.0%}")
    print(f"  {'rule':<24} precision (takes flagged that carry its fault or a side effect)")
    for rule, (ok, n) in m["precision"].items():
        print(f"  {rule:<24} {ok}/{n} = {ok / max(n, 1):.0%}")
    c = m["clean"]
    total = max(sum(c.values()), 1)
    print(
        f"  clean takes: {c.get('PASS', 0)} PASS, {c.get('WARN', 0)} WARN "
        f"({c.get('WARN', 0) / total:.1%}, target <= 1%), {c.get('FAIL', 0)} FAIL (target 0)"
        + (f"; rules on clean takes: {m['clean_rules']}" if m["clean_rules"] else "")
    )
    for note in m["notes"]:
        print(f"  dataset note: {note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clean", type=int, default=200)
    ap.add_argument("--per-fault", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report(measure(Path(tmp) / "corpus", args.clean, args.per_fault, args.seed))


if __name__ == "__main__":
    main()
