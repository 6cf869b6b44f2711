"""Cost of trust, as ratios against baselines measured in the same run.

* signing + verifying a QC-manifest-sized document as a DSSE envelope (canonical JSON, float
  check, PAE, base64, strict parse) vs raw Ed25519 sign + verify of the same JSON bytes;
* appending signed, fsynced, locked ledger entries vs appending the same lines with a plain
  ``write`` + ``fsync``;
* verifying a 2,000-entry ledger, and a signed contract file end to end.

Usage: python benchmarks/trust.py [--docs 300] [--entries 300] [--out .bench/trust]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from embodex.canonical import canonical_json, digest_json
from embodex.contract import render_template
from embodex.contract.file import ContractFile, verify_contract_document
from embodex.contract.yamlio import contract_from_yaml
from embodex.trust import PAYLOAD_TYPES, Ledger, Signer, open_envelope, sign_payload, verify_ledger
from embodex.trust.documents import sign_model
from embodex.trust.envelope import add_signature


def qc_like_manifest(episodes: int) -> dict[str, object]:
    """A QC-manifest-sized JSON object: per-episode verdicts with decimal-string values."""
    return {
        "profile": {"id": "humanoid-30fps-default", "digest": "sha256:" + "ab" * 32},
        "episodes": [
            {
                "episode_id": f"hubei:{i:06d}",
                "verdict": "PASS" if i % 7 else "WARN",
                "findings": [{"rule": "timing.jitter", "value": f"0.{i % 97:03d}"}],
            }
            for i in range(episodes)
        ],
        "aggregates": {"overall": {"pass_rate": "0.97", "success_rate": "0.85"}},
    }


def timed(fn: Callable[[], object], reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--entries", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="embodex-bench-trust-"))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.environ["EMBODEX_HOME"] = str(out / "home")
    centre = Signer.ephemeral("hubei-centre", "centre")
    buyer = Signer.ephemeral("agibot", "buyer")
    results: dict[str, float] = {}

    manifest = qc_like_manifest(1000)
    kind = PAYLOAD_TYPES["qc-manifest"]
    raw = canonical_json(manifest)

    def baseline_sign_verify() -> None:
        sig = centre.sign(raw)
        assert centre.identity.verifies(sig, raw)

    def envelope_sign_verify() -> None:
        env = sign_payload(kind, manifest, centre)
        open_envelope(env, [centre.identity], payload_type=kind)

    base = timed(baseline_sign_verify, args.docs)
    ours = timed(envelope_sign_verify, args.docs)
    results["envelope_ms"] = ours * 1e3
    results["raw_ed25519_ms"] = base * 1e3
    print(f"QC manifest of 1,000 episodes ({len(raw) / 1024:.0f} KiB canonical JSON)")
    print(f"  raw Ed25519 sign+verify of the bytes : {base * 1e3:7.3f} ms")
    print(f"  DSSE sign + verify + strict parse    : {ours * 1e3:7.3f} ms ({ours / base:.1f}x)")

    lines = [
        canonical_json({"seq": i, "ref": digest_json({"i": i}), "pad": "x" * 300}) + b"\n"
        for i in range(args.entries)
    ]
    plain = out / "plain.jsonl"

    def plain_append() -> None:
        fd = os.open(plain, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for line in lines:
                os.write(fd, line)
                os.fsync(fd)
        finally:
            os.close(fd)

    ledger = Ledger(out / "ledger.jsonl")

    def ledger_append() -> None:
        for i in range(args.entries):
            ledger.append(centre, "notice-sent", digest_json({"i": i}), note="benchmark")

    base = timed(plain_append, 1) / args.entries
    ours = timed(ledger_append, 1) / args.entries
    results["ledger_append_ms"] = ours * 1e3
    print(f"ledger append ({args.entries} entries, each fsynced)")
    print(f"  plain write + fsync per line         : {base * 1e3:7.3f} ms")
    print(
        f"  signed, locked, chained, head signed : {ours * 1e3:7.3f} ms ({ours / base:.1f}x; "
        "two fsyncs per entry: line and head)"
    )

    big = Ledger(out / "big.jsonl")
    for i in range(2000):
        big.append(centre, "notice-sent", digest_json({"i": i}))
    t = timed(lambda: verify_ledger(big.path, [centre.identity]), 3)
    results["ledger_verify_2000_ms"] = t * 1e3
    print(f"verify a 2,000-entry ledger            : {t * 1e3:7.1f} ms ({2000 / t:,.0f} entries/s)")

    text = render_template(centre=centre.identity, buyer=buyer.identity, start=date(2026, 1, 5))
    contract = contract_from_yaml(text)
    doc = ContractFile(envelope=add_signature(sign_model("contract", contract, centre), buyer))
    trust = [centre.identity, buyer.identity]
    t = timed(lambda: verify_contract_document(doc, trust, at=date(2026, 3, 1)), 50)
    results["contract_verify_ms"] = t * 1e3
    print(f"verify a signed contract (both parties): {t * 1e3:7.2f} ms")
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
