"""The embodex dataset format: models, writer, reader, verification (specs/format.md)."""

from .copy import copy_episodes
from .episode import Episode
from .models import (
    FORMAT_VERSION,
    SCENE_TYPES,
    Camera,
    DatasetMeta,
    DatasetStats,
    Embodiment,
    EpisodeMeta,
    Extrinsics,
    Feature,
    FeatureStats,
    FileEntry,
    Intrinsics,
    Manifest,
    Provenance,
    Segment,
    Stream,
    TrimRecord,
)
from .reader import (
    Dataset,
    EpisodeView,
    ImageSequence,
    StreamSamples,
    VideoImageSequence,
    open_dataset,
)
from .transcode import TranscodeResult, transcode_dataset
from .trim import Cut, TrimResult, trim_episodes
from .verify import VerifyReport, verify_dataset
from .videostore import VideoClip, VideoEncoding
from .writer import DatasetWriter

__all__ = [
    "FORMAT_VERSION",
    "SCENE_TYPES",
    "Camera",
    "Cut",
    "Dataset",
    "DatasetMeta",
    "DatasetStats",
    "DatasetWriter",
    "Embodiment",
    "Episode",
    "EpisodeMeta",
    "EpisodeView",
    "Extrinsics",
    "Feature",
    "FeatureStats",
    "FileEntry",
    "ImageSequence",
    "Intrinsics",
    "Manifest",
    "Provenance",
    "Segment",
    "Stream",
    "StreamSamples",
    "TranscodeResult",
    "TrimRecord",
    "TrimResult",
    "VerifyReport",
    "VideoClip",
    "VideoEncoding",
    "VideoImageSequence",
    "copy_episodes",
    "open_dataset",
    "transcode_dataset",
    "trim_episodes",
    "verify_dataset",
]
