"""examples/centre_publish.py and examples/buyer_pull.sh, run as a user would (short form)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from embodex.delivery import read_receipt
from embodex.delivery.channel import open_channel
from embodex.format import open_dataset
from embodex.qc import default_profile

from ._delivery import at, contract

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_centre_publishes_a_day_and_the_buyer_pulls_it(tmp_path: Path) -> None:
    terms, _, _ = contract(tmp_path, profile_digest=default_profile().digest)
    channel, store = tmp_path / "channel", tmp_path / "buyer"
    centre = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "centre_publish.py"),
         "--dataset", str(tmp_path / "centre"), "--channel", str(channel),
         "--contract", str(terms), "--key", "hubei-centre", "--day", "2", "--episodes", "3",
         "--defect", "nan", "--at", at(5).isoformat()],
        capture_output=True, text=True, env=_env(), timeout=300, check=False,
    )  # fmt: skip
    assert centre.returncode == 0, centre.stderr
    assert "packaged 3 episodes" in centre.stdout and "1 fail" in centre.stdout
    assert "published batch 1: 3 episodes" in centre.stdout
    assert len(open_dataset(tmp_path / "centre")) == 3

    run = subprocess.run(
        ["bash", str(ROOT / "examples" / "buyer_pull.sh"), str(channel), str(terms), "agibot",
         str(store), at(5, 12).isoformat()],
        capture_output=True, text=True, env=_env(), timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "batch 1:" in run.stdout and "amount due" in run.stdout
    receipt = read_receipt(open_channel(channel, terms), 1)
    assert (
        receipt is not None and len(receipt.receipt.accepted) + len(receipt.receipt.rejected) == 3
    )
    assert len(open_dataset(store / "dataset")) == len(receipt.receipt.accepted)

    usage = subprocess.run(
        ["bash", str(ROOT / "examples" / "buyer_pull.sh")],
        capture_output=True, text=True, env=_env(), timeout=60, check=False,
    )  # fmt: skip
    assert usage.returncode == 2 and "Usage" in usage.stderr
