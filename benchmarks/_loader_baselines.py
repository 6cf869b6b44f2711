"""Baselines for benchmarks/loader.py, each producing the same sample as embodex:
state at t, the 50 actions from t (edge-padded, with a pad mask), optionally the head image
at t decoded.

* ``Gather``: hand-written pyarrow memory-map gather, the practical limit: per-episode
  numpy views into the mapped shards built once, a bisection and a slice per sample.
* ``IndexGather``: the same, but every chunk gathered through an index array
  (``np.minimum`` of the 50 frame numbers), as a loader that does not special-case
  windows inside the episode would.
* ``Gather.batch``: the slice gather sample by sample, stacked per key (what a DataLoader's
  default collate does with per-sample dicts).
* ``BulkRead``: the sequential baseline, a whole episode at a time: its state rows copied,
  its ``(n, 50, D)`` action chunks gathered with one index array, the pad mask.
* ``HFRandomAccess``: the same frames saved as a Hugging Face ``datasets`` dataset
  (``save_to_disk``, memory-mapped by ``load_from_disk``), read with ``with_format("numpy")``
  on only the needed columns: one row for the state, one contiguous slice for the chunk, and
  the image through its ``datasets.Image`` feature (decoded by Pillow, as HF users get it).
"""

from __future__ import annotations

import shutil
from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import simplejpeg

from embodex.format import open_dataset


class _Baseline:
    """Pickles as its constructor arguments and reopens its files in the new process."""

    _ARGS: tuple[str, ...] = ()
    starts: list[int]
    lens: list[int]

    def _open(self) -> None:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in self._ARGS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._open()

    def __len__(self) -> int:
        return self.starts[-1]

    def _locate(self, i: int) -> tuple[int, int, int]:
        """(episode, frame, episode length) of sample ``i``."""
        e = bisect_right(self.starts, i) - 1
        return e, i - self.starts[e], self.lens[e]


class Gather(_Baseline):
    """Hand-written pyarrow memory-map gather over the dataset's shards."""

    _ARGS = ("root", "horizon", "camera")

    def __init__(self, root: Path, horizon: int, camera: str | None) -> None:
        self.root, self.horizon, self.camera = root, horizon, camera
        self._open()

    def _open(self) -> None:
        ds = open_dataset(self.root)
        rows = ds.episodes.select(["shard", "row_start", "frame_count"]).to_pylist()
        tables: dict[str, pa.Table] = {}
        self.state, self.action, self.offsets, self.data, self.lens = [], [], [], [], []
        for r in rows:
            if r["shard"] not in tables:
                path = str(self.root / r["shard"])
                tables[r["shard"]] = pa.ipc.open_file(pa.memory_map(path)).read_all()
            part = tables[r["shard"]].slice(r["row_start"], r["frame_count"])
            n = r["frame_count"]
            for name, out in (("state", self.state), ("action", self.action)):
                arr = part.column(name).chunk(0)
                out.append(arr.flatten().to_numpy().reshape(n, -1))
            if self.camera:
                img = part.column(f"image.{self.camera}").chunk(0)
                bufs = img.buffers()
                self.offsets.append(
                    np.frombuffer(bufs[1], np.int32)[img.offset : img.offset + n + 1]
                )
                self.data.append(np.frombuffer(bufs[2], np.uint8))
            self.lens.append(n)
        self.starts = [0, *np.cumsum(self.lens).tolist()]
        self.steps = np.arange(self.horizon)

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, t, n = self._locate(i)
        idx = t + self.steps
        out: dict[str, Any] = {"state": self.state[e][t].copy()}
        if t + self.horizon <= n:
            out["action"] = self.action[e][t : t + self.horizon].copy()
            out["action_is_pad"] = np.zeros(self.horizon, dtype=bool)
        else:
            out["action"] = self.action[e][np.minimum(idx, n - 1)]
            out["action_is_pad"] = idx >= n
        if self.camera:
            off = self.offsets[e]
            out["image"] = simplejpeg.decode_jpeg(
                self.data[e][off[t] : off[t + 1]], colorspace="RGB"
            )
        return out

    def batch(self, indices: list[int]) -> dict[str, np.ndarray]:
        samples = [self[i] for i in indices]
        return {k: np.stack([s[k] for s in samples]) for k in samples[0]}

    def jpeg_view(self, i: int) -> np.ndarray:
        """The encoded JPEG of sample ``i``: a view of the mapped bytes (what decoders get)."""
        e, t, _n = self._locate(i)
        off = self.offsets[e]
        out: np.ndarray = self.data[e][off[t] : off[t + 1]]
        return out


class IndexGather(Gather):
    """``Gather`` with every chunk taken through an index array (no slice fast case)."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, t, n = self._locate(i)
        idx = t + self.steps
        return {
            "state": self.state[e][t].copy(),
            "action": self.action[e][np.minimum(idx, n - 1)],
            "action_is_pad": idx >= n,
        }


class BulkRead(Gather):
    """Sequential baseline: every episode read whole, its chunks gathered at once."""

    def episodes(self) -> int:
        """Read every episode once; returns the number of samples produced."""
        done = 0
        for e, n in enumerate(self.lens):
            frames = np.arange(n)
            idx = np.minimum(frames[:, None] + self.steps, n - 1)
            self.last = (
                self.state[e].copy(),
                self.action[e][idx],
                idx != frames[:, None] + self.steps,
            )
            done += n
        return done


def save_hf_copy(root: Path, dest: Path, camera: str) -> None:
    """The dataset's frames as a ``datasets`` dataset on disk (Arrow files HF maps)."""
    import datasets
    from datasets.table import InMemoryTable

    datasets.disable_progress_bars()
    ds = open_dataset(root)
    parts = []
    for ep in ds:
        n = ep.frame_count
        images = ep.images(camera).all_encoded()
        parts.append(
            pa.table(
                {
                    "episode_index": pa.array(np.full(n, ep.index, dtype=np.int64)),
                    "frame_index": pa.array(np.arange(n, dtype=np.int64)),
                    "state": pa.FixedSizeListArray.from_arrays(
                        pa.array(ep.feature("state").reshape(-1)), 20
                    ),
                    "action": pa.FixedSizeListArray.from_arrays(
                        pa.array(ep.feature("action").reshape(-1)), 20
                    ),
                    "image": pa.StructArray.from_arrays(
                        [pa.array(images, pa.binary()), pa.nulls(n, pa.string())],
                        names=["bytes", "path"],
                    ),
                }
            )
        )
    features = datasets.Features(
        {
            "episode_index": datasets.Value("int64"),
            "frame_index": datasets.Value("int64"),
            "state": datasets.List(datasets.Value("float32"), length=20),
            "action": datasets.List(datasets.Value("float32"), length=20),
            "image": datasets.Image(),
        }
    )
    table = pa.concat_tables(parts)
    hf = datasets.Dataset(InMemoryTable(table), info=datasets.DatasetInfo(features=features))
    shutil.rmtree(dest, ignore_errors=True)
    hf.save_to_disk(str(dest))


class HFRandomAccess(_Baseline):
    """Random access to the HF copy with ``with_format("numpy")``, only needed columns."""

    _ARGS = ("path", "lens", "horizon", "camera")

    def __init__(self, path: Path, lens: list[int], horizon: int, camera: bool) -> None:
        self.path, self.lens, self.horizon, self.camera = path, lens, horizon, camera
        self._open()

    def _open(self) -> None:
        import datasets

        hf = datasets.load_from_disk(str(self.path))
        self.sa = hf.select_columns(["state", "action"]).with_format("numpy")
        self.img = hf.select_columns(["image"]).with_format("numpy")
        self.starts = [0, *np.cumsum(self.lens).tolist()]

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, _t, n = self._locate(i)
        end = self.starts[e] + n
        out: dict[str, Any] = {"state": self.sa[i]["state"]}
        chunk = self.sa[i : min(i + self.horizon, end)]["action"]
        have = len(chunk)
        if have < self.horizon:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.horizon - have, axis=0)])
        out["action"] = chunk
        out["action_is_pad"] = np.arange(self.horizon) >= have
        if self.camera:
            out["image"] = self.img[i]["image"]
        return out
