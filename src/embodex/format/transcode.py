"""Build the other storage tier of a dataset: video cameras as JPEG frames, or frame cameras
as video (specs/format.md §11).

The buyer keeps the delivered video (the small tier) and builds a JPEG tier for training
locally, or a centre delivers one camera as JPEG and the others as video. Only the colour
cameras chosen change; everything else (features, times, metadata, episode ids, the other
cameras' bytes) is copied as stored, and the step is recorded in ``embodex.json``
(``extra.transcode``), which the provenance chain reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._version import __version__
from ..errors import DatasetExistsError, SchemaError
from . import layout
from .copy import copy_episodes
from .episode import Episode
from .images import decode_image, encode_image
from .models import VIDEO_ENCODINGS, Camera
from .reader import Dataset, open_dataset
from .videostore import DEFAULT_GOP, VideoClip, VideoEncoding

__all__ = ["TRANSCODE_KEY", "TranscodeResult", "transcode_dataset"]

#: The key of ``embodex.json`` ``extra`` listing the transcode steps, oldest first.
TRANSCODE_KEY = "transcode"


@dataclass(frozen=True)
class TranscodeResult:
    """What :func:`transcode_dataset` wrote."""

    dataset: Dataset
    cameras: dict[str, str]  # camera → "video h264 -> jpeg" …
    bytes_before: int
    bytes_after: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (``embodex transcode --json``)."""
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json``)."""
        return {
            "dataset": str(self.dataset.root),
            "digest": self.dataset.digest,
            "episodes": len(self.dataset),
            "cameras": self.cameras,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


def transcode_dataset(
    source: Dataset | str | Path,
    dest: str | Path,
    *,
    cameras: Literal["jpeg", "video"],
    codec: str = "h264",
    gop: int = DEFAULT_GOP,
    only: Sequence[str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_episode: Callable[[str], None] | None = None,
    ray: str | None = None,
) -> TranscodeResult:
    """Write ``source`` to the new dataset ``dest`` with its colour cameras (those in
    ``only``, default all) stored as ``cameras``: ``"jpeg"`` decodes each video frame once
    and stores it as a JPEG (quality 90); ``"video"`` encodes frame cameras (and video
    cameras in another codec) as ``codec`` (h264, h265, av1) with a key frame every ``gop``
    frames. Cameras already in the asked form are copied as stored (bytes unchanged).
    ``on_start`` gets the number of episodes to write, ``on_episode`` each one written
    (progress bars).

    ``ray``: ``"auto"`` (a local Ray, or the cluster ``RAY_ADDRESS`` names) or a cluster
    address (``host:6379``, ``ray://host:10001``): each episode's decode/encode runs as a
    Ray task writing into a staging folder beside ``dest``; the driver commits the results
    in source order, so ``dest`` is byte for byte the dataset a local run writes. The
    workers must see ``source`` and ``dest``'s folder at the same paths (specs/scale.md).

    Raises ``SchemaError`` (unknown camera or codec, a depth camera asked as video),
    ``DatasetExistsError`` (``dest`` holds a dataset). ``source`` is never modified; ``dest``
    is published atomically at the end.

    Example::

        transcode_dataset("deliveries/week01", "hot/week01", cameras="jpeg")
    """
    src = source if isinstance(source, Dataset) else open_dataset(source)
    if on_start is not None:
        on_start(len(src))
    if layout.resolve(Path(dest), layout.META_FILE).exists():
        raise DatasetExistsError(
            f"{dest} already holds a dataset",
            hint="Choose a new output folder: transcode writes a new dataset.",
        )
    if cameras == "video" and codec not in VIDEO_ENCODINGS:
        raise SchemaError(
            f"unknown video codec {codec!r}", hint=f"Use one of {', '.join(VIDEO_ENCODINGS)}."
        )
    names = [c.name for c in src.meta.cameras]
    chosen = list(only) if only is not None else [c.name for c in src.meta.cameras]
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise SchemaError(
            f"camera {unknown[0]!r} is not in {src.root}", hint=f"Known cameras: {names}."
        )
    new_cams: list[Camera] = []
    changes: dict[str, str] = {}
    for cam in src.meta.cameras:
        target = _target(cam, cameras, codec, gop) if cam.name in chosen else None
        if target is None:
            new_cams.append(cam)
            continue
        new_cams.append(target)
        old = f"video {cam.encoding}" if cam.is_video else cam.encoding
        new = f"video {target.encoding} gop {gop}" if target.is_video else target.encoding
        changes[cam.name] = f"{old} -> {new}"
    record = {
        "cameras": changes,
        "source_digest": src.digest,
        "tool": f"embodex {__version__}",
    }
    steps = list(src.meta.extra.get(TRANSCODE_KEY) or [])
    meta = src.meta.model_copy(
        update={
            "cameras": new_cams,
            "extra": {**src.meta.extra, TRANSCODE_KEY: [*steps, record]},
        }
    )
    by_name = {c.name: c for c in new_cams}

    def local(ep: Episode) -> Episode:
        images = dict(ep.images)
        for name in changes:
            images[name] = convert_frames(images[name], src.meta.camera(name), by_name[name])
        return dataclasses.replace(ep, images=images)

    convert: Callable[[Episode], Episode] = local
    finish: Callable[[], None] | None = None
    if ray is not None and changes:
        from .transcode_ray import staged_convert  # imports Ray (only with ray=)

        pairs = {name: (src.meta.camera(name), by_name[name]) for name in changes}
        convert, finish = staged_convert(ray, src, pairs, gop, Path(dest))
    try:
        out = copy_episodes(
            src,
            dest,
            meta=meta,
            transform=convert,
            on_episode=on_episode,
            video_encoding=VideoEncoding(gop=gop),
        )
    finally:
        if finish is not None:
            finish()
    return TranscodeResult(
        dataset=out,
        cameras=changes,
        bytes_before=sum(f.size for f in src.manifest.files),
        bytes_after=sum(f.size for f in out.manifest.files),
    )


def _target(cam: Camera, cameras: str, codec: str, gop: int) -> Camera | None:
    """The camera as ``cameras`` asks, or None when it stays as it is."""
    if cam.kind != "color":
        return None  # depth stays 16-bit PNG: 8-bit video would lose its values
    if cameras == "jpeg":
        return (
            cam.model_copy(update={"storage": "frame", "encoding": "jpeg"})
            if cam.is_video
            else None
        )
    if cam.is_video and cam.encoding == codec:
        return None  # kept as recorded; a different gop alone is not worth a re-encode
    return cam.model_copy(update={"storage": "video", "encoding": codec})


def convert_frames(frames: Any, old: Camera, new: Camera) -> Any:
    """One camera's frames of an episode as the new camera stores them: JPEG bytes, or
    what the writer encodes as video (decoded frames, or a clip to re-encode)."""
    if isinstance(frames, VideoClip):
        if new.is_video:
            return VideoClip(
                frames.path, frames.first, frames.count, reencode=True, index=frames.index
            )
        return [encode_image(rgb, "jpeg") for rgb in frames.decode()]
    if new.is_video:
        return np.stack([decode_image(bytes(b), old.encoding) for b in frames])
    raise SchemaError(f"camera {old.name}: nothing to convert")  # pragma: no cover
