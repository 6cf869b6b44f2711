"""Import ROS 2 MCAP recordings (``embodex package SRC OUT --from mcap --map topics.yaml``).

Each ``.mcap`` file under ``SRC`` (or ``SRC`` itself) is one episode. Messages are decoded
with ``mcap`` and ``mcap-ros2-support``: ``sensor_msgs/JointState`` topics give features
(``position``, ``velocity`` or ``effort``, reordered by joint name), and
``sensor_msgs/CompressedImage`` topics give cameras (JPEG, PNG, or 16-bit PNG depth, also in
``compressedDepth`` form), stored as recorded without re-encoding; a camera topic carrying
H.264/H.265 (``foxglove.CompressedVideo``, or a CompressedImage whose ``format`` says so)
becomes a video camera, remuxed without re-encoding (``mcap_video.py``), and its frames are
the episode's frames (the ``fps`` grid is not used: a video's frames cannot be picked one
by one).

Alignment: every stream is sorted by its own time (``clock: header`` — the message header
stamp, the capture time — or ``clock: log``, the recorder's log time). The episode spans
the time all streams cover (from the latest first sample to the earliest last one). Frames
lie on a grid at the nominal ``fps``; each grid point takes the nearest message of the
``reference`` topic and the frame's ``timestamp_ns`` is that message's real time (grid
points that land on the same message are dropped and counted). Every other stream
contributes, per frame, its sample nearest to the frame's time; each camera keeps its own
image capture times (``image.<camera>.timestamp_ns``), so QC can measure the skew. A stream
with no sample within ``tolerance_ms`` of a frame is a gap: the episode is bad
(``ImportSourceError``; skipped with ``skip_bad``).

The map (YAML, :class:`TopicMap`)::

    fps: 30                       # nominal frame rate (required)
    clock: header                 # header (default) or log
    reference: /joint_states      # default: the first feature's topic
    tolerance_ms: 50              # default: one frame period
    joints: [j1, j2, ...]         # order of the vectors; default: first message's names
    units: rad                    # joint units, one or a list (default: unknown)
    features:
      state:  {topic: /joint_states, field: position, role: state}
      action: {topic: /joint_command, field: position, role: action}
    cameras:
      head: {topic: /camera/head/image/compressed}
    streams:                      # kept at their own rate (format 1.1), not resampled
      imu:
        topic: /imu               # sensor_msgs/Imu, geometry_msgs/WrenchStamped, ...
        rate_hz: 200              # nominal rate (QC measures the real one)
        fields: {accel: linear_acceleration, gyro: angular_velocity}
        units: {accel: m/s^2, gyro: rad/s}

A ``streams`` entry keeps every message of its topic in the recording, with its own time
(the map's ``clock``), as a stream of the dataset (``streams/<name>/``): each feature is a
field path into the message (dotted: ``wrench.force``); a vector message (x, y, z), a
quaternion (x, y, z, w), a list or a number becomes a vector. Streams take no part in the
frame grid, the span of the episode or the gap check (QC's ``timing.stream_*`` rules judge
them); messages repeating a time are dropped (the first kept) and counted in
``extra.mcap.stream_duplicates``.

Licence, provenance, robot, scenes and operators come from the sidecar (``--meta``,
:class:`~embodex.format.importers.sidecar.CommonSidecar`); ``episodes:`` keys there are
file stems. Episode ids are ``<prefix>:mcap-<stem>``.
"""

from __future__ import annotations

import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator

from ...errors import ConfigError, ImportSourceError, MissingExtraError
from ..episode import Episode
from ..images import image_size
from ..models import (
    Camera,
    DatasetMeta,
    Embodiment,
    EpisodeMeta,
    Feature,
    Provenance,
    Stream,
)
from ..videostore import VideoClip, VideoIndex
from .common import (
    EpisodeSink,
    ImportReport,
    already_imported,
    existing_episode_ids,
    record_repair,
)
from .mcap_video import build_video, video_format
from .sidecar import (
    CommonSidecar,
    Strict,
    load_sidecar,
    overrides_fields,
    require_licence,
    resolve_common_sidecar,
)

__all__ = ["TopicMap", "import_mcap", "load_topic_map"]

_SKIP_HINT = "or pass `skip_bad=True` to import the other recordings."
_PNG = b"\x89PNG\r\n\x1a\n"


class FeatureTopic(Strict):
    topic: str = Field(min_length=1)
    field: Literal["position", "velocity", "effort"] = "position"
    role: Literal["state", "action", "observation", "other"] = "other"
    unit: str | None = None
    joints: list[str] | None = Field(default=None, description="Default: the map's joints.")


class CameraTopic(Strict):
    topic: str = Field(min_length=1)


class StreamTopic(Strict):
    """A topic kept at its own rate as a stream (format 1.1)."""

    topic: str = Field(min_length=1)
    rate_hz: float = Field(gt=0, description="Nominal rate of the topic.")
    fields: dict[str, str] = Field(
        min_length=1,
        description="Feature name -> field path in the message (dotted, e.g. wrench.force).",
    )
    units: dict[str, str] = Field(default_factory=dict, description="Feature name -> unit.")
    description: str | None = None


class TopicMap(Strict):
    """The ``--map`` file: which topics make which features, cameras and streams."""

    fps: float = Field(gt=0)
    clock: Literal["header", "log"] = "header"
    reference: str | None = None
    tolerance_ms: float | None = Field(default=None, gt=0)
    joints: list[str] | None = None
    units: str | list[str] | None = None
    features: dict[str, FeatureTopic] = Field(min_length=1)
    cameras: dict[str, CameraTopic] = Field(default_factory=dict)
    streams: dict[str, StreamTopic] = Field(
        default_factory=dict, description="Topics kept at their own rate (format 1.1)."
    )

    @field_validator("cameras", "streams")
    @classmethod
    def _camera_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"name {name!r}: use lower case letters, digits, '_'")
        return value

    def frame_topics(self) -> list[str]:
        """The topics resampled to the frame grid (features, cameras, the reference)."""
        names = [f.topic for f in self.features.values()]
        names += [c.topic for c in self.cameras.values()]
        names.append(self.reference_topic())
        return list(dict.fromkeys(names))

    def reference_topic(self) -> str:
        return self.reference or next(iter(self.features.values())).topic

    def tolerance_ns(self) -> int:
        ms = self.tolerance_ms if self.tolerance_ms is not None else 1000.0 / self.fps
        return int(ms * 1e6)

    def topics(self) -> list[str]:
        names = self.frame_topics() + [s.topic for s in self.streams.values()]
        return list(dict.fromkeys(names))


def load_topic_map(path: str | Path | Mapping[str, Any]) -> TopicMap:
    """Read and check a topic map (YAML path or mapping); ``ConfigError`` when wrong."""
    if isinstance(path, Mapping):
        raw, where = dict(path), "topic map"
    else:
        raw, where = load_sidecar(path), str(path)
    try:
        return TopicMap.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            f"topic map {where}: {loc}: {first['msg']}",
            hint="Fix that key; the keys are listed in specs/interop.md §5.",
        ) from None


# -- reading one recording -----------------------------------------------------------------


@dataclass
class _Stream:
    times: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def sorted(self) -> tuple[np.ndarray, list[Any]]:
        t = np.asarray(self.times, dtype=np.int64)
        order = np.argsort(t, kind="stable")
        return t[order], [self.values[i] for i in order]


def _stamp_ns(msg: Any) -> int | None:
    stamp = getattr(getattr(msg, "header", None), "stamp", None)
    if stamp is None:  # foxglove.CompressedVideo and friends: a top-level timestamp
        stamp = getattr(msg, "timestamp", None)
    if stamp is None:
        return None
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _read(path: Path, tmap: TopicMap, label: str) -> dict[str, _Stream]:
    try:
        from mcap.reader import make_reader
        from mcap_ros2.decoder import DecoderFactory
    except ImportError as exc:
        raise MissingExtraError(exc.name or "mcap", "mcap") from None
    streams = {t: _Stream() for t in tmap.topics()}
    try:
        with path.open("rb") as f:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            for _schema, _channel, message, msg in reader.iter_decoded_messages(
                topics=list(streams), log_time_order=False
            ):
                topic = _channel.topic
                when = message.log_time if tmap.clock == "log" else _stamp_ns(msg)
                if when is None or when == 0:
                    when = message.log_time  # no header stamp: the recorder's time
                streams[topic].times.append(int(when))
                streams[topic].values.append(msg)
    except (OSError, ValueError, KeyError, EOFError, struct.error) as exc:
        raise ImportSourceError(
            f"cannot read MCAP: {exc}", path=str(path), episode_id=label, hint=_SKIP_HINT
        ) from exc
    except Exception as exc:  # mcap raises its own McapError tree for corrupt files
        if type(exc).__module__.startswith(("mcap", "mcap_ros2")):
            raise ImportSourceError(
                f"cannot read MCAP: {exc}", path=str(path), episode_id=label, hint=_SKIP_HINT
            ) from exc
        raise
    for topic, stream in streams.items():
        if not stream.times:
            raise ImportSourceError(
                f"topic {topic} has no messages",
                path=str(path),
                episode_id=label,
                hint="Check the topic names in the map (`mcap info FILE` lists them), "
                + _SKIP_HINT,
            )
    return streams


def _nearest(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the sample nearest to each target (``times`` sorted)."""
    right = np.clip(np.searchsorted(times, targets), 1, len(times) - 1)
    left = right - 1
    take_left = np.abs(targets - times[left]) <= np.abs(times[right] - targets)
    out: np.ndarray = np.where(take_left, left, right)
    if len(times) == 1:
        out = np.zeros(len(targets), dtype=np.int64)
    return out


def _joint_vector(msg: Any, fieldname: str, joints: list[str], topic: str, label: str) -> Any:
    names = list(msg.name)
    values = list(getattr(msg, fieldname))
    if len(values) != len(names):
        raise ImportSourceError(
            f"{topic}: JointState has {len(names)} names but {len(values)} {fieldname} values",
            episode_id=label,
            hint="Record the field for every joint, or map another field; " + _SKIP_HINT,
        )
    index = {n: i for i, n in enumerate(names)}
    try:
        return [values[index[j]] for j in joints]
    except KeyError as exc:
        raise ImportSourceError(
            f"{topic}: joint {exc.args[0]!r} is missing from a JointState message",
            episode_id=label,
            hint="List the joints this topic publishes in the map's `joints`, " + _SKIP_HINT,
        ) from None


def _image_bytes(msg: Any) -> bytes:
    data = bytes(msg.data)
    if "compresseddepth" in str(msg.format).lower() and data[12:20] == _PNG:
        return data[12:]  # compressedDepth: a 12-byte header, then a 16-bit PNG
    return data


def _encoding(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == _PNG and len(data) > 25:
        bit_depth, colour_type = data[24], data[25]
        return "png16" if bit_depth == 16 and colour_type == 0 else "png"
    return None


def _check_gap(
    offsets: np.ndarray, tol: int, topic: str, what: str, path: Path, label: str
) -> None:
    """``ImportSourceError`` when a stream's nearest sample is farther than ``tol`` ns."""
    far = np.abs(offsets) > tol
    if far.any():
        k = int(np.argmax(far))
        raise ImportSourceError(
            f"{topic} has no message within {tol / 1e6:g} ms of {what} {k} "
            f"(nearest {abs(int(offsets[k])) / 1e6:.1f} ms away)",
            path=str(path),
            episode_id=label,
            hint="The recording has a gap; raise tolerance_ms in the map, " + _SKIP_HINT,
        )


def _field_vector(msg: Any, path: str, topic: str, label: str) -> list[float]:
    """The value at a dotted field path as a flat vector: Vector3/Point (x, y, z),
    Quaternion (x, y, z, w), a list, or a number."""
    value = msg
    for part in path.split("."):
        if not hasattr(value, part):
            raise ImportSourceError(
                f"{topic}: the message has no field {path!r}",
                episode_id=label,
                hint="Fix the field path in the map's streams (dotted, e.g. wrench.force), "
                + _SKIP_HINT,
            )
        value = getattr(value, part)
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list | tuple) or hasattr(value, "__len__"):
        return [float(v) for v in value]
    axes = ["x", "y", "z", "w"] if hasattr(value, "w") else ["x", "y", "z"]
    if all(hasattr(value, a) for a in axes):
        return [float(getattr(value, a)) for a in axes]
    raise ImportSourceError(
        f"{topic}: field {path!r} is not a number, a list or a vector",
        episode_id=label,
        hint="Map a numeric field, " + _SKIP_HINT,
    )


def _stream_samples(
    tmap: TopicMap, streams: dict[str, _Stream], label: str
) -> tuple[dict[str, tuple[np.ndarray, dict[str, np.ndarray]]], dict[str, int]]:
    """Every message of each stream topic, at its own time: (times, feature arrays), and
    per stream how many messages repeated a time (dropped, the first kept)."""
    out: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    duplicates: dict[str, int] = {}
    for name, st in tmap.streams.items():
        times, msgs = streams[st.topic].sorted()
        keep = np.concatenate([[True], np.diff(times) > 0]) if len(times) else np.zeros(0, bool)
        if not keep.all():
            duplicates[name] = int((~keep).sum())
        kept = [m for m, k in zip(msgs, keep.tolist(), strict=True) if k]
        values: dict[str, np.ndarray] = {}
        for feature, path in st.fields.items():
            rows = [_field_vector(m, path, st.topic, label) for m in kept]
            widths = {len(r) for r in rows}
            if len(widths) != 1 or 0 in widths:
                raise ImportSourceError(
                    f"{st.topic}: field {path!r} changes length or is empty between messages",
                    episode_id=label,
                    hint="Map a field of fixed length, " + _SKIP_HINT,
                )
            values[feature] = np.asarray(rows, dtype=np.float64)
        out[name] = (times[keep], values)
    return out, duplicates


@dataclass
class _Aligned:
    times: np.ndarray
    features: dict[str, np.ndarray]
    images: dict[str, list[bytes]]
    image_times: dict[str, np.ndarray]
    dropped: int
    span_ns: tuple[int, int]
    #: frames around the dropped grid points, half-open (None when none was dropped)
    dropped_frames: tuple[int, int] | None = None
    #: video cameras: camera -> the episode's frames of its remuxed recording
    clips: dict[str, VideoClip] = field(default_factory=dict)
    #: streams at their own rate: name -> (times, feature -> (samples, D))
    streams: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)
    stream_duplicates: dict[str, int] = field(default_factory=dict)


@dataclass
class _Video:
    """One video camera's recording remuxed to MP4: frame ``i`` is the ``i``-th message in
    time order; ``usable``: the first frame that decodes (from the first key frame)."""

    path: Path
    index: VideoIndex
    usable: int


def _videos(
    tmap: TopicMap, streams: dict[str, _Stream], work: Path, label: str
) -> dict[str, _Video]:
    """Remux each camera topic that carries compressed video (mcap_video.py)."""
    out: dict[str, _Video] = {}
    for cam, ct in tmap.cameras.items():
        times, msgs = streams[ct.topic].sorted()
        codec = video_format(msgs[0])
        if codec is None:
            continue
        work.mkdir(parents=True, exist_ok=True)
        dst = work / f"{cam}.mp4"
        index = build_video([bytes(m.data) for m in msgs], times, codec, dst, ct.topic, label)
        if index.codec is None or not index.has_key.any():
            raise ImportSourceError(
                f"{ct.topic}: {index.codec_name} video without a decodable frame",
                episode_id=label,
                hint="Record h264 or h265 with key frames, " + _SKIP_HINT,
            )
        out[cam] = _Video(dst, index, int(np.argmax(index.has_key)))
    return out


def _align(
    path: Path,
    tmap: TopicMap,
    streams: dict[str, _Stream],
    joints: dict[str, list[str]],
    label: str,
    videos: Mapping[str, _Video] | None = None,
) -> _Aligned:
    videos = videos or {}
    video_topics = {tmap.cameras[cam].topic: v for cam, v in videos.items()}
    ordered = {t: s.sorted() for t, s in streams.items() if t in tmap.frame_topics()}
    # a video's frames before its first key frame cannot be decoded: the episode starts after
    start = max(
        int(t[video_topics[topic].usable if topic in video_topics else 0])
        for topic, (t, _) in ordered.items()
    )
    end = min(int(t[-1]) for t, _ in ordered.values())
    if end < start:
        raise ImportSourceError(
            "the streams do not overlap in time", path=str(path), episode_id=label, hint=_SKIP_HINT
        )
    tol = tmap.tolerance_ns()
    if videos:
        # frames are the first video camera's frames, every one in the span: a video's frames
        # cannot be picked one by one without re-encoding
        clock = tmap.cameras[next(iter(videos))].topic
        ref_t, _ = ordered[clock]
        ref_idx = np.flatnonzero((ref_t >= start) & (ref_t <= end))
        keep = np.ones(len(ref_idx), dtype=bool)
    else:
        clock = tmap.reference_topic()
        period = 1e9 / tmap.fps
        steps = np.arange(int((end - start) // period) + 1) * period
        grid = start + np.rint(steps).astype(np.int64)
        ref_t, _ = ordered[clock]
        ref_idx = _nearest(ref_t, grid)
        _check_gap(ref_t[ref_idx] - grid, tol, clock, "frame time", path, label)
        keep = np.concatenate([[True], np.diff(ref_idx) > 0])
        ref_idx = ref_idx[keep]
    times = ref_t[ref_idx]
    picks: dict[str, np.ndarray] = {}
    for topic, (t, _) in ordered.items():
        idx = ref_idx if topic == clock else _nearest(t, times)
        _check_gap(t[idx] - times, tol, topic, "frame", path, label)
        if topic in video_topics and len(idx) > 1 and not (np.diff(idx) == 1).all():
            raise ImportSourceError(
                f"{topic}: the video's frames do not follow {clock}'s one for one (frames "
                "dropped or doubled); video cameras are not resampled",
                path=str(path),
                episode_id=label,
                hint="Record the video cameras in sync, or map one video camera, " + _SKIP_HINT,
            )
        picks[topic] = idx
    features = {}
    for name, ft in tmap.features.items():
        _, msgs = ordered[ft.topic]
        jn = joints[name]
        features[name] = np.asarray(
            [_joint_vector(msgs[i], ft.field, jn, ft.topic, label) for i in picks[ft.topic]],
            dtype=np.float64,
        )
    images: dict[str, list[bytes]] = {}
    image_times: dict[str, np.ndarray] = {}
    clips: dict[str, VideoClip] = {}
    for cam, ct in tmap.cameras.items():
        t, msgs = ordered[ct.topic]
        image_times[cam] = t[picks[ct.topic]]
        video = videos.get(cam)
        if video is not None:
            first = int(picks[ct.topic][0])
            clips[cam] = VideoClip(video.path, first, len(times), index=video.index)
            continue
        images[cam] = [_image_bytes(msgs[i]) for i in picks[ct.topic]]
    # output frame k-1 -> k spans each dropped grid point
    around = np.cumsum(keep)[~keep] - 1
    frames = (int(around.min()), int(around.max()) + 2) if around.size else None
    dropped = int((~keep).sum())
    return _Aligned(
        times, features, images, image_times, dropped, (start, end), frames, clips=clips
    )


# -- the import ----------------------------------------------------------------------------


def _files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    files = sorted(src.rglob("*.mcap")) if src.is_dir() else []
    if not files:
        raise ImportSourceError(
            "no .mcap file found",
            path=str(src),
            hint="Point at a .mcap file or a folder of them (ROS 2: `ros2 bag record -s mcap`).",
        )
    return files


def _stem(src: Path, path: Path) -> str:
    rel = path.relative_to(src) if src.is_dir() else Path(path.name)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(rel.with_suffix("")))


def _resolve_sidecar(src: Path, sidecar: str | Path | Mapping[str, Any] | None) -> CommonSidecar:
    folder = src if src.is_dir() else src.parent
    sc = resolve_common_sidecar(folder, sidecar, "specs/interop.md §5")
    require_licence(sc.licence, "the sidecar, `sidecar=`")
    return sc


def _joints(tmap: TopicMap, streams: dict[str, _Stream], label: str) -> dict[str, list[str]]:
    out = {}
    for name, ft in tmap.features.items():
        jn = ft.joints or tmap.joints
        if jn is None:
            jn = [str(n) for n in streams[ft.topic].values[0].name]
        if not jn or len(set(jn)) != len(jn):
            raise ImportSourceError(
                f"{ft.topic}: joint names are empty or repeated",
                episode_id=label,
                hint="List the joints in the map's `joints`.",
            )
        out[name] = jn
    return out


def _dataset_meta(
    tmap: TopicMap,
    sc: CommonSidecar,
    joints: dict[str, list[str]],
    first: _Aligned,
    src: Path,
) -> DatasetMeta:
    main = "state" if "state" in tmap.features else next(iter(tmap.features))
    jn = joints[main]
    units = tmap.units or sc.robot.units or "unknown"
    unit_list = [units] * len(jn) if isinstance(units, str) else list(units)
    cameras = []
    for cam in tmap.cameras:
        clip = first.clips.get(cam)
        if clip is not None:
            index = clip.probe()
            cameras.append(
                Camera(
                    name=cam,
                    kind="color",
                    width=index.width,
                    height=index.height,
                    encoding=index.codec or "h264",
                    storage="video",
                )
            )
            continue
        frames = first.images[cam]
        enc = _encoding(frames[0])
        if enc is None:
            raise ImportSourceError(
                f"camera {cam}: images are neither JPEG nor PNG",
                path=str(src),
                hint="Record sensor_msgs/CompressedImage as jpeg or png.",
            )
        w, h = image_size(frames[0], "jpeg" if enc == "jpeg" else "png")
        cameras.append(
            Camera(
                name=cam,
                kind="depth" if enc == "png16" else "color",
                width=w,
                height=h,
                encoding=enc,
                depth_unit="mm" if enc == "png16" else None,
            )
        )
    name = sc.name or (src if src.is_dir() else src.parent).resolve().name or "mcap-import"
    try:
        return DatasetMeta(
            name=name,
            licence=require_licence(sc.licence, "sidecar"),
            description=sc.description or "Imported from ROS 2 MCAP recordings.",
            provenance=sc.provenance
            or Provenance(centre_id="mcap-import", centre_name="ROS 2 recordings"),
            embodiments=[
                Embodiment(
                    model=sc.robot.model or "unknown",
                    dof=len(jn),
                    joint_names=jn,
                    units=unit_list,
                )
            ],
            cameras=cameras,
            features={
                n: Feature(
                    dtype="float32",
                    shape=[len(joints[n])],
                    names=joints[n],
                    role=ft.role,
                    unit=ft.unit,
                    description=f"{ft.topic} ({ft.field})",
                )
                for n, ft in tmap.features.items()
            },
            fps=tmap.fps,
            streams=[
                Stream(
                    name=name,
                    rate_hz=st.rate_hz,
                    description=st.description or st.topic,
                    features={
                        f: Feature(
                            dtype="float32",
                            shape=[first.streams[name][1][f].shape[1]],
                            unit=st.units.get(f),
                            description=f"{st.topic} ({path})",
                            role="observation",
                        )
                        for f, path in st.fields.items()
                    },
                )
                for name, st in tmap.streams.items()
            ],
            extra={"mcap": {"clock": tmap.clock, "reference": tmap.reference_topic()}},
        )
    except ValidationError as exc:
        raise ConfigError(
            f"cannot describe the recordings as a dataset: {exc.errors()[0]['msg']}",
            hint="Check the map's feature names, joints and units, and the sidecar.",
        ) from None


def import_mcap(
    src: str | Path,
    out: str | Path,
    *,
    topic_map: str | Path | Mapping[str, Any],
    sidecar: str | Path | Mapping[str, Any] | None = None,
    skip_bad: bool = False,
    append: bool = False,
    on_episode: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import the MCAP recordings at ``src`` (a file or folder) into the dataset ``out``.

    ``topic_map`` (YAML path or mapping) says which topics become which features and
    cameras (module docstring); ``sidecar`` supplies licence (required), provenance,
    robot, scenes and operators (default ``embodex-sidecar.yaml`` beside the recordings).

    Raises ``ConfigError`` (map or sidecar), ``ImportSourceError`` (unreadable file,
    missing topic or joint, a gap in a stream; per recording unless ``skip_bad``),
    ``MissingExtraError`` (mcap packages missing), ``DatasetExistsError``, ``SchemaError``.

    Example::

        report = import_mcap("bags/", "datasets/day1", topic_map="topics.yaml",
                             sidecar="centre.yaml")
    """
    src, out = Path(src), Path(out)
    if not src.exists():
        raise ImportSourceError("does not exist", path=str(src), hint="Check the path.")
    tmap = load_topic_map(topic_map)
    sc = _resolve_sidecar(src, sidecar)
    report = ImportReport(dataset=out)
    meta: DatasetMeta | None = None
    existing: set[str] = set()
    prefix = sc.episode_id_prefix
    files = _files(src)
    with (
        tempfile.TemporaryDirectory(prefix="embodex-mcap-") as tmp,
        EpisodeSink(out, report, append=append, on_episode=on_episode) as sink,
    ):
        for path in files:
            stem = _stem(src, path)
            owner = (
                prefix if prefix is not None else (sc.provenance.centre_id if sc.provenance else "")
            )
            eid = f"{owner}:mcap-{stem}" if owner else f"mcap-{stem}"
            work = Path(tmp) / f"{len(report.skipped)}-{stem}"
            try:
                streams = _read(path, tmap, eid)
                joints = _joints(tmap, streams, eid)
                videos = _videos(tmap, streams, work, eid)
                aligned = _align(path, tmap, streams, joints, eid, videos)
                aligned.streams, aligned.stream_duplicates = _stream_samples(tmap, streams, eid)
                if meta is None:
                    meta = _dataset_meta(tmap, sc, joints, aligned, src)
                    existing = existing_episode_ids(out, append, meta)
                if eid in existing:
                    raise already_imported(out, eid, _SKIP_HINT)
                episode = _episode(aligned, tmap, sc, meta, stem, eid, path, src)
            except ImportSourceError as exc:
                shutil.rmtree(work, ignore_errors=True)
                sink.skip(eid, exc, skip_bad)
                continue
            sink.add(meta, episode)  # the report lists its repairs (dropped grid points)
            shutil.rmtree(work, ignore_errors=True)  # the writer copied the video packets
        sink.finish(src, listed=len(files))
    return report


def _episode(
    aligned: _Aligned,
    tmap: TopicMap,
    sc: CommonSidecar,
    meta: DatasetMeta,
    stem: str,
    eid: str,
    path: Path,
    src: Path,
) -> Episode:
    for cam in meta.cameras:
        if cam.is_video:
            index = aligned.clips[cam.name].probe()
            if (index.codec, index.width, index.height) != (cam.encoding, cam.width, cam.height):
                raise ImportSourceError(
                    f"camera {cam.name}: {index.codec_name} {index.width}x{index.height}, "
                    f"the first recording's is {cam.encoding} {cam.width}x{cam.height}",
                    path=str(path),
                    episode_id=eid,
                    hint="Record one codec and size per camera, " + _SKIP_HINT,
                )
            continue
        bad = [i for i, b in enumerate(aligned.images[cam.name]) if _encoding(b) != cam.encoding]
        if bad:
            raise ImportSourceError(
                f"camera {cam.name}: frame {bad[0]} is not {cam.encoding} like the others",
                path=str(path),
                episode_id=eid,
                hint="Record one image format per camera, " + _SKIP_HINT,
            )
    fields: dict[str, Any] = {
        "episode_id": eid,
        "robot_model": meta.embodiments[0].model,
        "robot_serial": sc.robot.serial,
        "site": meta.provenance.site,
        "timestamps_synthesized": False,
        "extra": {
            "mcap": {
                "file": str(path.relative_to(src)) if src.is_dir() else path.name,
                "clock": tmap.clock,
                "span_ns": [str(t) for t in aligned.span_ns],  # JCS: no ints > 2^53
                "dropped_grid_points": aligned.dropped,
                **(
                    {"stream_duplicates": aligned.stream_duplicates}
                    if aligned.stream_duplicates
                    else {}
                ),
            }
        },
    }
    if aligned.dropped:
        record_repair(
            fields["extra"],
            "grid_points_dropped",
            f"{aligned.dropped} grid points fell on an already used "
            f"{tmap.reference_topic()} message and were dropped (reference slower than "
            f"{tmap.fps:g} Hz?)",
            aligned.dropped_frames,
        )
    fields.update(overrides_fields(sc.overrides(stem)))
    return Episode(
        meta=EpisodeMeta.model_validate(fields),
        timestamp_ns=aligned.times,
        features={k: v.astype(np.float32) for k, v in aligned.features.items()},
        images={**aligned.images, **aligned.clips},
        image_timestamps_ns=aligned.image_times,
        streams={
            name: (ts, {f: v.astype(np.float32) for f, v in values.items()})
            for name, (ts, values) in aligned.streams.items()
        },
    )
