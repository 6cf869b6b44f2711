"""Delivery speed against an S3 endpoint, with plain boto3 as the baseline in the same run.

Measured on the same endpoint and objects, with the same number of parallel transfers:

* publish — the upload phase of ``embodex.delivery.publish`` (batch files, QC, signed
  manifest and head) versus boto3 ``upload_file`` of the same staged files;
* pull — the download phase of ``embodex.delivery.pull`` (parallel, resumable, every file
  hash-checked against the signed manifest, the dataset checked against it) versus boto3
  downloads of the same objects without any check (the faster of ``get_object`` streamed to
  a file and ``download_file``);
* batch n+1 — the bytes a pull of batch 2 moves, against the size of batch 2's files.

The pull's other work (re-running the contract's QC on the batch, installing it) is
reported beside, not folded into the ratio: it is checking, not transfer.

Usage:
    python benchmarks/delivery.py [--episodes 48] [--image-size 128] [--workers 8] [--runs 9]
                                  [--strict]

Each run times every contender once, in an order rotated from run to run (interleaved: a load
spike hits one run of each, not all runs of one); the verdict is on the median of the per-run
ratios, printed with their quartiles and range, and says OK or MISSED per target. The exit
status is 0 unless --strict is given and a target is missed.

Endpoint: EMBODEX_BENCH_S3_ENDPOINT with the AWS_* credentials, else a moto server this script
starts on a free loopback port.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from embodex.contract import render_template, sign_contract  # noqa: E402
from embodex.delivery import publish, pull  # noqa: E402
from embodex.delivery.staging import batch_files, stage_batch  # noqa: E402
from embodex.demo.synth import SCENES, SKILLS, synth_episode, synth_meta  # noqa: E402
from embodex.format import DatasetWriter, open_dataset  # noqa: E402
from embodex.qc import default_profile  # noqa: E402
from embodex.storage import open_storage  # noqa: E402
from embodex.trust import generate_key, load_signer  # noqa: E402

START = date(2026, 1, 5)


@contextmanager
def s3_endpoint() -> Iterator[str]:
    external = os.environ.get("EMBODEX_BENCH_S3_ENDPOINT")
    if external:
        os.environ["AWS_ENDPOINT_URL"] = external
        yield external
        return
    from tests.conftest import _free_port, start_moto

    port = _free_port()
    proc = start_moto(port)
    try:
        url = f"http://127.0.0.1:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        yield f"{url} (moto_server)"
    finally:
        proc.terminate()
        proc.wait(10)


def at(days: int, hour: int = 10) -> datetime:
    return datetime(START.year, START.month, START.day, hour, tzinfo=UTC) + timedelta(days=days)


def make_contract(work: Path) -> Path:
    generate_key("centre", "centre")
    generate_key("buyer", "buyer")
    centre, buyer = load_signer("centre"), load_signer("buyer")
    doc = yaml.safe_load(
        render_template(
            centre=centre.identity,
            buyer=buyer.identity,
            start=START,
            qc_profile_digest=default_profile().digest,
        )
    )
    doc["scope"]["skills"] = [s.skill for s in SKILLS]
    doc["volume"] = {"total_hours": "100", "min_hours_per_delivery": "0.01"}
    draft = work / "contract.yaml"
    draft.write_text(yaml.safe_dump(doc, sort_keys=False))
    offered = sign_contract(draft, centre, at=START - timedelta(days=3)).path
    sign_contract(offered, buyer, at=START - timedelta(days=3))
    return offered


def make_episodes(path: Path, count: int, first: int, image_size: int) -> None:
    meta = synth_meta(image_size=image_size)
    exists = (path / "embodex.json").exists()
    with DatasetWriter(path, None if exists else meta, append=exists) as w:
        for i in range(first, first + count):
            w.add_episode(
                synth_episode(
                    meta,
                    i,
                    seed=3,
                    scene=SCENES[i % len(SCENES)],
                    skill=SKILLS[i % 3],
                    duration_s=(8.0, 12.0),
                )
            )


def rate(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e6 if seconds > 0 else float("inf")


def boto3_upload(
    client: Any, bucket: str, prefix: str, files: list[tuple[str, Path]], w: int, size: int
) -> float:
    """MB/s of boto3 ``upload_file`` of the files on ``w`` threads (the config embodex uses:
    multipart above 16 MiB in 8 MiB parts)."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=8 << 20)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(w) as pool:
        list(
            pool.map(
                lambda kp: client.upload_file(
                    str(kp[1]), bucket, f"{prefix}/{kp[0]}", Config=config
                ),
                files,
            )
        )
    return rate(size, time.perf_counter() - t0)


def boto3_download(
    client: Any, bucket: str, keys: list[str], dest: Path, w: int, size: int, method: str
) -> float:
    """MB/s of a plain boto3 download of ``keys`` on ``w`` threads, no checks: ``stream``
    (``get_object`` streamed to a file) or ``managed`` (``download_file``, ranged parts)."""

    def stream(key: str) -> None:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        with open(dest / key.replace("/", "_"), "wb") as out:
            while chunk := body.read(1 << 20):
                out.write(chunk)

    def managed(key: str) -> None:
        client.download_file(bucket, key, str(dest / key.replace("/", "_")))

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(w) as pool:
        list(pool.map(stream if method == "stream" else managed, keys))
    return rate(size, time.perf_counter() - t0)


def _rotated(tasks: dict[str, Callable[[], float]], run: int, out: dict[str, list[float]]) -> None:
    """Run every timing once, starting with a different one each run (interleaved, so load
    spikes, caches and warm-up favour none of them), appending MB/s to ``out[name]``."""
    names = list(tasks)
    k = run % len(names)
    for name in names[k:] + names[:k]:
        out.setdefault(name, []).append(tasks[name]())


TARGET = 0.8


def _verdict(name: str, ours: list[float], base: list[float], what: str) -> bool:
    """Print medians, the per-run ratios and their spread, and OK or MISSED; True when the
    median ratio meets the target."""
    ratios = sorted(o / b for o, b in zip(ours, base, strict=True))
    med = statistics.median(ratios)
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [med, med, med]
    below = sum(r < TARGET for r in ratios)
    ok = med >= TARGET
    print(
        f"{name:26} {statistics.median(ours):9.1f} {statistics.median(base):9.1f}   "
        f"median {med:.2f}, quartiles {q[0]:.2f}-{q[2]:.2f}, range {ratios[0]:.2f}-"
        f"{ratios[-1]:.2f}  [{'OK' if ok else 'MISSED'}: target median >= {TARGET:.2f}"
        + (f"; {below} of {len(ratios)} single runs below" if below else "")
        + "]"
    )
    print(f"{'':26} baseline: {what}")
    return ok


def time_publish(src: Path, url: str, terms: Path, centre: Any, workers: int, work: Path) -> float:
    """MB/s of publish's upload phase (files, QC, manifest, head), from its callbacks."""
    marks: dict[str, float] = {}
    sent = [0]

    def started(_files: int, _bytes: int) -> None:
        marks["start"] = time.perf_counter()

    def stored(_key: str, n: int) -> None:
        marks["end"] = time.perf_counter()
        sent[0] += n

    publish(src, url, terms, centre, now=at(5), workers=workers, on_start=started,
            on_file=stored, record=False)  # fmt: skip
    shutil.rmtree(work / "home" / "outbox", ignore_errors=True)  # the next run starts afresh
    return rate(sent[0], marks["end"] - marks["start"])


def time_pull(
    url: str,
    terms: Path,
    buyer: Any,
    store: Path,
    workers: int,
    qc_s: list[float],
    install_s: list[float],
) -> float:
    """MB/s of pull's download phase (hash-checked files, dataset checked against the
    signed manifest); the QC re-run and install times go to ``qc_s`` and ``install_s``."""
    report = pull(url, terms, buyer, store, now=at(5, 12), workers=workers, record=False)
    (b,) = report.batches
    qc_s.append(b.seconds["qc"])
    install_s.append(b.seconds["install"])
    return rate(b.bytes, b.seconds["download"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=48, help="episodes per batch")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--runs", type=int, default=9, help="interleaved repetitions (medians)")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (default: 0)"
    )
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="embodex-bench-delivery-"))
    os.environ["EMBODEX_HOME"] = str(work / "home")
    try:
        with s3_endpoint() as endpoint:
            return run(args, work, endpoint)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, endpoint: str) -> int:
    import boto3

    client = boto3.session.Session().client("s3")
    bucket = os.environ.get("EMBODEX_BENCH_S3_BUCKET") or f"embodex-bench-{uuid.uuid4().hex[:8]}"
    if not os.environ.get("EMBODEX_BENCH_S3_BUCKET"):
        client.create_bucket(Bucket=bucket)
    terms = make_contract(work)
    centre, buyer = load_signer("centre"), load_signer("buyer")
    src = work / "centre"
    t0 = time.perf_counter()
    make_episodes(src, args.episodes, 0, args.image_size)
    print(f"endpoint {endpoint}; {args.workers} parallel transfers; {args.runs} runs")
    print(f"batch 1: {args.episodes} episodes written in {time.perf_counter() - t0:.1f} s")

    # the staged batch, as publish stages it, for the boto3 upload baseline
    staged = stage_batch(
        open_dataset(src), open_dataset(src).episode_ids, work / "stage", profile=default_profile(),
        signer=centre,
    )  # fmt: skip
    files = batch_files(staged)
    size = sum(path.stat().st_size for _, path in files)
    print(f"batch size {size / 1e6:.1f} MB in {len(files)} files")

    up: dict[str, list[float]] = {}  # MB/s per run: embodex, boto3
    down: dict[str, list[float]] = {}  # MB/s per run: embodex, stream, managed
    qc_s: list[float] = []
    install_s: list[float] = []
    moved = (0, 0)
    for r in range(args.runs):
        url = f"s3://{bucket}/run{r}"
        store = work / f"buyer{r}"
        _rotated(
            {
                "embodex": partial(time_publish, src, url, terms, centre, args.workers, work),
                "boto3": partial(
                    boto3_upload, client, bucket, f"base{r}", files, args.workers, size
                ),
            },
            r,
            up,
        )
        keys = [f"run{r}/{o.key}" for o in open_storage(url).list("batches/000001/")]
        get = partial(boto3_download, client, bucket, keys, work / "b", args.workers, size)
        _rotated(
            {
                "embodex": partial(
                    time_pull, url, terms, buyer, store, args.workers, qc_s, install_s
                ),
                "stream": partial(get, "stream"),
                "managed": partial(get, "managed"),
            },
            r,
            down,
        )
        if r == 0:  # batch n+1 moves batch n+1's bytes only
            make_episodes(src, max(2, args.episodes // 4), args.episodes, args.image_size)
            publish(src, url, terms, centre, now=at(12), workers=args.workers, record=False)
            second = pull(
                url, terms, buyer, store, now=at(12, 12), workers=args.workers, record=False
            )
            listed = {o.key: o.size for o in open_storage(url).list("batches/000002/")}
            listed.pop("batches/000002/manifest.json")
            moved = (second.batches[0].bytes, sum(listed.values()))
        shutil.rmtree(store, ignore_errors=True)

    print()
    print(f"{'MB/s (median of runs)':26} {'embodex':>9} {'boto3':>9}   ratio embodex/boto3 per run")
    ok_up = _verdict("publish upload", up["embodex"], up["boto3"], "boto3 upload_file")
    # the faster baseline method over the runs (each method ran once per run, like embodex)
    method = max(("stream", "managed"), key=lambda m: statistics.median(down[m]))
    other = "managed" if method == "stream" else "stream"
    names = {"stream": "get_object streamed", "managed": "download_file"}
    ok_down = _verdict(
        "pull download + verify",
        down["embodex"],
        down[method],
        f"boto3 {names[method]}, the faster method (boto3 {names[other]}: "
        f"{statistics.median(down[other]):.1f} MB/s)",
    )
    ok_moved = moved[0] == moved[1]
    print(
        f"batch 2 pull moved {moved[0]:,} bytes; batch 2's files are {moved[1]:,} bytes "
        f"(ratio {moved[0] / moved[1]:.3f})  [{'OK' if ok_moved else 'MISSED'}: only batch "
        "n+1's bytes]"
    )
    transfer = size / 1e6 / statistics.median(down["embodex"])
    qc, install = statistics.median(qc_s), statistics.median(install_s)
    print(
        f"pull, besides the transfer ({transfer:.2f} s): QC re-run {qc:.2f} s, "
        f"install {install:.2f} s for {args.episodes} episodes"
    )
    verdicts = {"publish": ok_up, "pull": ok_down, "batch n+1": ok_moved}
    print("targets: " + ", ".join(f"{k} {'OK' if v else 'MISSED'}" for k, v in verdicts.items()))
    return 1 if args.strict and not all(verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
