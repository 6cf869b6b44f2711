"""The LeRobot v3.0 dataset layout, as the exporter writes it and the importer reads it.

Facts of the format (paths, default features, the Hugging Face feature JSON in parquet
metadata) live here once; ``exporters/lerobot.py`` and ``importers/lerobot.py`` use them.
See specs/interop.md for the field mapping.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .models import Feature

__all__ = [
    "CODEBASE_VERSION",
    "DATA_PATH",
    "DEFAULT_FEATURES",
    "EMBODEX_META_FILE",
    "EPISODES_COLUMN_PREFIX",
    "EPISODES_PATH",
    "INFO_FILE",
    "REAL_TIME_FEATURE",
    "STATS_FILE",
    "SUBTASKS_FILE",
    "TASKS_FILE",
    "VIDEO_PATH",
    "arrow_type",
    "camera_key",
    "feature_key",
    "hf_feature_json",
    "image_time_feature",
]

CODEBASE_VERSION = "v3.0"
INFO_FILE = "meta/info.json"
STATS_FILE = "meta/stats.json"
TASKS_FILE = "meta/tasks.parquet"
SUBTASKS_FILE = "meta/subtasks.parquet"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
#: The embodex dataset metadata (licence, provenance, robots, calibrated cameras, units).
EMBODEX_META_FILE = "meta/embodex/embodex.json"
#: Prefix of the embodex columns added to the LeRobot episodes table.
EPISODES_COLUMN_PREFIX = "embodex/"
#: Real capture time of each frame (LeRobot's ``timestamp`` is frame_index / fps).
REAL_TIME_FEATURE = "embodex.timestamp_ns"

CHUNK_SIZE = 1000  # files per chunk folder, as LeRobot
DATA_FILE_MB = 100
VIDEO_FILE_MB = 200

_SCALAR = [1]
#: The bookkeeping features LeRobot appends after the user's, in this order.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": _SCALAR, "names": None},
    "frame_index": {"dtype": "int64", "shape": _SCALAR, "names": None},
    "episode_index": {"dtype": "int64", "shape": _SCALAR, "names": None},
    "index": {"dtype": "int64", "shape": _SCALAR, "names": None},
    "task_index": {"dtype": "int64", "shape": _SCALAR, "names": None},
}


def feature_key(name: str, feature: Feature) -> str:
    """The LeRobot key of an embodex feature.

    ``state`` → ``observation.state`` and ``action`` → ``action`` (the names LeRobot
    policies look for); other action features keep an ``action`` prefix, the rest go under
    ``observation.``.
    """
    if name == "state":
        return "observation.state"
    if name == "action" or name.startswith(("action.", "observation.")):
        return name
    if feature.role == "action":
        return f"action.{name}"
    return f"observation.{name}"


def camera_key(camera: str) -> str:
    return f"observation.images.{camera}"


def image_time_feature(camera: str) -> str:
    return f"embodex.image_timestamp_ns.{camera}"


def arrow_type(ft: dict[str, Any]) -> pa.DataType:
    """Parquet column type of a LeRobot feature (scalar, vector or image)."""
    if ft["dtype"] == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    base = pa.from_numpy_dtype(ft["dtype"])
    shape = list(ft["shape"])
    if shape == _SCALAR:
        return base
    return pa.list_(base, shape[0])


def hf_feature_json(ft: dict[str, Any]) -> dict[str, Any]:
    """The ``datasets`` feature JSON kept in the parquet ``huggingface`` schema metadata."""
    if ft["dtype"] == "image":
        return {"_type": "Image"}
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if list(ft["shape"]) == _SCALAR:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "List"}
