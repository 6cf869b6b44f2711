"""``Episode``: one recording in memory, as handed to the writer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SchemaError
from .images import encode_image
from .models import DatasetMeta, EpisodeMeta
from .videostore import VideoClip

__all__ = ["Episode", "episode_meta_from_row"]

ImageInput = Sequence[bytes] | np.ndarray | VideoClip
#: One stream's samples of an episode: capture times (int64 ns) and feature → ``(samples, D)``.
StreamInput = tuple[np.ndarray, Mapping[str, np.ndarray]]


@dataclass
class Episode:
    """One episode's frames.

    ``timestamp_ns``: int64 real capture times, one per frame. ``features``: name → array of
    shape ``(frames, D)``. ``images``: camera → either a sequence of encoded bytes (stored
    as given, never re-encoded) or a raw array ``(frames, H, W, 3)`` uint8 / ``(frames, H, W)``
    uint16 that the writer encodes. A video camera (``storage: "video"``) takes a
    :class:`VideoClip` (an encoded video whose packets the writer copies, never re-encoding
    them) or a raw ``(frames, H, W, 3)`` uint8 array that the writer encodes as video.
    ``image_timestamps_ns``: optional camera → capture times. ``streams``: stream name →
    ``(timestamp_ns, {feature: (samples, D) array})`` for the dataset's streams at their own
    rate (format 1.1); a stream the episode lacks has no samples.
    """

    meta: EpisodeMeta
    timestamp_ns: np.ndarray
    features: Mapping[str, np.ndarray]
    images: Mapping[str, ImageInput] = field(default_factory=dict)
    image_timestamps_ns: Mapping[str, np.ndarray] = field(default_factory=dict)
    streams: Mapping[str, StreamInput] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.timestamp_ns)

    def validated(self, meta: DatasetMeta) -> Episode:
        """Check the episode against the dataset schema; return it with images encoded.

        Raises ``SchemaError`` naming the episode and what is wrong.
        """
        eid = self.meta.episode_id
        n = self.num_frames
        if n == 0:
            raise SchemaError(
                f"episode {eid} has no frames", hint="Drop empty recordings.", episode_id=eid
            )
        ts = np.asarray(self.timestamp_ns)
        if ts.dtype.kind not in "iu":
            raise SchemaError(
                f"episode {eid}: timestamp_ns must be integer nanoseconds, got {ts.dtype}",
                hint="Convert capture times to int64 nanoseconds since the Unix epoch.",
                episode_id=eid,
            )
        ts = ts.astype(np.int64, copy=False)
        steps = np.diff(ts)
        if steps.size and (steps <= 0).any():
            bad = int(np.argmax(steps <= 0)) + 1
            raise SchemaError(
                f"episode {eid}: timestamps go backwards or repeat at frame {bad} "
                f"({int(ts[bad - 1])} -> {int(ts[bad])} ns)",
                hint="Fix the recorder clock or re-time the recording before packaging.",
                episode_id=eid,
            )
        unknown = set(self.features) - set(meta.features)
        if unknown:
            raise SchemaError(
                f"episode {eid}: unknown feature(s) {sorted(unknown)}",
                hint=f"Declare them in the dataset features (known: {sorted(meta.features)}).",
                episode_id=eid,
            )
        features: dict[str, np.ndarray] = {}
        for name, spec in meta.features.items():
            if name not in self.features:
                raise SchemaError(
                    f"episode {eid}: feature {name!r} is missing",
                    hint="Every declared feature needs a value for every frame.",
                    episode_id=eid,
                )
            arr = np.asarray(self.features[name])
            if arr.ndim == 1 and spec.shape[0] == 1:
                arr = arr[:, None]
            if arr.shape != (n, spec.shape[0]):
                raise SchemaError(
                    f"episode {eid}: feature {name!r} has shape {arr.shape}, expected "
                    f"({n}, {spec.shape[0]}) — its frame count must match the {n} timestamps",
                    hint="Align the streams so every frame has one value of every feature.",
                    episode_id=eid,
                )
            features[name] = np.ascontiguousarray(arr, dtype=spec.dtype)
        cams = {c.name: c for c in meta.cameras}
        unknown_cams = set(self.images) - set(cams)
        if unknown_cams:
            raise SchemaError(
                f"episode {eid}: unknown camera(s) {sorted(unknown_cams)}",
                hint=f"Declare them in the dataset cameras (known: {sorted(cams)}).",
                episode_id=eid,
            )
        images: dict[str, ImageInput] = {}
        for name, frames in self.images.items():
            cam = cams[name]
            if cam.is_video and not isinstance(frames, VideoClip | np.ndarray):
                raise SchemaError(
                    f"episode {eid}: camera {name!r} is stored as video; give a VideoClip "
                    "or an array of RGB frames",
                    hint="Encoded images go to cameras with storage 'frame'; "
                    "`transcode_dataset(...)` converts a dataset between the two.",
                    episode_id=eid,
                )
            if not cam.is_video and isinstance(frames, VideoClip):
                raise SchemaError(
                    f"episode {eid}: camera {name!r} stores frames ({cam.encoding}), not video",
                    hint="Declare the camera with storage 'video', or decode the video "
                    "into frames.",
                )
            if len(frames) != n:
                raise SchemaError(
                    f"episode {eid}: camera {name!r} has {len(frames)} frames, "
                    f"the episode has {n} timestamps",
                    hint="Drop or pad frames so the camera and joint streams align.",
                    episode_id=eid,
                )
            if cam.is_video:
                images[name] = frames  # the writer remuxes or encodes it
            elif isinstance(frames, np.ndarray):
                images[name] = [encode_image(f, cam.encoding) for f in frames]
            elif isinstance(frames, list):
                images[name] = frames  # pa.array(..., pa.binary()) type-checks each item
            elif not isinstance(frames, VideoClip):
                images[name] = [bytes(b) for b in frames]
        image_ts: dict[str, np.ndarray] = {}
        for name, cam_ts in self.image_timestamps_ns.items():
            if name not in cams:
                raise SchemaError(
                    f"episode {eid}: timestamps for unknown camera {name!r}", episode_id=eid
                )
            arr = np.asarray(cam_ts, dtype=np.int64)
            if arr.shape != (n,):
                raise SchemaError(
                    f"episode {eid}: camera {name!r} has {arr.shape[0]} timestamps, expected {n}",
                    episode_id=eid,
                )
            image_ts[name] = arr
        for seg in self.meta.segments:
            if seg.end_frame <= seg.start_frame:
                raise SchemaError(
                    f"episode {eid}: segment {seg.skill!r} ends ({seg.end_frame}) before it "
                    f"starts ({seg.start_frame})",
                    hint="Segments are half-open frame ranges [start_frame, end_frame).",
                    episode_id=eid,
                )
        streams = _validated_streams(eid, self.streams, meta)
        return Episode(self.meta, ts, features, images, image_ts, streams)


def _validated_streams(
    eid: str, given: Mapping[str, StreamInput], meta: DatasetMeta
) -> dict[str, StreamInput]:
    """Each declared stream's samples, checked: strictly increasing int64 times, every
    feature ``(samples, D)`` in its dtype. A stream not given gets no samples."""
    known = {s.name: s for s in meta.streams}
    unknown = set(given) - set(known)
    if unknown:
        raise SchemaError(
            f"episode {eid}: unknown stream(s) {sorted(unknown)}",
            hint=f"Declare them in the dataset streams (known: {sorted(known)}).",
        )
    out: dict[str, StreamInput] = {}
    for name, spec in known.items():
        if name not in given:
            out[name] = (
                np.zeros(0, dtype=np.int64),
                {f: np.zeros((0, ft.shape[0]), dtype=ft.dtype) for f, ft in spec.features.items()},
            )
            continue
        try:
            ts_in, values = given[name]
        except (TypeError, ValueError):
            raise SchemaError(
                f"episode {eid}: stream {name!r} must be (timestamp_ns, {{feature: array}})"
            ) from None
        ts = np.asarray(ts_in)
        if ts.ndim != 1 or (ts.size and ts.dtype.kind not in "iu"):
            raise SchemaError(
                f"episode {eid}: stream {name!r} timestamps must be a 1-D array of integer "
                f"nanoseconds, got {ts.dtype} {ts.shape}",
                hint="Convert capture times to int64 nanoseconds since the Unix epoch.",
            )
        ts = ts.astype(np.int64, copy=False)
        steps = np.diff(ts)
        if steps.size and (steps <= 0).any():
            bad = int(np.argmax(steps <= 0)) + 1
            raise SchemaError(
                f"episode {eid}: stream {name!r} timestamps go backwards or repeat at sample "
                f"{bad} ({int(ts[bad - 1])} -> {int(ts[bad])} ns)",
                hint="Sort the samples by capture time and drop duplicates before packaging.",
            )
        extra = set(values) - set(spec.features)
        if extra:
            raise SchemaError(
                f"episode {eid}: stream {name!r} has unknown feature(s) {sorted(extra)}",
                hint=f"Declare them in the stream (known: {sorted(spec.features)}).",
            )
        arrays: dict[str, np.ndarray] = {}
        for fname, ft in spec.features.items():
            if fname not in values:
                raise SchemaError(
                    f"episode {eid}: stream {name!r} lacks feature {fname!r}",
                    hint="Every declared stream feature needs a value for every sample.",
                )
            arr = np.asarray(values[fname])
            if arr.ndim == 1 and ft.shape[0] == 1:
                arr = arr[:, None]
            if arr.shape != (len(ts), ft.shape[0]):
                raise SchemaError(
                    f"episode {eid}: stream {name!r} feature {fname!r} has shape {arr.shape}, "
                    f"expected ({len(ts)}, {ft.shape[0]}) — one value per sample time",
                )
            arrays[fname] = np.ascontiguousarray(arr, dtype=ft.dtype)
        out[name] = (ts, arrays)
    return out


def episode_meta_from_row(row: dict[str, Any]) -> EpisodeMeta:
    """Rebuild the producer's ``EpisodeMeta`` from an ``episodes.arrow`` row."""
    fields = set(EpisodeMeta.model_fields)
    data = {k: v for k, v in row.items() if k in fields and k != "extra"}
    data["extra"] = json.loads(row.get("extra") or "{}")
    data["objects"] = data.get("objects") or []
    data["segments"] = data.get("segments") or []
    return EpisodeMeta.model_validate(data)
