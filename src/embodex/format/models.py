"""The typed models of the dataset format; the JSON Schemas in specs/schemas/ come from here.

``DatasetMeta`` is ``embodex.json``; ``EpisodeMeta`` is the user-supplied part of one row of
``episodes.arrow`` (the writer adds bookkeeping and statistics); ``Manifest`` is
``manifest.json``; ``DatasetStats`` is ``stats.json``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..fsutil import unsafe_path_reason

__all__ = [
    "FORMAT_VERSION",
    "FRAME_ENCODINGS",
    "RESERVED_COLUMNS",
    "SCENE_TYPES",
    "VIDEO_ENCODINGS",
    "Camera",
    "DatasetMeta",
    "DatasetStats",
    "Embodiment",
    "EpisodeMeta",
    "Extrinsics",
    "Feature",
    "FeatureStats",
    "FileEntry",
    "Intrinsics",
    "Manifest",
    "Provenance",
    "Segment",
    "Stream",
    "TrimRecord",
    "has_cjk",
]

FORMAT_VERSION = "1.1"

#: Camera encodings of ``storage: "video"`` cameras (the codec of their MP4 files).
VIDEO_ENCODINGS: tuple[str, ...] = ("h264", "h265", "av1")
#: Camera encodings of ``storage: "frame"`` cameras (one encoded image per row).
FRAME_ENCODINGS: tuple[str, ...] = ("jpeg", "png", "png16")

#: Scene types named in the spec. The taxonomy is open: any lower-case slug is accepted,
#: these are the ones tools know to describe and group.
SCENE_TYPES: tuple[str, ...] = (
    "supermarket",
    "restaurant",
    "factory",
    "home",
    "office",
    "warehouse",
    "lab",
    "hospital",
    "hotel",
    "school",
    "retail_store",
    "pharmacy",
    "logistics",
    "kitchen",
    "laundry",
    "outdoor",
)

#: Frame-shard columns the format itself defines; features may not use these names.
RESERVED_COLUMNS = frozenset({"episode_index", "frame_index", "timestamp_ns"})
#: Stream-shard columns the format itself defines (format 1.1, §4.4).
STREAM_COLUMNS = frozenset({"episode_index", "timestamp_ns"})

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Provenance(_Model):
    """Who collected the data and where."""

    centre_id: Identifier = Field(description="Stable id of the collection centre.")
    centre_name: NonEmpty
    site: str | None = Field(default=None, description="Site or city of collection.")
    contact: str | None = Field(default=None, description="E-mail or other contact.")


class Embodiment(_Model):
    """One robot model: its joints, units and limits (in the order of the state vector)."""

    model: NonEmpty
    dof: int = Field(gt=0)
    joint_names: list[NonEmpty]
    units: list[NonEmpty] = Field(description="Unit of each joint: rad, m, or 1 (normalised).")
    position_lower: list[float] | None = None
    position_upper: list[float] | None = None
    velocity_limit: list[float] | None = Field(default=None, description="Per joint, unit/s.")

    @model_validator(mode="after")
    def _lengths(self) -> Embodiment:
        for name in ("joint_names", "units", "position_lower", "position_upper", "velocity_limit"):
            value = getattr(self, name)
            if value is not None and len(value) != self.dof:
                raise ValueError(f"{name} has {len(value)} entries but dof is {self.dof}")
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError("joint_names must be unique")
        if self.position_lower is not None and self.position_upper is not None:
            for i, (lo, hi) in enumerate(
                zip(self.position_lower, self.position_upper, strict=True)
            ):
                if not lo < hi:
                    raise ValueError(f"joint {self.joint_names[i]}: lower limit {lo} >= upper {hi}")
        return self


class Intrinsics(_Model):
    """Pinhole intrinsics in pixels, with an optional distortion model."""

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float
    distortion_model: str | None = Field(default=None, description="e.g. plumb_bob, fisheye.")
    distortion: list[float] = Field(default_factory=list)


class Extrinsics(_Model):
    """Camera pose in a parent frame: translation (m) and rotation quaternion (x, y, z, w)."""

    parent_frame: NonEmpty
    translation: list[float] = Field(min_length=3, max_length=3)
    rotation_xyzw: list[float] = Field(min_length=4, max_length=4)


class Camera(_Model):
    """One camera stream. Its frames live in the shard column ``image.<name>`` (``frame``
    storage), or in MP4 files with the column holding each frame's presentation time
    (``video`` storage, format 1.1)."""

    name: Slug
    kind: Literal["color", "depth"] = "color"
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    encoding: Literal["jpeg", "png", "png16", "h264", "h265", "av1"] = Field(
        description="Frame storage: jpeg for colour, png16 (uint16) for depth, png for "
        "lossless colour. Video storage: the codec of the MP4 files (h264, h265, av1)."
    )
    storage: Literal["frame", "video"] = Field(
        default="frame",
        description="frame: one encoded image per row. video (1.1): the frames of each "
        "episode in an MP4 file per camera, the row holding the frame's presentation time.",
    )
    depth_unit: str | None = Field(default=None, description="Unit of depth values, e.g. mm.")
    intrinsics: Intrinsics | None = None
    extrinsics: Extrinsics | None = None
    mount: Literal["head", "left_wrist", "right_wrist", "fixed"] | None = Field(
        default=None,
        description="Where the camera is mounted, so which joints move its picture (QC "
        "judges a still picture against that chain); null: not declared (QC guesses from "
        "the name).",
    )

    @model_validator(mode="after")
    def _encoding_fits_kind(self) -> Camera:
        if self.kind == "depth" and self.encoding != "png16":
            raise ValueError(f"depth camera {self.name} must use encoding png16")
        if self.kind == "color" and self.encoding == "png16":
            raise ValueError(f"colour camera {self.name} cannot use png16")
        if self.storage == "video" and self.encoding not in VIDEO_ENCODINGS:
            raise ValueError(
                f"video camera {self.name} needs a video encoding ({', '.join(VIDEO_ENCODINGS)})"
            )
        if self.storage == "frame" and self.encoding not in FRAME_ENCODINGS:
            raise ValueError(f"camera {self.name}: encoding {self.encoding} needs storage 'video'")
        return self

    @property
    def is_video(self) -> bool:
        return self.storage == "video"

    @property
    def key_column(self) -> str:
        """Video storage: the presentation timestamp of the key frame a frame decodes from."""
        return f"image.{self.name}.key_pts"

    @property
    def video_column(self) -> str:
        """Video storage: the ``episodes.arrow`` column naming the episode's MP4 file."""
        return f"video.{self.name}"

    @property
    def column(self) -> str:
        return f"image.{self.name}"

    @property
    def timestamp_column(self) -> str:
        return f"image.{self.name}.timestamp_ns"


class Feature(_Model):
    """A numeric per-frame vector (joint state, action, velocity...)."""

    dtype: Literal["float32", "float64", "int32", "int64"] = "float32"
    shape: list[int] = Field(min_length=1, max_length=1, description="[D]: vectors only in 1.0.")
    unit: str | None = None
    names: list[str] | None = Field(default=None, description="One name per dimension.")
    description: str | None = None
    role: Literal["state", "action", "observation", "other"] = "other"

    @model_validator(mode="after")
    def _names(self) -> Feature:
        if self.shape[0] <= 0:
            raise ValueError("shape must be positive")
        if self.names is not None and len(self.names) != self.shape[0]:
            raise ValueError(f"names has {len(self.names)} entries, shape is {self.shape}")
        return self


class Stream(_Model):
    """A stream sampled at its own rate (IMU at 200 Hz, force-torque, tactile; format 1.1):
    its samples live in ``streams/<name>/shard-NNNNNN.arrow`` with their own capture times,
    not in the frame shards."""

    name: Slug
    rate_hz: float = Field(gt=0, description="Nominal sample rate (QC measures the real one).")
    features: dict[str, Feature] = Field(
        min_length=1, description="Per-sample vectors: dtype, shape [D], unit, names."
    )
    description: str | None = None

    @field_validator("features")
    @classmethod
    def _feature_names(cls, v: dict[str, Feature]) -> dict[str, Feature]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
                raise ValueError(f"stream feature name {name!r}: use letters, digits, '_' and '.'")
            if name in STREAM_COLUMNS:
                raise ValueError(f"stream feature name {name!r} is reserved by the format")
        return v

    def feature_items(self) -> list[tuple[str, Feature]]:
        """Features in column order (sorted by name)."""
        return sorted(self.features.items())

    @property
    def shard_column(self) -> str:
        """The ``episodes.arrow`` column naming the stream shard holding an episode's samples."""
        return f"stream.{self.name}.shard"

    @property
    def start_column(self) -> str:
        """The ``episodes.arrow`` column: the episode's first row in that stream shard."""
        return f"stream.{self.name}.row_start"

    @property
    def count_column(self) -> str:
        """The ``episodes.arrow`` column: how many samples of the stream the episode has."""
        return f"stream.{self.name}.count"


class DatasetMeta(_Model):
    """``embodex.json``: what the dataset is, who made it, and the shape of its frames."""

    format_version: str = FORMAT_VERSION
    name: NonEmpty
    licence: NonEmpty = Field(
        description="Required, no default: an SPDX id (e.g. CC-BY-NC-4.0) or 'proprietary:<ref>'."
    )
    description: str | None = None
    provenance: Provenance
    embodiments: list[Embodiment] = Field(min_length=1)
    cameras: list[Camera] = Field(default_factory=list)
    features: dict[str, Feature] = Field(min_length=1)
    fps: float = Field(gt=0, description="Nominal frame rate of the frame shards.")
    streams: list[Stream] = Field(
        default_factory=list,
        description="Streams at their own rate (format 1.1), each in streams/<name>/.",
    )
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not re.fullmatch(r"\d+\.\d+", v):
            raise ValueError("format_version must look like 1.0")
        return v

    @field_validator("features")
    @classmethod
    def _feature_names(cls, v: dict[str, Feature]) -> dict[str, Feature]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
                raise ValueError(f"feature name {name!r}: use letters, digits, '_' and '.'")
            if name in RESERVED_COLUMNS or name.startswith(("image.", "stats")):
                raise ValueError(f"feature name {name!r} is reserved by the format")
        return v

    @model_validator(mode="after")
    def _unique_cameras(self) -> DatasetMeta:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        streams = [s.name for s in self.streams]
        if len(set(streams)) != len(streams):
            raise ValueError("stream names must be unique")
        return self

    def stream(self, name: str) -> Stream:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(name)

    def feature_items(self) -> list[tuple[str, Feature]]:
        """Features in column order: sorted by name, so key order in JSON never matters."""
        return sorted(self.features.items())

    def camera(self, name: str) -> Camera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise KeyError(name)

    def schema_fingerprint(self) -> dict[str, Any]:
        """The parts that shape the frame shards: equal fingerprints can share a dataset."""
        return {
            "features": {
                k: v.model_dump(include={"dtype", "shape"}) for k, v in self.features.items()
            },
            "cameras": [
                c.model_dump(include={"name", "kind", "encoding", "storage"}) for c in self.cameras
            ],
            "fps": self.fps,
            **({"streams": [_stream_fingerprint(s) for s in self.streams]} if self.streams else {}),
        }


def _stream_fingerprint(stream: Stream) -> dict[str, Any]:
    return {
        "name": stream.name,
        "rate_hz": stream.rate_hz,
        "features": {
            k: v.model_dump(include={"dtype", "shape"}) for k, v in stream.features.items()
        },
    }


class Segment(_Model):
    """A labelled sub-task: frames ``[start_frame, end_frame)`` of the episode, described in
    English and Chinese like the episode instruction.

    Format 1.0 had one ``text``; it is still accepted (``Segment(text=...)``, 1.0 datasets)
    and goes to ``text_zh`` when it holds CJK characters, else to ``text_en``.
    """

    start_frame: int = Field(ge=0)
    end_frame: int = Field(gt=0, description="Exclusive.")
    skill: str
    text_en: str = ""
    text_zh: str = ""

    @model_validator(mode="before")
    @classmethod
    def _legacy_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and "text" in data:
            data = dict(data)
            text = data.pop("text") or ""
            key = "text_zh" if has_cjk(text) else "text_en"
            if text and not data.get(key):
                data[key] = text
        return data

    @property
    def text(self) -> str:
        """The description in one language: English when there is one, else Chinese."""
        return self.text_en or self.text_zh


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK ideograph (how 1.0's one segment text is sorted)."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


class EpisodeMeta(_Model):
    """Per-episode metadata supplied by the producer (one row of ``episodes.arrow``).

    Fields are optional where real recordings may lack them; QC's completeness rule flags
    what a contract needs and is missing.
    """

    episode_id: Identifier = Field(description="Globally unique, stable across deliveries.")
    scene_id: str | None = None
    scene_type: Slug | None = Field(default=None, description="See SCENE_TYPES; open taxonomy.")
    site: str | None = None
    lighting: str | None = None
    objects: list[str] = Field(default_factory=list)
    robot_model: str | None = None
    robot_serial: str | None = None
    operator_id: str | None = Field(default=None, description="Pseudonymous operator id.")
    operator_level: str | None = Field(default=None, description="Certification level.")
    skill: str | None = None
    instruction_en: str | None = None
    instruction_zh: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    success: bool | None = None
    failure_cause: str | None = None
    timestamps_synthesized: bool = Field(
        default=False, description="True when capture times were not recorded and were made up."
    )
    extra: dict[str, Any] = Field(default_factory=dict)


class TrimRecord(_Model):
    """``extra.trim`` of a trimmed episode (``embodex trim``): what the recording was and
    what was kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    original_frames: int = Field(
        ge=1,
        description="Frames before any embodex trim (after another tool's, recorded in previous).",
    )
    kept: tuple[int, int] = Field(
        description="The kept half-open range [start, end) in frames of the original recording."
    )
    reason: str = Field(min_length=1, description="Why: idle_ends (QC's suggestion), manual…")
    tool: str = Field(min_length=1, description="The tool and version that trimmed.")
    previous: Any = Field(
        default=None,
        description="An earlier extra.trim in another tool's form (any JSON), kept as found.",
    )

    @model_validator(mode="after")
    def _range(self) -> TrimRecord:
        start, end = self.kept
        if not 0 <= start < end <= self.original_frames:
            raise ValueError(f"kept {list(self.kept)} is not inside 0..{self.original_frames}")
        return self

    @property
    def removed(self) -> int:
        """Frames cut from the original recording."""
        return self.original_frames - (self.kept[1] - self.kept[0])


class FileEntry(_Model):
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe(cls, v: str) -> str:
        # the one rule for paths in manifests (fsutil.unsafe_path_reason): a manifest naming
        # ../secret or /etc/passwd is refused when read, before anything hashes or copies it
        reason = unsafe_path_reason(v)
        if reason is not None:
            raise ValueError(f"unsafe file name {v!r}: {reason}")
        return v


class Manifest(_Model):
    """``manifest.json``: every content file with size and sha256, and the dataset digest."""

    format_version: str = FORMAT_VERSION
    files: list[FileEntry]
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class FeatureStats(_Model):
    """Per-dimension statistics of one feature."""

    count: int = Field(ge=0, description="Frames counted.")
    mean: list[float | None] = Field(description="null where a dimension has no finite value.")
    std: list[float | None]
    min: list[float | None]
    max: list[float | None]
    q01: list[float | None]
    q99: list[float | None]


class DatasetStats(_Model):
    """``stats.json``: merged from per-episode statistics (see specs/format.md)."""

    format_version: str = FORMAT_VERSION
    episodes: int = Field(ge=0)
    frames: int = Field(ge=0)
    features: dict[str, FeatureStats]
