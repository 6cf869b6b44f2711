"""Training ingest through Ray Data (issue 14): ``EpisodeDataset.to_ray()`` gives the torch
adapter's samples — same keys, values and pad masks for the same indices — read on the Ray
workers of a real two-node cluster, from a folder and from ``s3://``; and the Ray Train
example trains on it."""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embodex.train import load

from ._train_data import module_dataset, upload_dataset

# Before Ray is first imported: Ray reads it at import and then keeps 127.0.0.1 (loopback only).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_AUTH_MODE"] = "disabled"
pytest.importorskip("ray", reason="the ray extra: pip install 'embodex[ray]'")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "raydata", episodes=5)


def _rows(ray_ds: Any) -> dict[int, dict[str, Any]]:
    """Every row of a Ray dataset, by its sample index."""
    out: dict[int, dict[str, Any]] = {}
    for batch in ray_ds.iter_batches(batch_size=None, batch_format="numpy"):
        for j, i in enumerate(batch["index"].tolist()):
            out[int(i)] = {k: v[j] for k, v in batch.items()}
    return out


def _same_as_torch(row: dict[str, Any], sample: dict[str, Any]) -> None:
    assert set(row) == set(sample)
    for key, value in sample.items():
        if isinstance(value, torch.Tensor):
            got = np.asarray(row[key])
            assert got.dtype == value.numpy().dtype, key
            np.testing.assert_array_equal(got, value.numpy(), err_msg=key)
        else:
            assert row[key] == value, key


def test_to_ray_rows_equal_the_torch_adapter(ray_cluster: str, local: Path) -> None:
    ds = load(local, qc="all", history=3, horizon=4)  # windows with pad masks at both ends
    rows = _rows(ds.to_ray(rows_per_block=16, blocks=3))
    assert sorted(rows) == list(range(len(ds)))
    adapter = ds.torch()  # images (C, H, W) float32 in [0, 1], the adapter's default
    assert rows[0]["image.head"].shape == (3, 32, 32)
    starts = ds.episode_starts.tolist()
    edges = {0, 1, 2, starts[1] - 1, starts[1], starts[2] + 5, len(ds) - 2, len(ds) - 1}
    for i in sorted(edges):
        _same_as_torch(rows[i], adapter[i])
    # the pad masks flag both ends: a window past an episode's last frame, and before its first
    assert rows[starts[1] - 1]["action_is_pad"].tolist() == [False, True, True, True]
    assert rows[starts[1]]["state_is_pad"].tolist() == [True, True, False]


def test_read_tasks_take_whole_episodes(local: Path) -> None:
    from embodex.train.ray_data import EpisodeDatasource

    ds = load(local, qc="all", cameras=[])
    source = EpisodeDatasource(ds)
    runs = source.runs(3)
    assert runs[0][0] == 0 and runs[-1][1] == len(ds) and len(runs) == 3
    assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))
    assert {lo for lo, _ in runs} <= set(ds.episode_starts.tolist())
    assert len(source.runs(1000)) == ds.num_episodes  # never less than an episode
    tasks = source.get_read_tasks(3)
    assert [t.metadata.num_rows for t in tasks] == [hi - lo for lo, hi in runs]


def test_to_ray_streams_from_s3(ray_cluster: str, local: Path, s3_url: str, tmp_path: Path) -> None:
    upload_dataset(local, s3_url)
    remote = load(s3_url, qc="all", cameras=["head"], horizon=2, cache_dir=tmp_path / "cache")
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    rows = _rows(remote.to_ray(blocks=2, runtime_env={"env_vars": env}, image_format="hwc_uint8"))
    reference = load(local, qc="all", cameras=["head"], horizon=2).torch(image_format="hwc_uint8")
    assert rows[0]["image.head"].shape == (32, 32, 3)
    assert sorted(rows) == list(range(len(reference)))
    for i in (0, 7, len(reference) // 2, len(reference) - 1):
        _same_as_torch(rows[i], reference[i])


def test_source_unpickled_on_a_fresh_machine_fetches_its_metadata(
    local: Path, s3_url: str, tmp_path: Path
) -> None:
    """A Ray worker on another machine has none of the driver's cache: unpickling the
    dataset mirrors the (verified) metadata there before reading."""
    upload_dataset(local, s3_url)
    ds = load(s3_url, qc="all", cameras=[], cache_dir=tmp_path / "cache")
    blob = pickle.dumps(ds)
    shutil.rmtree(tmp_path / "cache" / "datasets")  # the metadata (shards come on demand)
    again = pickle.loads(blob)
    assert (ds.source.root / "manifest.json").is_file()
    assert again.get_batch([0, 5])["index"].tolist() == [0, 5]
    np.testing.assert_array_equal(again[3]["state"], ds[3]["state"])


def test_ray_train_example_trains(ray_cluster: str, local: Path, tmp_path: Path) -> None:
    """examples/train_ray.py: a tiny policy trained with Ray Train's TorchTrainer on the
    cluster, streaming the dataset through to_ray(): one step per batch of the whole
    dataset, and the loss goes down."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "RAY_ADDRESS": ray_cluster,
    }
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "train_ray.py"),
            str(local),
            "--workers",
            "1",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--qc",
            "all",
            "--storage",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(("loss ", "steps "))]
    assert len(lines) == 2, done.stdout
    words = lines[1].replace(":", "").replace(",", "").split()
    assert int(words[1]) == -(-len(load(local, qc="all", cameras=[], horizon=8)) // 16)
    before, after = float(words[6]), float(words[9])
    assert after < 0.9 * before, done.stdout  # the policy learnt the batch it started on
