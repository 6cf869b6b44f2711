"""Interop speed, as ratios against baselines measured in the same run.

* LeRobot export (image features) vs the same frames written straight to one parquet file
  with pyarrow (the export adds per-episode statistics with sampled image decoding, the
  episode/task tables, the card and an atomic publish);
* LeRobot export with AV1 / H.264 video vs that baseline (video encoding dominates);
* Hugging Face export vs the same baseline;
* LeRobot import (image features) vs reading the exported parquet with pyarrow.

Usage: python benchmarks/interop.py [--episodes 20] [--image-size 96] [--out .bench/interop]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.format import Dataset
from embodex.format.exporters.lerobot import export_lerobot
from embodex.format.importers.lerobot import import_lerobot

# benchmarks/packaging.py would shadow the `packaging` library that `datasets` imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]


def plain_parquet(ds: Dataset, path: Path) -> None:
    """Baseline: every frame's features and image bytes into one parquet file, nothing else."""
    columns = ["timestamp_ns", *ds.meta.features, *(c.column for c in ds.meta.cameras)]
    writer: pq.ParquetWriter | None = None
    for view in ds:
        table = view.arrow(columns).replace_schema_metadata(None)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--out", type=Path, default=Path(".bench/interop"))
    args = ap.parse_args()
    from embodex.format.exporters.hf import export_hf

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    meta = synth_meta(image_size=args.image_size, cameras=("head", "hand_left"))
    ds = synth_dataset(args.out / "src", args.episodes, seed=1, meta=meta, duration_s=(8, 12))
    print(f"{len(ds)} episodes, {ds.num_frames} frames, 2 cameras at {args.image_size} px")
    base = timed(lambda: plain_parquet(ds, args.out / "plain.parquet"))
    rows = [("plain pyarrow parquet write (baseline)", base)]
    rows.append(("export lerobot (images)", timed(lambda: export_lerobot(ds, args.out / "lr"))))
    for codec in ("av1", "h264"):
        t = timed(
            lambda c=codec: export_lerobot(ds, args.out / f"lr-{c}", video=True, video_codec=c)
        )  # type: ignore[misc]
        rows.append((f"export lerobot --video ({codec})", t))
    rows.append(("export hf", timed(lambda: export_hf(ds, args.out / "hf"))))
    read = timed(lambda: pq.read_table(args.out / "lr/data/chunk-000/file-000.parquet"))
    imp = timed(lambda: import_lerobot(args.out / "lr", args.out / "back"))
    print(f"{'what':45} {'seconds':>8} {'vs baseline':>12}")
    for name, t in rows:
        print(f"{name:45} {t:8.2f} {t / base:11.1f}x")
    print(f"{'import lerobot (images) vs pyarrow read':45} {imp:8.2f} {imp / read:11.1f}x")
    fps = ds.num_frames / max(rows[1][1], 1e-9)
    print(f"export lerobot (images): {fps:,.0f} frames/s")


if __name__ == "__main__":
    main()
