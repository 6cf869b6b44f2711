"""Arrow schemas of ``episodes.arrow`` and the frame shards, derived from ``DatasetMeta``."""

from __future__ import annotations

import pyarrow as pa

from .models import DatasetMeta, Feature
from .stats import stats_arrow_type

__all__ = [
    "EPISODE_BOOKKEEPING",
    "episodes_schema",
    "feature_arrow_type",
    "frames_schema",
]

_NUMPY_TO_ARROW = {
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
}

SEGMENT_TYPE = pa.struct(
    [
        ("start_frame", pa.int32()),
        ("end_frame", pa.int32()),
        ("skill", pa.string()),
        ("text", pa.string()),
    ]
)

#: Columns of episodes.arrow the writer fills in (not part of EpisodeMeta).
EPISODE_BOOKKEEPING = (
    "episode_index",
    "shard",
    "row_start",
    "frame_count",
    "start_time_ns",
    "end_time_ns",
    "duration_s",
    "stats",
)


def feature_arrow_type(feature: Feature) -> pa.DataType:
    return pa.list_(_NUMPY_TO_ARROW[feature.dtype], feature.shape[0])


def frames_schema(meta: DatasetMeta) -> pa.Schema:
    """Schema of every frame shard ``data/shard-NNNNNN.arrow``."""
    fields = [
        pa.field("episode_index", pa.int64(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("timestamp_ns", pa.int64(), nullable=False),
    ]
    for name, feature in meta.feature_items():
        fields.append(pa.field(name, feature_arrow_type(feature), nullable=False))
    for cam in meta.cameras:
        fields.append(pa.field(cam.column, pa.binary()))
        fields.append(pa.field(cam.timestamp_column, pa.int64()))
    return pa.schema(fields, metadata={b"embodex.format_version": meta.format_version.encode()})


def episodes_schema(meta: DatasetMeta) -> pa.Schema:
    """Schema of ``episodes.arrow``: one row per episode."""
    stats = pa.struct([(name, stats_arrow_type()) for name, _ in meta.feature_items()])
    s = pa.string()
    return pa.schema(
        [
            pa.field("episode_index", pa.int64(), nullable=False),
            pa.field("episode_id", s, nullable=False),
            pa.field("shard", s, nullable=False),
            pa.field("row_start", pa.int64(), nullable=False),
            pa.field("frame_count", pa.int64(), nullable=False),
            pa.field("start_time_ns", pa.int64(), nullable=False),
            pa.field("end_time_ns", pa.int64(), nullable=False),
            pa.field("duration_s", pa.float64(), nullable=False),
            pa.field("scene_id", s),
            pa.field("scene_type", s),
            pa.field("site", s),
            pa.field("lighting", s),
            pa.field("objects", pa.list_(s)),
            pa.field("robot_model", s),
            pa.field("robot_serial", s),
            pa.field("operator_id", s),
            pa.field("operator_level", s),
            pa.field("skill", s),
            pa.field("instruction_en", s),
            pa.field("instruction_zh", s),
            pa.field("segments", pa.list_(SEGMENT_TYPE)),
            pa.field("success", pa.bool_()),
            pa.field("failure_cause", s),
            pa.field("timestamps_synthesized", pa.bool_(), nullable=False),
            pa.field("stats", stats),
            pa.field("extra", s, nullable=False),
        ],
        metadata={b"embodex.format_version": meta.format_version.encode()},
    )
