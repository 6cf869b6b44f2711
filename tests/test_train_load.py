"""The training loader's map-style access: sample contents, windows and padding, episode
selection, QC filtering and subset statistics."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embodex.format import open_dataset
from embodex.format.images import decode_image
from embodex.format.stats import episode_feature_stats, merge_feature_stats
from embodex.train import cameras as cameras_module
from embodex.train import load
from embodex.train.shards import ShardTable

from ._train_data import module_dataset, write_qc_manifest


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return module_dataset(tmp_path_factory, "train")


def test_fixture_has_several_shards_and_split_episodes(train_root: Path) -> None:
    ds = open_dataset(train_root)
    assert len(ds.shard_names) >= 2
    # at least one episode's rows span more than one record batch
    spans = []
    for ep in ds:
        table = ds.shard_table(ep.row["shard"])
        lengths = np.cumsum([0, *(len(c) for c in table.column(0).chunks)])
        first = np.searchsorted(lengths, ep.row["row_start"], side="right")
        last = np.searchsorted(lengths, ep.row["row_start"] + ep.frame_count - 1, side="right")
        spans.append(last - first)
    assert max(spans) >= 1


def test_samples_match_the_episode_data(train_root: Path) -> None:
    ds = load(train_root, qc="all")
    ref = open_dataset(train_root)
    assert len(ds) == ref.num_frames and ds.num_episodes == len(ref)
    i = 0
    for ep in ref:
        state, action = ep.feature("state"), ep.feature("action")
        ts = ep.timestamp_ns
        for t in (0, ep.frame_count // 2, ep.frame_count - 1):
            s = ds[i + t]
            assert np.array_equal(s["state"], state[t])
            assert np.array_equal(s["action"], action[t])
            assert s["episode_id"] == ep.episode_id
            assert s["episode_index"] == ep.index and s["frame_index"] == t
            assert s["timestamp_ns"] == ts[t] and s["index"] == i + t
            assert s["instruction"] == ep.meta.instruction_en
            seg = next(g for g in ep.meta.segments if g.start_frame <= t < g.end_frame)
            assert s["subtask"] == seg.text
            for cam in ("head", "hand_left"):
                want = decode_image(ep.images(cam).encoded(t) or b"", "jpeg")
                assert np.array_equal(s[f"image.{cam}"], want)
        i += ep.frame_count
    assert set(ds[0]) == {
        "state", "action", "image.head", "image.hand_left", "episode_index", "frame_index",
        "timestamp_ns", "index", "episode_id", "instruction", "subtask",
    }  # fmt: skip
    assert ds[-1]["index"] == len(ds) - 1
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_only_requested_keys_and_encoded_images(train_root: Path) -> None:
    ds = load(train_root, qc="all", features=["action"], cameras=["head"], decode_images=False)
    s = ds[3]
    assert "state" not in s and "image.hand_left" not in s
    ref = open_dataset(train_root).episode(0)
    assert s["image.head"].dtype == np.uint8
    assert s["image.head"].tobytes() == ref.images("head").encoded(3)
    none = load(train_root, qc="all", features=["state"], cameras=[])
    assert not any(k.startswith("image.") for k in none[0])


def test_only_requested_columns_are_touched_and_one_image_decoded(
    train_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count what a sample costs: the shard columns read, the JPEG decodes per camera."""
    touched: list[str] = []
    real_column = ShardTable._column

    def column(self: ShardTable, batch: object, name: str) -> object:
        touched.append(name)
        return real_column(self, batch, name)  # type: ignore[arg-type]

    decoded: list[int] = []
    real_decode = cameras_module.simplejpeg.decode_jpeg

    def decode(data: object, *args: object, **kwargs: object) -> object:
        decoded.append(1)
        return real_decode(data, *args, **kwargs)

    monkeypatch.setattr(ShardTable, "_column", column)
    monkeypatch.setattr(cameras_module.simplejpeg, "decode_jpeg", decode)
    ds = load(train_root, qc="all", features=["action"], cameras=["head"], history=3, horizon=8)
    picks = np.random.default_rng(1).choice(len(ds), 40, replace=False).tolist()
    for i in picks:
        before = len(decoded)
        s = ds[i]
        assert len(decoded) - before == 1  # one image of the one camera, whatever the windows
        assert s["action"].shape == (8, 20)
    # the requested feature, the capture times and the one camera: nothing else
    assert set(touched) == {"action", "timestamp_ns", "image.head"}
    touched.clear()
    both = load(train_root, qc="all", features=["state"], cameras=["head", "hand_left"])
    decoded.clear()
    for i in picks:
        both[i]
    assert len(decoded) == 2 * len(picks)
    assert set(touched) == {"state", "timestamp_ns", "image.head", "image.hand_left"}
    # a batch decodes one image per camera per sample too, and reads nothing more
    touched.clear()
    decoded.clear()
    fresh = load(train_root, qc="all", features=["state"], cameras=["head", "hand_left"])
    batch = fresh.get_batch(picks)
    assert len(decoded) == 2 * len(picks) and batch["image.head"].shape == (40, 32, 32, 3)
    assert set(touched) == {"state", "timestamp_ns", "image.head", "image.hand_left"}


def _episode_bounds(ds_len: list[int]) -> list[tuple[int, int]]:
    starts = np.cumsum([0, *ds_len])
    return [(int(a), int(b)) for a, b in itertools.pairwise(starts)]


def test_windows_pad_with_edge_frames(train_root: Path) -> None:
    ds = load(train_root, qc="all", cameras=[], history=4, horizon=10)
    ref = open_dataset(train_root)
    for (lo, _hi), ep in zip(_episode_bounds(ds.frame_counts), ref, strict=True):
        n = ep.frame_count
        state, action = ep.feature("state"), ep.feature("action")
        for t in (0, 1, 3, n // 2, n - 10, n - 9, n - 2, n - 1):
            s = ds[lo + t]
            hist = np.arange(t - 3, t + 1)
            assert np.array_equal(s["state_is_pad"], hist < 0)
            assert np.array_equal(s["state"], state[np.clip(hist, 0, n - 1)])
            fut = np.arange(t, t + 10)
            assert np.array_equal(s["action_is_pad"], fut >= n)
            assert np.array_equal(s["action"], action[np.clip(fut, 0, n - 1)])
            assert s["state"].shape == (4, 20) and s["action"].shape == (10, 20)
        first, last = ds[lo], ds[lo + n - 1]
        assert (first["state"] == state[0]).all() and first["state_is_pad"][:3].all()
        assert (last["action"][1:] == action[-1]).all() and last["action_is_pad"][1:].all()
        assert not last["action_is_pad"][0]


def test_delta_timestamps_and_image_windows(train_root: Path) -> None:
    fps = open_dataset(train_root).meta.fps
    ds = load(
        train_root,
        qc="all",
        cameras=["head"],
        delta_timestamps={
            "state": [-2 / fps, 0.0],
            "action": [0.0, 2 / fps],
            "head": [-1 / fps, 0],
        },
    )
    ep = open_dataset(train_root).episode(0)
    s = ds[0]
    assert np.array_equal(s["state_is_pad"], [True, False])
    assert np.array_equal(s["state"], ep.feature("state")[[0, 0]])
    assert np.array_equal(s["action"], ep.feature("action")[[0, 2]])
    assert s["image.head"].shape == (2, 32, 32, 3)
    assert np.array_equal(s["image.head_is_pad"], [True, False])
    s5 = ds[5]
    assert np.array_equal(s5["state"], ep.feature("state")[[3, 5]])
    assert np.array_equal(s5["image.head"][0], ep.images("head")[4])


def test_episode_predicate_dict_and_ids(train_root: Path) -> None:
    ref = open_dataset(train_root)
    skill = ref.episode(0).meta.skill
    want = [e.episode_id for e in ref if e.meta.skill == skill]
    by_fn = load(train_root, qc="all", episodes=lambda ep: ep.skill == skill)
    by_dict = load(train_root, qc="all", episodes={"skill": skill})
    by_ids = load(train_root, qc="all", episodes=want)
    for ds in (by_fn, by_dict, by_ids):
        assert ds.episode_ids == want
        assert len(ds) == sum(e.frame_count for e in ref if e.meta.skill == skill)
        assert ds[0]["episode_id"] == want[0]
    extra = load(train_root, qc="all", episodes=lambda ep: ep["extra"]["synthetic"])
    assert extra.num_episodes == len(ref)
    both = load(train_root, qc="all", episodes={"skill": [skill, "none"], "success": [True, False]})
    assert both.episode_ids == want


def test_qc_filter_from_manifest(train_root: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(train_root, root)
    ids = open_dataset(root).episode_ids
    verdicts = dict(zip(ids, ["PASS", "WARN", "FAIL", "pass", "WARN", "PASS"], strict=True))
    write_qc_manifest(root, verdicts)
    assert load(root, qc="pass").episode_ids == [ids[0], ids[3], ids[5]]
    assert load(root).episode_ids == [ids[0], ids[3], ids[5]]  # "pass" is the default
    assert load(root, qc="pass+warn").episode_ids == [ids[0], ids[1], ids[3], ids[4], ids[5]]
    assert load(root, qc="all").episode_ids == ids
    warned = load(root, qc="all", episodes=lambda ep: ep.qc_verdict == "WARN")
    assert warned.episode_ids == [ids[1], ids[4]]
    report = load(root, qc="pass").report
    assert report["excluded_by_qc"] == 3 and report["episodes"] == 6


def test_subset_stats_from_per_episode_stats(train_root: Path) -> None:
    ref = open_dataset(train_root)
    chosen = [e.episode_id for e in ref][1:4]
    ds = load(train_root, qc="all", episodes=chosen)
    stats = ds.stats
    assert stats.episodes == 3 and stats.frames == len(ds)
    frames = np.concatenate([ref.episode(e).feature("action") for e in chosen])
    got = stats.features["action"]
    assert got.count == len(frames)
    np.testing.assert_allclose(got.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.std, frames.std(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(got.min, frames.min(axis=0))
    np.testing.assert_array_equal(got.max, frames.max(axis=0))
    # the whole dataset's stats differ from the subset's
    assert load(train_root, qc="all").stats.features["action"].mean != got.mean
    norm = ds.norm_stats()["action"]
    assert norm["mean"].dtype == np.float32 and norm["q99"].shape == (20,)
    direct = merge_feature_stats([episode_feature_stats(frames)], 20)
    np.testing.assert_allclose(got.q99, direct.q99, atol=0.05)


def test_qc_filter_from_a_real_qc_run(tmp_path: Path) -> None:
    """The tolerant reader against the manifest `embodex qc run` writes (the QC package is
    used here only to produce it; the loader never imports it)."""
    from embodex.demo.defects import write_defective_dataset
    from embodex.demo.synth import synth_meta
    from embodex.qc import load_qc_manifest, run_qc, write_qc

    root = tmp_path / "batch"
    _, labels = write_defective_dataset(
        root,
        meta=synth_meta(image_size=32, cameras=("head",)),
        clean=3,
        kinds=["nan", "tremor"],
        duration_s=(4, 6),
    )
    write_qc(root, run_qc(root, images="none"))
    verdicts = {e.episode_id: e.verdict for e in load_qc_manifest(root).episodes}
    nan_episode = next(eid for eid, kind in labels.items() if kind == "nan")
    assert verdicts[nan_episode] == "FAIL"
    order = open_dataset(root).episode_ids
    for qc, keep in (("pass", {"PASS"}), ("pass+warn", {"PASS", "WARN"})):
        want = [e for e in order if verdicts[e] in keep]
        assert load(root, qc=qc).episode_ids == want
    assert sorted(verdicts.values()) == ["FAIL", "PASS", "PASS", "PASS", "WARN"]


def test_loading_works_without_torch(train_root: Path, tmp_path: Path) -> None:
    """torch is an optional extra: with `import torch` failing, everything but .torch() works."""
    blocker = tmp_path / "no-torch"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        "class _NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked for this test')\n"
        "        return None\n"
        "sys.meta_path.insert(0, _NoTorch())\n"
    )
    code = f"""
import sys
try:
    import torch
except ImportError:
    pass
else:
    sys.exit("torch imported: the blocker did not work")
import embodex
from embodex.errors import LoaderConfigError
ds = embodex.load({str(train_root)!r}, qc="all", cameras=["head"], horizon=4)
s = ds[3]
assert s["action"].shape == (4, 20) and s["image.head"].shape == (32, 32, 3)
stream = ds.iterable(seed=1, shuffle_buffer=8)
assert sorted(stream.indices()) == list(range(len(ds)))
next(iter(stream))
assert ds.norm_stats()
try:
    ds.torch()
except LoaderConfigError as exc:
    assert "embodex[torch]" in exc.hint
else:
    sys.exit(".torch() worked without torch")
assert "torch" not in sys.modules
print("ok without torch")
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout
    assert "ok without torch" in proc.stdout
