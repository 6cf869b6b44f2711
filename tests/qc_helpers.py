"""Small shared helpers of the QC tests: a written batch with defects, and private copies."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from embodex.demo.defects import write_defective_dataset
from embodex.demo.synth import synth_meta

Batch = tuple[Path, dict[str, str]]


def defect_batch(
    factory: pytest.TempPathFactory,
    *,
    clean: int,
    kinds: Sequence[str],
    seed: int,
    duration_s: tuple[float, float],
) -> Batch:
    """A written dataset of ``clean`` synthetic episodes plus one per defect kind (one 32 px
    camera), and its ``{episode_id: kind}`` labels."""
    root = factory.mktemp("qc") / "batch"
    meta = synth_meta(image_size=32, cameras=("head",))
    _, labels = write_defective_dataset(
        root, meta=meta, clean=clean, kinds=kinds, seed=seed, duration_s=duration_s
    )
    return root, labels


def private_copy(source: Batch, tmp_path: Path) -> Batch:
    """A copy a test may change (reviews, QC re-runs) without touching the shared one."""
    root = tmp_path / "batch"
    shutil.copytree(source[0], root)
    return root, source[1]
