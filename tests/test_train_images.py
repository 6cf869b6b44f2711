"""Torch conventions of the loader: images as (C, H, W) float32 in [0, 1] by default (as
torchvision and LeRobot give them), (H, W, C) uint8 on request, the same layout from
``ds.torch()[i]``, ``__getitems__`` and the stream, and a per-sample ``transform=`` hook that
runs in the DataLoader worker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, default_collate

from embodex.demo.synth import synth_dataset, synth_meta
from embodex.errors import LoaderConfigError
from embodex.train import EpisodeDataset, load
from embodex.train.image_layout import chw_float

from .conftest import SHORT
from .test_train_batch import _assert_same_batch, _per_sample, as_torch_sample


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    meta = synth_meta(image_size=24, cameras=("head",), depth=True)
    folder = tmp_path_factory.mktemp("img") / "ds"
    return synth_dataset(folder, 3, seed=8, meta=meta, duration_s=SHORT).root


@pytest.fixture(scope="module")
def ds(root: Path) -> EpisodeDataset:
    return load(root, qc="all", cameras=["head", "head_depth"], history=2)


def _reference(ds: EpisodeDataset, i: int) -> dict[str, np.ndarray]:
    """Sample i's images in chw_float, from the numpy sample by plain numpy."""
    s = ds[i]
    rgb = s["image.head"].astype(np.float32) / np.float32(255)
    depth = s["image.head_depth"].astype(np.float32) / np.float32(65535)
    return {"image.head": rgb.transpose(2, 0, 1), "image.head_depth": depth[None]}


def test_default_is_chw_float_in_unit_range(ds: EpisodeDataset) -> None:
    tds = ds.torch()
    for i in (0, 7, len(ds) - 1):
        got = tds[i]
        rgb, depth = got["image.head"], got["image.head_depth"]
        assert rgb.shape == (3, 24, 24) and rgb.dtype == torch.float32
        stored = ds[i]["image.head_depth"]
        assert stored.dtype == np.uint16 and stored.ndim == 2
        assert depth.shape == (1, *stored.shape) and depth.dtype == torch.float32
        assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0 and float(rgb.max()) > 0.1
        assert float(depth.min()) >= 0.0 and float(depth.max()) <= 1.0
        want = _reference(ds, i)
        assert np.array_equal(rgb.numpy(), want["image.head"])  # exactly uint8 / 255
        assert np.array_equal(depth.numpy(), want["image.head_depth"])
        assert rgb.is_contiguous()
        # everything else as before: numbers as stored
        assert np.array_equal(got["state"].numpy(), ds[i]["state"])
    # the numpy helper is the same conversion, for numpy users
    batch = ds.get_batch([1, 2])
    assert np.array_equal(chw_float(batch["image.head"])[1], _reference(ds, 2)["image.head"])


def test_hwc_uint8_keeps_the_stored_layout(ds: EpisodeDataset) -> None:
    got = ds.torch(image_format="hwc_uint8")[5]
    assert got["image.head"].shape == (24, 24, 3) and got["image.head"].dtype == torch.uint8
    assert np.array_equal(got["image.head"].numpy(), ds[5]["image.head"])
    assert got["image.head_depth"].dtype == torch.uint16
    chw = ds.torch()[5]["image.head"]
    assert torch.equal(chw, got["image.head"].permute(2, 0, 1).float() / 255)
    with pytest.raises(LoaderConfigError, match="image_format='chw'") as info:
        ds.torch(image_format="chw")
    assert "chw_float" in info.value.hint
    with pytest.raises(LoaderConfigError, match="image_format"):
        ds.iterable(image_format="CHW")


@pytest.mark.parametrize("image_format", ["chw_float", "hwc_uint8"])
def test_batched_paths_give_the_per_sample_layout(ds: EpisodeDataset, image_format: str) -> None:
    chw = image_format == "chw_float"
    tds = ds.torch(image_format=image_format)
    sampler = BatchSampler(SequentialSampler(range(len(ds))), 16, False)
    batches = list(DataLoader(tds, batch_sampler=sampler))  # __getitems__: gathered batches
    for batch in batches:
        indices = batch["index"].tolist()
        _assert_same_batch(batch, _per_sample(ds, indices, chw=chw))
        _assert_same_batch(batch, default_collate([tds[i] for i in indices]))
    stream = ds.iterable(seed=3, shuffle_buffer=8, image_format=image_format)
    for batch in DataLoader(stream.torch(), batch_size=12):
        _assert_same_batch(batch, _per_sample(ds, batch["index"].tolist(), chw=chw))
    # the numpy paths are untouched: stored layout
    assert next(iter(stream))["image.head"].shape == (24, 24, 3)
    assert ds.get_batch([0, 1])["image.head"].dtype == np.uint8


def test_windowed_images_keep_the_window_axis_first(root: Path) -> None:
    wds = load(root, qc="all", cameras=["head"], delta_timestamps={"image.head": [-1 / 30, 0]})
    got = wds.torch()[0]
    assert got["image.head"].shape == (2, 3, 24, 24) and got["image.head_is_pad"].tolist() == [
        True,
        False,
    ]
    batch = wds.torch().__getitems__([0, 9])
    assert batch.data["image.head"].shape == (2, 2, 3, 24, 24)
    _assert_same_batch(default_collate(batch), _per_sample(wds, [0, 9]))


def _augment(sample: dict[str, Any]) -> dict[str, Any]:
    """A transform as users write one: flip the image, add a key (module level: it pickles)."""
    sample["image.head"] = sample["image.head"].flip(-1)
    sample["worker_pid"] = torch.tensor(os.getpid())
    return sample


@pytest.mark.parametrize("workers", [0, 2])
def test_transform_runs_per_sample_in_the_worker(ds: EpisodeDataset, workers: int) -> None:
    tds = ds.torch(transform=_augment)
    one = tds[4]
    assert torch.equal(one["image.head"], ds.torch()[4]["image.head"].flip(-1))
    loader = DataLoader(tds, batch_size=8, shuffle=False, num_workers=workers)
    seen = []
    for batch in loader:
        indices = batch["index"].tolist()
        want = _per_sample(ds, indices)
        assert torch.equal(batch["image.head"], want["image.head"].flip(-1))
        assert torch.equal(batch["state"], want["state"])
        pids = set(batch["worker_pid"].tolist())
        assert pids == ({os.getpid()} if workers == 0 else pids - {os.getpid()})
        seen += indices
    assert seen == list(range(len(ds)))
    # the stream's .torch() applies the transform given to ds.iterable(...)
    stream = ds.iterable(seed=1, shuffle_buffer=8, transform=_augment)
    got = []
    for batch in DataLoader(stream.torch(), batch_size=10, num_workers=workers):
        want = _per_sample(ds, batch["index"].tolist())
        assert torch.equal(batch["image.head"], want["image.head"].flip(-1))
        assert (batch["worker_pid"] != os.getpid()).all() == (workers > 0)
        got += batch["index"].tolist()
    assert sorted(got) == list(range(len(ds)))


def test_encoded_frames_are_not_converted(root: Path) -> None:
    raw = load(root, qc="all", cameras=["head"], decode_images=False)
    got = raw.torch()[3]["image.head"]
    assert got.dtype == torch.uint8 and got.ndim == 1  # the JPEG bytes
    assert np.array_equal(got.numpy(), raw[3]["image.head"])
    assert as_torch_sample(raw, raw[3])["image.head"].ndim == 1
