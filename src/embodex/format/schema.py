"""Arrow schemas of ``episodes.arrow`` and the frame shards, derived from ``DatasetMeta``."""

from __future__ import annotations

import pyarrow as pa

from .models import DatasetMeta, Feature, Segment, Stream
from .stats import stats_arrow_type

__all__ = [
    "EPISODE_BOOKKEEPING",
    "episodes_schema",
    "feature_arrow_type",
    "frames_schema",
    "stream_schema",
    "upgrade_episodes",
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
        ("text_en", pa.string()),
        ("text_zh", pa.string()),
    ]
)
#: Segments of format 1.0: one text (read and converted; never written).
SEGMENT_TYPE_1_0 = pa.struct(
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


def upgrade_episodes(table: pa.Table) -> pa.Table:
    """A format-1.0 episode table in 1.1 form (segments: ``text`` → ``text_en``/``text_zh``);
    a 1.1 table is returned as is."""
    field = table.schema.field("segments")
    if field.type == pa.list_(SEGMENT_TYPE) or field.type.value_type.get_field_index("text") < 0:
        return table
    converted = [
        None if segs is None else [Segment.model_validate(s).model_dump() for s in segs]
        for segs in table.column("segments").to_pylist()
    ]
    column = pa.array(converted, type=pa.list_(SEGMENT_TYPE))
    return table.set_column(table.schema.get_field_index("segments"), field.name, column)


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
        if cam.is_video:
            # the frame's presentation timestamp in its video, and its key frame's PTS
            fields.append(pa.field(cam.column, pa.int64(), nullable=False))
            fields.append(pa.field(cam.key_column, pa.int64(), nullable=False))
        else:
            fields.append(pa.field(cam.column, pa.binary()))
        fields.append(pa.field(cam.timestamp_column, pa.int64()))
    return pa.schema(fields, metadata={b"embodex.format_version": meta.format_version.encode()})


def stream_schema(meta: DatasetMeta, stream: Stream) -> pa.Schema:
    """Schema of every shard ``streams/<name>/shard-NNNNNN.arrow`` of one stream (1.1)."""
    fields = [
        pa.field("episode_index", pa.int64(), nullable=False),
        pa.field("timestamp_ns", pa.int64(), nullable=False),
    ]
    for name, feature in stream.feature_items():
        fields.append(pa.field(name, feature_arrow_type(feature), nullable=False))
    return pa.schema(fields, metadata={b"embodex.format_version": meta.format_version.encode()})


def episodes_schema(meta: DatasetMeta) -> pa.Schema:
    """Schema of ``episodes.arrow``: one row per episode (format 1.1; readers upgrade a
    1.0 table's segments with :func:`upgrade_episodes`)."""
    stats = pa.struct([(name, stats_arrow_type()) for name, _ in meta.feature_items()])
    s = pa.string()
    videos = [pa.field(cam.video_column, s, nullable=False) for cam in meta.cameras if cam.is_video]
    streams = []
    for stream in meta.streams:
        streams += [
            pa.field(stream.shard_column, s, nullable=False),
            pa.field(stream.start_column, pa.int64(), nullable=False),
            pa.field(stream.count_column, pa.int64(), nullable=False),
        ]
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
            *videos,
            *streams,
        ],
        metadata={b"embodex.format_version": meta.format_version.encode()},
    )
