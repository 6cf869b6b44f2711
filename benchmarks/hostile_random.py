"""The hostile-channel suite, randomised: many random damages to a channel with a history.

``tests/test_hostile.py`` runs a fixed table of attacks in CI; this script runs the longer,
random variant. Each round builds the history of the test suite (batch 1 installed by the
buyer, the head refreshed and seen, batch 2 published and waiting — the same builder), applies
1 to 3 random damages to random objects of the channel (a flipped byte, a truncation, padding
up to a few MiB, random bytes, deletion, a deeply nested JSON document, a symbolic link on a
folder channel) or to the contract draft a centre signs (aliases, deep nesting, bytes that
are not UTF-8, absurd numbers), then runs the victim's command as a user would and checks the
invariants:

* no traceback and no ``internal error``: every outcome is a result or a one-line error;
* a refusal (non-zero exit) leaves the buyer's dataset, receipts and ledger as they were;
* a pull that succeeds installs only bytes the centre signed: the buyer's dataset verifies,
  and a batch it accepted is byte for byte the one published;
* every download stops at its declared size plus at most one 1 MiB chunk per file.

Usage:
    python benchmarks/hostile_random.py [--rounds 200] [--seed 1] [--s3]

It prints the outcomes per kind of damage and every violation, and exits 1 when there is one.
``--s3`` runs the channel on a moto server this script starts (EMBODEX_BENCH_S3_ENDPOINT and
the AWS_* variables name another endpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "cli"))

from embodex.config import ledger_dir  # noqa: E402
from embodex.delivery import open_channel  # noqa: E402
from embodex.delivery.documents import HEAD_KEY, batch_prefix  # noqa: E402
from embodex.format import verify_dataset  # noqa: E402
from embodex_cli.main import main  # noqa: E402
from tests._delivery import at  # noqa: E402
from tests.test_hostile import World, _build, _snapshot  # noqa: E402

CHUNK = 1024 * 1024


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


# -- damages -----------------------------------------------------------------------------------


def _object(w: World, rng: random.Random) -> str:
    keys = [o.key for o in w.channel.list()]
    if not w.url.startswith("s3://"):  # a link planted by an earlier damage stays as it is
        keys = [k for k in keys if not (Path(w.url) / k).is_symlink()]
    return rng.choice(keys)


def flip(w: World, rng: random.Random) -> str:
    key = _object(w, rng)
    data = bytearray(w.channel.get_bytes(key))
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    w.channel.put_bytes(key, bytes(data))
    return key


def truncate(w: World, rng: random.Random) -> str:
    key = _object(w, rng)
    data = w.channel.get_bytes(key)
    w.channel.put_bytes(key, data[: rng.randrange(len(data) + 1)])
    return key


def pad(w: World, rng: random.Random) -> str:
    key = _object(w, rng)
    extra = rng.choice([1, 100, 70 * 1024, 3 * CHUNK])
    w.channel.put_bytes(key, w.channel.get_bytes(key) + rng.randbytes(extra))
    return key


def garbage(w: World, rng: random.Random) -> str:
    key = _object(w, rng)
    w.channel.put_bytes(key, rng.randbytes(rng.randrange(1, 4096)))
    return key


def delete(w: World, rng: random.Random) -> str:
    key = _object(w, rng)
    w.channel.delete(key)
    return key


def nest(w: World, rng: random.Random) -> str:
    key = rng.choice([HEAD_KEY, f"{batch_prefix(2)}/manifest.json", f"{batch_prefix(2)}/qc.json"])
    depth = rng.choice([100, 5_000, 60_000])
    w.channel.put_bytes(key, b'{"payload": ' + b"[" * depth + b"]" * depth + b"}")
    return key


def link(w: World, rng: random.Random) -> str:
    if w.url.startswith("s3://"):
        return flip(w, rng)
    key = _object(w, rng)
    path = Path(w.url) / key
    path.unlink()
    path.symlink_to(rng.choice([w.src / "embodex.json", w.tmp / "outside.txt", Path("/etc")]))
    return key


CHANNEL_DAMAGES: dict[str, Callable[[World, random.Random], str]] = {
    "flip": flip,
    "truncate": truncate,
    "pad": pad,
    "garbage": garbage,
    "delete": delete,
    "nest": nest,
    "link": link,
}


def contract_input(w: World, rng: random.Random) -> str:
    text = (w.tmp / "contract.yaml").read_text()
    kind = rng.choice(["alias", "deep", "bytes", "number", "splice"])
    if kind == "alias":
        text += "x: &a [1, 2]\ny: [*a, *a, *a]\n"
    elif kind == "deep":
        depth = rng.choice([70, 3000])
        text += "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    elif kind == "bytes":
        data = bytearray(text.encode())
        data[rng.randrange(len(data))] = rng.choice([0xFF, 0xC3, 0x80])
        (w.tmp / "draft.yaml").write_bytes(bytes(data))
        return kind
    elif kind == "number":
        digits = rng.choice([16, 30, 400])
        text = re.sub(
            r"per_accepted_hour: .*", f"per_accepted_hour: '{'9' * digits}.5'", text, count=1
        )
    else:
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice(["[", "{", ": :", "\t", "&", "*x"]) + text[cut:]
    (w.tmp / "draft.yaml").write_text(text)
    return kind


# -- one round ---------------------------------------------------------------------------------


def one_round(rng: random.Random, tmp: Path, url: str, outcomes: Counter[str]) -> list[str]:
    w = _build(tmp, "s3" if url.startswith("s3://") else "folder", url)
    (w.tmp / "outside.txt").write_text("not the channel's")
    problems: list[str] = []
    if rng.random() < 0.15:
        kind = contract_input(w, rng)
        code, _, err = run_cli(
            ["contract", "sign", str(w.tmp / "draft.yaml"), "--key", "hubei-centre"]
        )
        outcomes[f"input-{kind}: {'refused' if code else 'signed'}"] += 1
        _check_output(code, err, f"input {kind}", problems)
        return problems
    declared = {
        f.path: f.size
        for f in open_channel(w.url, w.terms, at=at(8)).read_manifest(2, None)[0].files
    }
    published = {
        key: w.channel.get_bytes(key) for key in (o.key for o in w.channel.list(batch_prefix(2)))
    }
    names = [rng.choice(list(CHANNEL_DAMAGES)) for _ in range(rng.randint(1, 3))]
    hit = [f"{name}:{CHANNEL_DAMAGES[name](w, rng)}" for name in names]
    victims = [w.store / "dataset", w.store / "receipts", ledger_dir()]
    before = _snapshot(victims)
    code, out, err = run_cli(w.pull_cmd(8, "--json"))
    label = "+".join(sorted(set(names)))
    what = f"{label} ({', '.join(hit)})"
    _check_output(code, err, what, problems)
    if code != 0:
        outcomes[f"{label}: refused"] += 1
        if _snapshot(victims) != before:
            problems.append(f"{what}: refused, but the buyer's files changed")
        return problems
    report = json.loads(out)
    for batch in report["batches"]:
        outcomes[f"{label}: batch {batch['batch']} {batch['outcome']}"] += 1
        limit = sum(declared.values()) + CHUNK * len(declared)
        if batch["bytes_downloaded"] > limit:
            problems.append(f"{what}: {batch['bytes_downloaded']} bytes fetched, bound {limit}")
        if batch["batch"] == 2 and batch["accepted"]:
            for path in declared:
                key = f"{batch_prefix(2)}/{path}"
                if (
                    key in published
                    and w.channel.exists(key)
                    and (w.channel.get_bytes(key) != published[key])
                ):
                    problems.append(f"{what}: batch 2 accepted with {path} altered")
    if not report["batches"]:
        outcomes[f"{label}: nothing new"] += 1
    verify = verify_dataset(w.store / "dataset", raise_on_error=False)
    if not verify.ok:
        problems.append(f"{what}: the installed dataset does not verify: {verify.problems[:2]}")
    return problems


def _check_output(code: int, err: str, what: str, problems: list[str]) -> None:
    if "Traceback" in err or "internal error" in err:
        problems.append(f"{what}: crashed: {err.strip()[-300:]}")
    elif code != 0:
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"{what}: not a one-line error: {err.strip()[:300]}")


@contextlib.contextmanager
def s3_channel() -> Iterator[Callable[[], str]]:
    """URLs of fresh prefixes on an S3 endpoint (moto started here unless one is named)."""
    from tests.conftest import _free_port, start_moto, stop_process

    proc: Any = None
    endpoint = os.environ.get("EMBODEX_BENCH_S3_ENDPOINT")
    if not endpoint:
        port = _free_port()
        proc = start_moto(port)
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3

    bucket = f"embodex-hostile-{uuid.uuid4().hex[:10]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    try:
        yield lambda: f"s3://{bucket}/r-{uuid.uuid4().hex[:10]}"
    finally:
        if proc is not None:
            stop_process(proc)


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--s3", action="store_true", help="channel on S3 (moto unless named)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="embodex-hostile-")))
        urls = stack.enter_context(s3_channel()) if args.s3 else None
        for i in range(args.rounds):
            tmp = base / f"round-{i:04d}"
            tmp.mkdir()
            os.environ["EMBODEX_HOME"] = str(tmp / "home")
            url = urls() if urls is not None else str(tmp / "channel")
            problems += one_round(rng, tmp, url, outcomes)
    seconds = time.perf_counter() - started
    print(f"{args.rounds} rounds (seed {args.seed}, {'S3' if args.s3 else 'folder'}) in "
          f"{seconds:.1f} s")  # fmt: skip
    for outcome, count in sorted(outcomes.items()):
        print(f"  {count:5d}  {outcome}")
    for problem in problems:
        print(f"VIOLATION {problem}")
    print("OK: no violation" if not problems else f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main_())
