"""Small synthetic datasets for the loader tests: several shards, and episodes spread over
several record batches (the writer's batch size is lowered for these)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from embodex.demo.synth import synth_episodes, synth_meta
from embodex.format import DatasetWriter, open_dataset
from embodex.format import writer as writer_module


def write_train_dataset(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    episodes: int = 6,
    seed: int = 3,
    batch_bytes: int | None = 20_000,
    shard_bytes: int = 150_000,
    cameras: tuple[str, ...] = ("head", "hand_left"),
) -> Path:
    """Write the dataset; images of 32 px JPEG are ~1 KB, so 20 KB batches split episodes."""
    meta = synth_meta(image_size=32, cameras=cameras)
    if batch_bytes is not None:
        monkeypatch.setattr(writer_module, "BATCH_BYTES", batch_bytes)
    with DatasetWriter(path, meta, shard_bytes=shard_bytes) as w:
        for ep in synth_episodes(meta, episodes, seed=seed, duration_s=(1.0, 2.0)):
            w.add_episode(ep)
    return path


def module_dataset(factory: pytest.TempPathFactory, name: str, **kwargs: Any) -> Path:
    """``write_train_dataset`` for a module-scoped fixture (which cannot use monkeypatch)."""
    mp = pytest.MonkeyPatch()
    try:
        return write_train_dataset(factory.mktemp(name) / "ds", mp, **kwargs)
    finally:
        mp.undo()


def write_qc_manifest(root: Path, verdicts: dict[str, str], *, digest: str | None = None) -> None:
    """A QC manifest as `embodex qc run` writes it (only the fields the loader reads)."""
    doc = {
        "dataset_digest": digest or open_dataset(root).digest,
        "episodes": [{"episode_id": k, "verdict": v, "rules": []} for k, v in verdicts.items()],
    }
    (root / "qc").mkdir(exist_ok=True)
    (root / "qc" / "manifest.json").write_text(json.dumps(doc))


def upload_dataset(root: Path, url: str) -> None:
    """Copy a dataset directory to a storage URL: content files, then the manifest."""
    from embodex.storage.stores import open_storage

    store = open_storage(url)
    ds = open_dataset(root)
    for entry in ds.manifest.files:
        store.upload_file(entry.path, root / entry.path)
    qc = root / "qc" / "manifest.json"
    if qc.exists():
        store.upload_file("qc/manifest.json", qc)
    store.upload_file("manifest.json", root / "manifest.json")
