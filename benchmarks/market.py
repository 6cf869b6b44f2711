"""Cost of the marketplace documents, as ratios against baselines measured in the same run.

* building a signed catalogue (listing, provenance chains) vs ``embodex inspect``'s summary
  of the same datasets (both read metadata only, never a frame);
* opening a catalogue (signature, strict parse, every provenance chain verified) vs a plain
  ``json.loads`` of the listing envelope and its payload;
* a watermarked copy of episodes (decode, mark, re-encode every frame) vs a plain copy of the
  same episodes (encoded frames copied as stored), and a whole sample pack (selection,
  watermark, QC of the pack, report, provenance);
* quoting a demand vs matching it alone.

Usage: python benchmarks/market.py [--episodes 600] [--out .bench/market]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from embodex.demo.synth import SCENES, synth_dataset, synth_meta
from embodex.format import copy_episodes, open_dataset
from embodex.format.summary import summarize
from embodex.market import (
    Capacity,
    build_catalog,
    build_quote,
    build_sample_pack,
    default_price_sheet,
    match_demand,
    open_catalog,
    parse_demand,
)
from embodex.market.sample import _transform
from embodex.qc import run_qc, write_qc
from embodex.trust import generate_key, load_signer

DEMAND = """\
kind: embodex.demand
title: Benchmark
lines:
  - skills: [hold_cup, grasp_plate, fold_clothes, pick_place, open_drawer, wipe_table,
             pour_water, hand_over]
    scene_types: [supermarket, restaurant, factory, home, office, warehouse]
    hours: "25"
start: 2026-01-05
horizon: 2026-12-27
"""


def best(fn: Callable[[], object], reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=600)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="embodex-bench-market-"))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.environ["EMBODEX_HOME"] = str(out / "home")
    generate_key("hubei-centre", "centre")
    signer = load_signer("hubei-centre")

    half = args.episodes // 2
    meta = synth_meta(image_size=64, cameras=("head", "hand_left"))
    paths = [out / "a", out / "b"]
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        synth_dataset(path, half, seed=i, meta=meta, duration_s=(3.0, 4.0))
        write_qc(path, run_qc(path))
    print(
        f"setup: {args.episodes} episodes synthesised and QC'd in {time.perf_counter() - t0:.1f} s"
    )

    capacity = Capacity(hours_per_week={s.scene_id: "5" for s in SCENES})
    prices = default_price_sheet()
    catalog = out / "catalog"
    build_catalog(paths, catalog, signer, prices=prices, capacity=capacity)  # warm: chains
    t_build = best(lambda: build_catalog(paths, catalog, signer, prices=prices, capacity=capacity))
    t_inspect = best(lambda: [summarize(open_dataset(p)) for p in paths])
    print(f"catalogue build   {t_build * 1000:8.1f} ms   inspect summary {t_inspect * 1000:8.1f} ms"
          f"   ratio {t_build / t_inspect:5.2f}x")  # fmt: skip

    listing_bytes = (catalog / "listing.json").read_bytes()
    t_open = best(lambda: open_catalog(catalog))
    t_json = best(lambda: json.loads(base64.b64decode(json.loads(listing_bytes)["payload"])))
    size = sum(p.stat().st_size for p in catalog.rglob("*.json"))
    print(f"catalogue open    {t_open * 1000:8.1f} ms   json.loads      {t_json * 1000:8.1f} ms"
          f"   ratio {t_open / t_json:5.1f}x   ({size / 1024:.0f} KiB of JSON)")  # fmt: skip

    src = open_dataset(paths[0])
    ids = src.episode_ids[:40]
    frames = int(sum(src.episode(e).frame_count for e in ids)) * len(src.meta.cameras)

    def copy(marked: bool) -> None:
        dest = out / f"copy-{marked}-{time.perf_counter_ns()}"
        copy_episodes(src, dest, ids, transform=_transform(src) if marked else None)
        shutil.rmtree(dest)

    t_plain = best(lambda: copy(False))
    t_mark = best(lambda: copy(True))
    rate = frames / t_mark
    print(f"watermarked copy  {t_mark * 1000:8.1f} ms   plain copy      {t_plain * 1000:8.1f} ms"
          f"   ratio {t_mark / t_plain:5.1f}x   ({rate:,.0f} frames/s marked)")  # fmt: skip

    def pack() -> None:
        dest = out / f"pack-{time.perf_counter_ns()}"
        build_sample_pack(paths[0], dest, signer, per_cell=1)
        shutil.rmtree(dest)

    t_pack = best(pack, reps=2)
    print(f"sample pack       {t_pack * 1000:8.1f} ms (1 episode per skill × scene type, "
          f"QC and report included)")  # fmt: skip

    listing = open_catalog(catalog).listing
    demand = parse_demand(DEMAND)
    asked = datetime(2026, 1, 2, tzinfo=UTC)  # before the demand's start (past dates refused)
    t_quote = best(lambda: build_quote(listing, demand, now=asked))
    t_match = best(lambda: match_demand(listing, demand))
    print(f"quote ({len(demand.items())} items) {t_quote * 1000:6.1f} ms   match alone     "
          f"{t_match * 1000:8.1f} ms   ratio {t_quote / t_match:5.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
