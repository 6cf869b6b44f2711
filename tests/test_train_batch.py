"""Batched access gives exactly what the per-sample path gives: ``get_batch`` against
stacked ``ds[i]`` (episode edges, windows, selections, revoked episodes, encoded images,
episodes split over record batches), torch's DataLoader with a batch sampler, the iterable
and the sequential pass."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, default_collate

from embodex.errors import LoaderConfigError
from embodex.format import open_dataset
from embodex.train import EpisodeDataset, load
from embodex.train.batch import SampleBatch
from embodex.train.torch_adapter import collate, to_tensors

from ._train_data import module_dataset, write_qc_manifest


@pytest.fixture(scope="module", params=["whole", "split"])
def root(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """Several shards; "whole": each episode in one record batch (the vectorised path),
    "split": 20 KB record batches, every episode spread over several (the slow path)."""
    if request.param == "split":
        return module_dataset(tmp_path_factory, "split", episodes=7)
    return module_dataset(tmp_path_factory, "whole", episodes=7, batch_bytes=None)


def _edges(ds: EpisodeDataset) -> list[int]:
    """The first two and last two samples of every episode."""
    out = []
    for a, b in zip(ds.episode_starts[:-1].tolist(), ds.episode_starts[1:].tolist(), strict=True):
        out += [a, a + 1, b - 2, b - 1]
    return out


def _picks(ds: EpisodeDataset, count: int = 150, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    picks = [*_edges(ds), *rng.integers(0, len(ds), count).tolist()]
    rng.shuffle(picks)
    return picks


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, list) or isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ta, tb = torch.as_tensor(a), torch.as_tensor(b)
        return ta.dtype == tb.dtype and ta.shape == tb.shape and bool(torch.equal(ta, tb))
    xa, xb = np.asarray(a), np.asarray(b)
    return xa.dtype == xb.dtype and xa.shape == xb.shape and np.array_equal(xa, xb)


def assert_batch_is_stacked_samples(ds: EpisodeDataset, indices: list[int]) -> dict[str, Any]:
    batch = ds.get_batch(indices)
    samples = [ds[i] for i in indices]
    assert set(batch) == set(samples[0])
    for key, values in batch.items():
        assert len(values) == len(indices), key
        for j, sample in enumerate(samples):
            assert _same(values[j], sample[key]), (key, indices[j])
    return batch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # every feature and camera, no window
        {"history": 3, "horizon": 10},
        {"features": ["action"], "cameras": ["head"], "horizon": 12},
        {"cameras": [], "history": 5},
        {"delta_timestamps": {"state": [-0.2, 0.0], "action": [0.0, 0.1, 0.3], "head": [-0.1, 0]}},
        {"cameras": ["hand_left"], "decode_images": False, "horizon": 4},
        {"cameras": ["head"], "decode_images": False, "delta_timestamps": {"head": [-0.1, 0.0]}},
        {"cameras": ["head"], "horizon": 6, "decode_threads": 3},
    ],
)
def test_get_batch_equals_stacked_samples(root: Path, kwargs: dict[str, Any]) -> None:
    ds = load(root, qc="all", **kwargs)
    batch = assert_batch_is_stacked_samples(ds, _picks(ds))
    if kwargs.get("horizon"):
        assert batch["action_is_pad"].any() and not batch["action_is_pad"].all()


def test_the_fixtures_cover_both_paths(root: Path) -> None:
    ds = load(root, qc="all", cameras=["head"], horizon=5)
    ds.get_batch(range(len(ds)))
    # episodes the vectorised path cannot address with one base are gathered through their
    # entries; several shards give one batch several views
    split = "split" in str(root)
    assert ((ds._nvid == -1).all() and (ds._ivid == -1).all()) if split else (ds._nvid >= 0).all()
    assert len(ds.shard_names()) >= 2
    if not split:
        assert len(set(ds._nvid[0].tolist())) >= 2 and (ds._ivid >= 0).all()


@pytest.mark.parametrize("few_files", [1, 100])
def test_batches_over_many_files_copy_per_file_or_per_sample(
    root: Path, few_files: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches touching more files than _FEW_FILES are copied sample by sample."""
    from embodex.train import gather as gather_module

    monkeypatch.setattr(gather_module, "_FEW_FILES", few_files)
    for kwargs in ({"history": 4, "horizon": 9}, {"delta_timestamps": {"action": [0.0, 0.2]}}):
        ds = load(root, qc="all", cameras=["head"], **kwargs)  # type: ignore[arg-type]
        assert_batch_is_stacked_samples(ds, _picks(ds, seed=few_files))


def test_selections_and_revoked_episodes(root: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(root, tmp_path / "ds"))
    ids = open_dataset(copy).episode_ids
    # revoked episodes carry a reject verdict: the default qc="pass" leaves them out
    verdicts = dict.fromkeys(ids, "PASS") | {ids[0]: "FAIL", ids[3]: "FAIL", ids[5]: "WARN"}
    write_qc_manifest(copy, verdicts)
    ds = load(copy, history=2, horizon=7)
    assert ds.episode_ids == [ids[1], ids[2], ids[4], ids[6]]
    batch = assert_batch_is_stacked_samples(ds, _picks(ds, seed=1))
    assert not set(batch["episode_id"]) & {ids[0], ids[3], ids[5]}
    skill = open_dataset(copy).episode(ids[2]).meta.skill
    subset = load(copy, qc="pass+warn", episodes={"skill": skill}, features=["state"])
    assert_batch_is_stacked_samples(subset, _picks(subset, seed=2))


def test_indices_in_any_form_and_out_of_range(root: Path) -> None:
    ds = load(root, qc="all", cameras=["head"], horizon=3)
    n = len(ds)
    batch = assert_batch_is_stacked_samples(ds, [-1, 0, -n, n - 1, 5, 5])
    assert batch["index"].tolist() == [n - 1, 0, 0, n - 1, 5, 5]
    assert _same(ds.get_batch(np.arange(4))["action"], ds.get_batch(range(4))["action"])
    empty = ds.get_batch([])
    assert empty["action"].shape == (0, 3, 20) and empty["image.head"].shape == (0, 32, 32, 3)
    assert empty["action"].dtype == np.float32 and empty["timestamp_ns"].dtype == np.int64
    assert empty["episode_id"] == [] and empty["index"].dtype == np.int64
    for bad in (n, -n - 1):
        with pytest.raises(IndexError, match="out of range"):
            ds.get_batch([0, bad])


def test_sequential_pass_and_iter_batches(root: Path) -> None:
    ds = load(root, qc="all", cameras=["head"], history=2, horizon=4)
    batches = list(ds.iter_batches(100))
    assert [len(b["index"]) for b in batches[:-1]] == [100] * (len(batches) - 1)
    assert np.concatenate([b["index"] for b in batches]).tolist() == list(range(len(ds)))
    for j, sample in enumerate(ds):  # __iter__: every sample in order, from batches
        if j % 37 == 0 or j == len(ds) - 1:
            want = ds[j]
            assert set(sample) == set(want)
            assert all(_same(sample[k], want[k]) for k in want), j
    assert j == len(ds) - 1
    with pytest.raises(LoaderConfigError, match="batch_size"):
        next(ds.iter_batches(0))


def test_episode_rows_of_a_pass_read_stats_on_demand(root: Path) -> None:
    ds = open_dataset(root)
    table = ds.episodes.to_pylist()
    for _ in range(2):  # the second pass reuses the rows converted by the first
        rows = [view.row for view in ds]
        assert [dict(r, stats=r["stats"]) for r in rows] == table
    assert ds._rows() is ds._rows()
    assert "stats" not in ds._rows()[0]  # never converted for the pass itself


# -- torch -----------------------------------------------------------------------------


def as_torch_sample(ds: EpisodeDataset, sample: dict[str, Any], chw: bool = True) -> Any:
    """A numpy sample as the torch adapters give it, computed here with torch's own ops
    (the reference the adapters' conversion is checked against): images (..., H, W, 3)
    uint8 -> (..., 3, H, W) float32 / 255, depth (..., H, W) uint16 -> (..., 1, H, W) /
    65535."""
    out = to_tensors(sample)
    for cam in ds.spec.cameras if chw and ds.spec.decode_images else ():
        c = ds.meta.camera(cam)
        x = out[c.column]
        if c.kind == "depth":
            out[c.column] = x.to(torch.int32).unsqueeze(-3).to(torch.float32) / 65535
        else:
            out[c.column] = x.movedim(-1, -3).to(torch.float32) / 255
    return out


def _per_sample(ds: EpisodeDataset, indices: list[int], chw: bool = True) -> Any:
    """What DataLoader gave before the batched path: default_collate of per-sample tensors
    (images in the torch adapters' default layout unless ``chw=False``)."""
    return default_collate([as_torch_sample(ds, ds[i], chw) for i in indices])


def _assert_same_batch(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    for key in want:
        assert _same(got[key], want[key]), key


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_with_a_batch_sampler_uses_get_batch(root: Path, workers: int) -> None:
    ds = load(root, qc="all", cameras=["head"], history=2, horizon=8)
    sampler = BatchSampler(
        RandomSampler(range(len(ds)), generator=torch.Generator().manual_seed(3)), 24, False
    )
    calls: list[int] = []
    if workers == 0:  # count the gathers (a worker's copy cannot report back)
        real = ds.get_batch
        ds.get_batch = lambda idx: calls.append(len(idx)) or real(idx)  # type: ignore[method-assign]
    loader = DataLoader(ds.torch(), batch_sampler=sampler, num_workers=workers)
    seen: list[int] = []
    for batch in loader:
        indices = batch["index"].tolist()
        _assert_same_batch(batch, _per_sample(ds, indices))
        assert batch["action"].dtype == torch.float32 and batch["action_is_pad"].dtype == torch.bool
        seen += indices
    assert sorted(seen) == list(range(len(ds)))
    if workers == 0:
        assert calls == [len(b) for b in sampler]  # one gather per batch, none per sample


def test_dataloader_batch_size_and_custom_collate(root: Path) -> None:
    ds = load(root, qc="all", cameras=[], horizon=4)
    picks = _picks(ds)[:40]
    loader = DataLoader(ds.torch(), batch_size=10, sampler=picks)
    got = [i for batch in loader for i in batch["index"].tolist()]
    assert got == picks
    # a custom collate_fn still sees one mapping per sample
    rows = DataLoader(ds.torch(), batch_size=10, sampler=picks, collate_fn=lambda b: b)
    first = next(iter(rows))
    assert len(first) == 10 and _same(first[3]["action"], torch.from_numpy(ds[picks[3]]["action"]))
    # the numpy dataset itself in a DataLoader: __getitems__ and default_collate
    plain = next(iter(DataLoader(ds, batch_size=10, sampler=picks)))  # type: ignore[arg-type]
    _assert_same_batch(plain, _per_sample(ds, picks[:10], chw=False))


def test_collate_of_rows_spanning_batches(root: Path) -> None:
    ds = load(root, qc="all", cameras=["head"], horizon=3)
    a = SampleBatch(to_tensors(ds.get_batch([4, 5, 6, 7])))
    b = SampleBatch(to_tensors(ds.get_batch([20, 21, 22])))
    _assert_same_batch(collate(a), _per_sample(ds, [4, 5, 6, 7], chw=False))
    _assert_same_batch(
        collate([a[2], a[3], b[0], b[1]]), _per_sample(ds, [6, 7, 20, 21], chw=False)
    )
    _assert_same_batch(collate([a[3], a[1], b[2]]), _per_sample(ds, [7, 5, 22], chw=False))
    _assert_same_batch(default_collate(list(a)[1:3]), _per_sample(ds, [5, 6], chw=False))
    mixed = [a[0], to_tensors(ds[9])]
    _assert_same_batch(collate(mixed), _per_sample(ds, [4, 9], chw=False))


def test_iterable_yields_the_per_sample_values(root: Path) -> None:
    ds = load(root, qc="all", cameras=["head"], horizon=5)
    stream = ds.iterable(seed=2, shuffle_buffer=50)
    order = list(stream.indices())
    got = list(stream)
    assert [int(s["index"]) for s in got] == order
    for s in got[::23]:
        want = ds[int(s["index"])]
        assert all(_same(s[k], want[k]) for k in want)
    batches = list(stream.iter_batches(64))
    assert np.concatenate([b["index"] for b in batches]).tolist() == order


@pytest.mark.parametrize("workers", [0, 2])
def test_torch_iterable_batches_equal_per_sample(root: Path, workers: int) -> None:
    ds = load(root, qc="all", cameras=["head"], history=2, horizon=5)
    stream = ds.iterable(seed=4, shuffle_buffer=64)
    # 24 does not divide the 256-sample chunks: some batches span two gathered chunks
    loader = DataLoader(stream.torch(), batch_size=24, num_workers=workers)
    seen: list[int] = []
    for batch in loader:
        indices = batch["index"].tolist()
        _assert_same_batch(batch, _per_sample(ds, indices))
        seen += indices
    assert sorted(seen) == list(range(len(ds)))


def test_decode_threads_must_be_positive(root: Path) -> None:
    with pytest.raises(LoaderConfigError, match="decode_threads=0"):
        load(root, qc="all", decode_threads=0)


@pytest.mark.parametrize("threads", [0, 2])
def test_decode_frames_names_the_bad_frame(threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import simplejpeg

    from embodex.train.cameras import FrameDecodeError, FrameSizeError, decode_frames

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
    jpegs = [np.frombuffer(simplejpeg.encode_jpeg(i, 95), np.uint8) for i in imgs]
    pool = ThreadPoolExecutor(threads) if threads else None
    got = decode_frames(jpegs, "jpeg", pool)
    assert got.shape == (3, 24, 32, 3)
    for j, data in enumerate(jpegs):
        assert np.array_equal(got[j], simplejpeg.decode_jpeg(data, "RGB"))
    broken = np.zeros(200, np.uint8)
    with pytest.raises(FrameDecodeError) as info:
        decode_frames([jpegs[0], jpegs[1], broken], "jpeg", pool)
    assert info.value.position == 2
    small = np.frombuffer(simplejpeg.encode_jpeg(imgs[0][:16, :16].copy(), 95), np.uint8)
    big = np.frombuffer(simplejpeg.encode_jpeg(np.zeros((48, 64, 3), np.uint8), 95), np.uint8)
    for odd in (small, big):
        with pytest.raises(FrameSizeError):
            decode_frames([jpegs[0], odd], "jpeg", pool)


def test_features_of_every_dtype_and_width(tmp_path: Path) -> None:
    """int32, int64 and float64 columns of odd widths: each file view is per dtype, each
    column's start an element index of it."""
    from embodex.demo.synth import synth_episodes, synth_meta
    from embodex.format import DatasetWriter
    from embodex.format.models import Feature

    meta = synth_meta(image_size=16, cameras=("head",))
    extra = {
        "grip": Feature(dtype="int32", shape=[3]),
        "force": Feature(dtype="float64", shape=[5]),
        "count": Feature(dtype="int64", shape=[1]),
    }
    meta = meta.model_copy(update={"features": {**meta.features, **extra}})
    rng = np.random.default_rng(5)
    with DatasetWriter(tmp_path / "ds", meta, shard_bytes=60_000) as w:
        for ep in synth_episodes(meta, 5, seed=9, duration_s=(1.0, 2.0)):
            n = len(ep.timestamp_ns)
            ep.features["grip"] = rng.integers(-9, 9, (n, 3)).astype(np.int32)
            ep.features["force"] = rng.normal(size=(n, 5))
            ep.features["count"] = np.arange(n, dtype=np.int64)[:, None]
            w.add_episode(ep)
    ds = load(tmp_path / "ds", qc="all", history=2, horizon=6)
    batch = assert_batch_is_stacked_samples(ds, _picks(ds, 120))
    assert batch["grip"].dtype == np.int32 and batch["force"].dtype == np.float64
    assert batch["count"].shape == (len(batch["index"]), 2, 1)
    ref = open_dataset(tmp_path / "ds")
    first = ref.episode(0)
    assert np.array_equal(batch["force"][0], ds[int(batch["index"][0])]["force"])
    assert np.array_equal(ds.get_batch([3])["grip"][0, -1], first.feature("grip")[3])


def test_batches_in_workers_are_made_in_shared_memory(root: Path) -> None:
    """In a DataLoader worker, a batch's arrays are copied into shared storage (as torch's
    default collate stacks into it), so sending the batch moves no memory."""
    from embodex.train.torch_adapter import _shared

    ds = load(root, qc="all", cameras=["head"], horizon=3)
    batch = ds.get_batch([0, 7, 30])
    for key in ("image.head", "action", "action_is_pad", "index"):
        tensor = _shared(batch[key])
        assert tensor.is_shared() and np.array_equal(tensor.numpy(), batch[key]), key
    assert _shared(batch["episode_id"]) == batch["episode_id"]
    assert _shared(np.empty((0, 3), np.float32)).shape == (0, 3)


# -- video cameras (format 1.1) ---------------------------------------------------------


@pytest.fixture(scope="module")
def video_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two episodes with a video camera (one remuxed from a recorder's MP4 with B-frames,
    GOP 8; one encoded from frames) and a JPEG camera beside it."""
    from embodex.format import DatasetWriter
    from embodex.format.videostore import VideoClip

    from .test_format_video import _episode, _meta, _pictures, _record

    tmp = tmp_path_factory.mktemp("video")
    source = _record(tmp / "head.mp4", 30)
    with DatasetWriter(tmp / "ds", _meta()) as w:
        w.add_episode(_episode("e0", 30, VideoClip(source)))
        w.add_episode(_episode("e1", 20, _pictures(20, seed=3), t0=5_000_000_000))
    return tmp / "ds"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"cameras": ["head"], "delta_timestamps": {"image.head": [-2 / 30, 0.0, 1 / 30]}},
        {"horizon": 4, "decode_threads": 2},
    ],
)
def test_get_batch_of_video_cameras_equals_stacked_samples(
    video_root: Path, kwargs: dict[str, Any]
) -> None:
    from .test_format_video import _sequential

    ds = load(video_root, qc="all", **kwargs)
    picks = _picks(ds, 40)
    batch = assert_batch_is_stacked_samples(ds, picks)
    # and the frames are the recorder's (episode e0 is its first 30 samples)
    reference = _sequential(video_root.parent / "head.mp4")
    for j, i in enumerate(picks):
        if i < 30 and "delta_timestamps" not in kwargs:
            assert np.array_equal(batch["image.head"][j], reference[i]), i
    # a fresh reader (no decoder state) gives the same batch
    again = load(video_root, qc="all", **kwargs).get_batch(picks)
    assert _same(again["image.head"], batch["image.head"])
    assert ds.get_batch([])["image.head"].shape[-3:] == (48, 64, 3)


def test_video_batches_decode_each_gop_once(
    video_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's frames of one file are decoded in PTS order: a shuffled batch of one GOP
    seeks once, however its frames are ordered."""
    from embodex.format.videostore import VideoDecoder

    seeks: list[int] = []
    real = VideoDecoder._seek

    def counting(self: VideoDecoder, key_pts: int) -> None:
        seeks.append(key_pts)
        real(self, key_pts)

    monkeypatch.setattr(VideoDecoder, "_seek", counting)
    ds = load(video_root, qc="all", features=["state"], cameras=["head"])
    gop = [13, 9, 15, 8, 11, 10, 14, 12]  # frames 8..15: the second GOP, shuffled
    batch = ds.get_batch(gop)
    assert len(seeks) == 1
    assert _same(batch["image.head"], np.stack([ds[i]["image.head"] for i in gop]))


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_and_iterable_over_video_cameras(video_root: Path, workers: int) -> None:
    ds = load(video_root, qc="all", cameras=["head", "wrist"], horizon=3)
    sampler = BatchSampler(
        RandomSampler(range(len(ds)), generator=torch.Generator().manual_seed(5)), 12, False
    )
    seen: list[int] = []
    for batch in DataLoader(ds.torch(), batch_sampler=sampler, num_workers=workers):
        _assert_same_batch(batch, _per_sample(ds, batch["index"].tolist()))
        seen += batch["index"].tolist()
    stream = ds.iterable(seed=1, shuffle_buffer=16)
    for batch in DataLoader(stream.torch(), batch_size=16, num_workers=workers):
        _assert_same_batch(batch, _per_sample(ds, batch["index"].tolist()))
        seen += batch["index"].tolist()
    assert sorted(seen) == sorted(list(range(len(ds))) * 2)
    whole = np.concatenate([b["image.head"] for b in ds.iter_batches(16)])
    assert _same(whole, np.stack([ds[i]["image.head"] for i in range(len(ds))]))
