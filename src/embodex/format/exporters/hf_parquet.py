"""The Hub's own dataset layout: Parquet shards and a card whose ``configs:`` name them.

``embodex export hf DATASET OUT`` writes what the Hugging Face Hub serves and its dataset
viewer shows, and what ``datasets.load_dataset(OUT)`` (or ``load_dataset("owner/repo")``
once pushed) reads without embodex::

    OUT/data/train-00000-of-00003.parquet      the frames, one row each, whole episodes
    OUT/episodes/train-00000-of-00001.parquet  one row per episode (config "episodes")
    OUT/README.md                              card: YAML configs + dataset_info, body
    OUT/embodex.json                           the embodex dataset metadata

A frame row holds ``episode_index``, ``episode_id``, ``frame_index``, ``timestamp`` (seconds
since the episode's first frame, float64), ``timestamp_ns`` (the real capture time), each
feature as a fixed-length list, ``instruction`` (English, else Chinese), and each camera
as a ``datasets.Image`` struct ``{bytes, path}`` holding the stored JPEG/PNG bytes (a video
camera's frames are decoded once and stored as JPEG: the viewer shows images, not clips)
with its own capture time. The ``datasets`` features travel in each file's Arrow schema
(the ``huggingface`` metadata ``datasets`` itself writes) and in the card.

Shards are cut at episode boundaries once they pass ``max_shard_bytes`` (uncompressed
Arrow size, the measure ``datasets.push_to_hub`` uses; default 500 MB as there); row
groups hold 100 rows when the table has images, so the viewer pages through them cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..models import Camera, DatasetMeta
from ..reader import Dataset, EpisodeView

try:
    import datasets
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    from ...errors import MissingExtraError

    raise MissingExtraError(_exc.name or "datasets", "hf") from None

__all__ = [
    "DATA_DIR",
    "EPISODES_CONFIG",
    "MAX_SHARD_BYTES",
    "ParquetConfig",
    "hub_card_metadata",
    "hub_features",
    "hub_frame_table",
    "write_parquet_episodes",
    "write_parquet_frames",
]

DATA_DIR = "data"
EPISODES_CONFIG = "episodes"
#: what datasets.push_to_hub cuts shards at (uncompressed Arrow bytes)
MAX_SHARD_BYTES = 500 * 1024 * 1024
#: rows per row group with images (datasets' own choice for image tables), else
_IMAGE_ROW_GROUP = 100
_ROW_GROUP = 10_000


def hub_features(meta: DatasetMeta, cameras: Sequence[Camera]) -> datasets.Features:
    """The features of a frame row in the Parquet layout (see the module doc)."""
    feats: dict[str, Any] = {
        "episode_index": datasets.Value("int64"),
        "episode_id": datasets.Value("string"),
        "frame_index": datasets.Value("int32"),
        "timestamp": datasets.Value("float64"),
        "timestamp_ns": datasets.Value("int64"),
    }
    for name, feat in meta.feature_items():
        feats[name] = datasets.List(datasets.Value(feat.dtype), length=feat.shape[0])
    feats["instruction"] = datasets.Value("string")
    for cam in cameras:
        feats[cam.column] = datasets.Image()
        feats[cam.timestamp_column] = datasets.Value("int64")
    return datasets.Features(feats)


def hub_frame_table(view: EpisodeView, base: pa.Table, features: datasets.Features) -> pa.Table:
    """One episode's rows: ``base`` (the ``frame_table`` of ``hf.py``) plus the columns
    the Hub layout adds (episode id, seconds since the first frame, instruction)."""
    n = base.num_rows
    ts = base.column("timestamp_ns").to_numpy()
    first = int(ts[0]) if n else 0
    meta = view.meta
    instruction = meta.instruction_en or meta.instruction_zh or ""
    added: dict[str, pa.Array] = {
        "episode_id": pa.array([view.episode_id] * n, pa.string()),
        "timestamp": pa.array((ts - first).astype(np.float64) / 1e9, pa.float64()),
        "instruction": pa.array([instruction] * n, pa.string()),
    }
    schema = features.arrow_schema
    columns = [added[name] if name in added else base.column(name) for name in schema.names]
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class ParquetConfig:
    """One config as written: its features, files, rows and uncompressed Arrow bytes."""

    name: str
    features: datasets.Features
    files: list[Path]
    rows: int
    nbytes: int


class _ShardWriter:
    """Writes tables into ``folder/.part-NNNNN.parquet`` files, starting a new one when the
    current one passes ``max_bytes``; :meth:`finish` names them ``train-i-of-n``."""

    def __init__(self, folder: Path, schema: pa.Schema, max_bytes: int, row_group: int) -> None:
        self.folder = folder
        self.schema = schema
        self.max_bytes = max_bytes
        self.row_group = row_group
        self.parts: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._bytes = 0
        self.rows = 0
        self.nbytes = 0
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if self._writer is not None and self._bytes + table.nbytes > self.max_bytes:
            self._close()
        if self._writer is None:
            path = self.folder / f".part-{len(self.parts):05d}.parquet"
            self.parts.append(path)
            self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
            self._bytes = 0
        self._writer.write_table(table, row_group_size=self.row_group)
        self._bytes += table.nbytes
        self.nbytes += table.nbytes
        self.rows += table.num_rows

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def finish(self) -> list[Path]:
        """Close the last file and give every file its final name; the paths, in order."""
        self._close()
        if not self.parts:  # nothing written: one empty shard keeps the config loadable
            self.write(self.schema.empty_table())
            self._close()
        total = len(self.parts)
        out = []
        for i, part in enumerate(self.parts):
            final = self.folder / f"train-{i:05d}-of-{total:05d}.parquet"
            os.replace(part, final)
            out.append(final)
        return out


def write_parquet_frames(
    ds: Dataset,
    root: Path,
    cameras: Sequence[Camera],
    frame_table: Callable[[EpisodeView, datasets.Features], pa.Table],
    base_features: datasets.Features,
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    on_episode: Callable[[str], None] | None = None,
) -> ParquetConfig:
    """Every episode's frames into ``root/data/train-*.parquet`` (the default config)."""
    features = hub_features(ds.meta, cameras)
    row_group = _IMAGE_ROW_GROUP if cameras else _ROW_GROUP
    writer = _ShardWriter(root / DATA_DIR, features.arrow_schema, max_shard_bytes, row_group)
    for view in ds:
        writer.write(hub_frame_table(view, frame_table(view, base_features), features))
        if on_episode is not None:
            on_episode(view.episode_id)
    files = writer.finish()
    return ParquetConfig("default", features, files, writer.rows, writer.nbytes)


def write_parquet_episodes(table: pa.Table, root: Path) -> ParquetConfig:
    """The episode table into ``root/episodes/train-00000-of-00001.parquet``."""
    features = datasets.Features.from_arrow_schema(table.schema)
    table = table.cast(features.arrow_schema)  # with the huggingface metadata
    folder = root / EPISODES_CONFIG
    writer = _ShardWriter(folder, table.schema, MAX_SHARD_BYTES, _ROW_GROUP)
    writer.write(table)
    files = writer.finish()
    return ParquetConfig(EPISODES_CONFIG, features, files, writer.rows, writer.nbytes)


def hub_card_metadata(root: Path, configs: Sequence[ParquetConfig]) -> dict[str, Any]:
    """The card's ``configs`` (which files each config reads: what ``load_dataset`` and the
    viewer follow; the first is the default) and ``dataset_info`` (features, rows, bytes)."""
    entries: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []
    for j, config in enumerate(configs):
        folder = config.files[0].parent.relative_to(root).as_posix()
        entry: dict[str, Any] = {
            "config_name": config.name,
            "data_files": [{"split": "train", "path": f"{folder}/train-*"}],
        }
        if j == 0:
            entry["default"] = True
        entries.append(entry)
        download = sum(p.stat().st_size for p in config.files)
        infos.append(
            {
                "config_name": config.name,
                # the YAML form datasets itself writes into cards (push_to_hub)
                **datasets.DatasetInfo(features=config.features)._to_yaml_dict(),
                "splits": [
                    {"name": "train", "num_bytes": config.nbytes, "num_examples": config.rows}
                ],
                "download_size": download,
                "dataset_size": config.nbytes,
            }
        )
    return {"configs": entries, "dataset_info": infos}
