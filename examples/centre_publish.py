"""A collection centre's day: package the day's recordings, check them, publish a batch.

1. package — the day's teleoperation episodes are appended to the centre's dataset (here the
   recorder's output is synthesised by embodex.demo.synth, in the scenes and skills the contract
   covers; a real centre would run `embodex package RAW ... --from agibot` instead);
2. check — QC with the contract's profile over the new episodes, counts printed;
3. publish — the episodes never delivered before become the channel's next batch: staged,
   QC'd and signed, uploaded in order (data, QC, manifest, head), recorded in the ledger.

Usage:
    python examples/centre_publish.py --dataset centre/all --channel s3://acme/deliveries \\
        --contract contract.signed.json --key hubei-centre --day 3 [--defect nan]
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from embodex.contract import Violation, verify_contract_file
from embodex.delivery import publish
from embodex.demo.defects import inject
from embodex.demo.synth import SCENES, SKILLS, synth_episode, synth_meta
from embodex.format import DatasetWriter, open_dataset
from embodex.qc import run_qc
from embodex.trust import load_signer


def package_day(
    dataset: Path, contract: Path, day: int, episodes: int, defect: str | None
) -> list[str]:
    """Append one day of recordings (in the contract's scope) to the centre's dataset."""
    scope = verify_contract_file(contract).contract.scope  # what the buyer asked for
    scenes = [s for s in SCENES if s.scene_type in scope.scene_types]
    skills = [s for s in SKILLS if s.skill in scope.skills]
    meta = synth_meta(image_size=64, name="hubei-centre-recordings")
    exists = (dataset / "embodex.json").exists()
    ids = []
    with DatasetWriter(dataset, None if exists else meta, append=exists) as writer:
        for i in range(episodes):
            index = day * 1000 + i
            ep = synth_episode(
                meta, index, seed=day, scene=scenes[index % len(scenes)],
                skill=skills[i % len(skills)], duration_s=(6.0, 12.0), success_rate=0.95,
            )  # fmt: skip
            if defect and i == episodes - 1:
                ep = inject(ep, defect, meta, seed=day)  # a sensor glitch slipped through
            writer.add_episode(ep)
            ids.append(ep.meta.episode_id)
    return ids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", type=Path, required=True, help="the centre's dataset")
    p.add_argument("--channel", required=True, help="folder, file:// or s3:// URL")
    p.add_argument("--contract", type=Path, required=True, help="signed contract file")
    p.add_argument("--key", required=True, help="the centre's key name")
    p.add_argument("--day", type=int, default=1, help="which day (seeds the recordings)")
    p.add_argument("--episodes", type=int, default=12)
    p.add_argument("--defect", help="break the day's last episode (embodex.demo.defects kind)")
    p.add_argument("--at", help="publish as of this ISO 8601 time (demos)")
    p.add_argument(
        "--replaces", type=int, metavar="N", help="the day's takes replace batch N's rejects"
    )
    args = p.parse_args(argv)

    ids = package_day(args.dataset, args.contract, args.day, args.episodes, args.defect)
    day = open_dataset(args.dataset).select(ids)
    noun = "episode" if len(ids) == 1 else "episodes"
    print(f"packaged {len(ids)} {noun} ({day.hours:.3f} h) into {args.dataset}")

    result = run_qc(day)  # the contract's profile is the built-in one in this example
    counts = result.counts()
    print(f"QC: {counts['PASS']} pass, {counts['WARN']} warn, {counts['FAIL']} fail", end="")
    print(f" ({', '.join(result.failed)})" if result.failed else "")

    now = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else None

    def warn(warnings: list[Violation]) -> None:  # called before anything is uploaded
        for w in warnings:
            print(f"warning (before upload): {w.rule}: {w.message}", file=sys.stderr, flush=True)

    signer = load_signer(args.key)
    published = publish(
        args.dataset, args.channel, args.contract, signer, now=now, on_warnings=warn,
        replacement_for=args.replaces,
    )  # fmt: skip
    if published.number is None:
        print("nothing new to publish")
        return 0
    print(
        f"published batch {published.number}: {len(published.episodes)} {noun}, "
        f"{published.hours} h, {published.files} files, head sequence {published.head_sequence}"
        + (f", replacing batch {args.replaces}'s rejects" if args.replaces else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
