"""Camera media of AgiBot World episodes: videos decoded with PyAV, depth PNGs, intrinsics."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from ...errors import ImportSourceError, SchemaError
from ..images import encode_image
from ..models import Camera, Intrinsics
from ..videostore import VideoIndex, probe_index
from .agibot_layout import COUNT_HINT, SKIP_HINT

__all__ = [
    "Video",
    "decode_video",
    "index_video",
    "intrinsics_file",
    "load_depth",
    "probe_depth",
    "probe_video",
    "pts_offsets_ns",
    "read_intrinsics",
]

_DEPTH_RE = re.compile(r"head_depth_(\d+)\.png")


def intrinsics_file(params: Path, name: str) -> Path | None:
    """Camera ``name``'s intrinsics file in an episode's ``parameters`` folder, if any."""
    # The release nests a second parameters/ folder; an early Alpha did not.
    for base in (params / "parameters" / "camera", params / "camera"):
        p = base / f"{name}_intrinsic_params.json"
        if p.is_file():
            return p
    return None


def read_intrinsics(path: Path) -> Intrinsics:
    """Parse ``<cam>_intrinsic_params.json``; raises OSError, ValueError or KeyError."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    block = data.get("intrinsic", data)
    if not isinstance(block, dict):
        raise ValueError("'intrinsic' is not an object")
    dist_keys = ("k1", "k2", "p1", "p2", "k3")
    distortion = [float(block.get(k, 0.0)) for k in dist_keys]
    has_dist = any(k in block for k in dist_keys)
    return Intrinsics(
        fx=float(block["fx"]),
        fy=float(block["fy"]),
        cx=float(block["ppx"]),
        cy=float(block["ppy"]),
        distortion_model="plumb_bob" if has_dist else None,
        distortion=distortion if has_dist else [],
    )


def probe_video(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the first video stream, or None when it cannot be read."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            ctx = container.streams.video[0].codec_context
            return int(ctx.width), int(ctx.height)
    except (av.error.FFmpegError, OSError, ValueError):
        return None


def probe_depth(folder: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the first depth PNG in ``folder``, or None."""
    for p in sorted(folder.glob("head_depth_*.png"))[:1]:
        try:
            with Image.open(p) as img:
                return int(img.size[0]), int(img.size[1])
        except (OSError, ValueError):
            return None
    return None


@dataclass
class Video:
    """A decoded camera video: JPEG frames and their PTS offsets in ns."""

    frames: list[bytes]
    offsets_ns: np.ndarray | None  # PTS relative to the first frame


def decode_video(path: Path, cam: Camera, eid: str) -> Video:
    """Decode every frame to JPEG; raises ``ImportSourceError`` (corrupt, wrong size)."""
    frames: list[bytes] = []
    pts: list[int | None] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ImportSourceError(
                    "cannot decode the video: it has no video stream",
                    path=str(path),
                    episode_id=eid,
                    hint="Restore the file from the release, " + SKIP_HINT,
                )
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base
            for frame in container.decode(stream):
                if (frame.width, frame.height) != (cam.width, cam.height):
                    raise ImportSourceError(
                        f"frames are {frame.width}x{frame.height}, camera {cam.name} is "
                        f"{cam.width}x{cam.height} in the other episodes",
                        path=str(path), episode_id=eid,
                        hint="Import episodes with different camera sizes separately, "
                        + SKIP_HINT,
                    )  # fmt: skip
                frames.append(encode_image(frame.to_ndarray(format="rgb24"), "jpeg"))
                pts.append(frame.pts)
    except ImportSourceError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImportSourceError(
            f"cannot decode the video: {exc}",
            path=str(path),
            episode_id=eid,
            hint="The file is corrupt or truncated; download it again, " + SKIP_HINT,
        ) from exc
    offsets = None
    if frames and time_base is not None and all(p is not None for p in pts):
        num, den = int(time_base.numerator), int(time_base.denominator)
        first = int(pts[0] or 0)
        # integer arithmetic: exact nanoseconds, rounded half up
        offsets = np.array(
            [((int(p or 0) - first) * num * 2_000_000_000 + den) // (2 * den) for p in pts],
            dtype=np.int64,
        )
    return Video(frames, offsets)


def pts_offsets_ns(pts: np.ndarray, time_base: Fraction) -> np.ndarray:
    """PTS offsets from the first frame in exact integer ns, rounded half up."""
    num, den = int(time_base.numerator), int(time_base.denominator)
    rel = pts.astype(object) - int(pts[0])
    return np.array([(int(p) * num * 2_000_000_000 + den) // (2 * den) for p in rel], np.int64)


def index_video(path: Path, cam: Camera, eid: str) -> VideoIndex:
    """Index a camera video without decoding it (for a remux); raises ``ImportSourceError``
    (unreadable, no video stream, wrong size)."""
    try:
        index = probe_index(path)
    except (SchemaError, av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImportSourceError(
            f"cannot decode the video: {exc}",
            path=str(path),
            episode_id=eid,
            hint="The file is corrupt or truncated; download it again, " + SKIP_HINT,
        ) from exc
    if (index.width, index.height) != (cam.width, cam.height):
        raise ImportSourceError(
            f"frames are {index.width}x{index.height}, camera {cam.name} is "
            f"{cam.width}x{cam.height} in the other episodes",
            path=str(path), episode_id=eid,
            hint="Import episodes with different camera sizes separately, " + SKIP_HINT,
        )  # fmt: skip
    return index


def load_depth(folder: Path, cam: Camera, n: int, eid: str) -> list[bytes]:
    """The ``n`` depth frames of ``folder`` as 16-bit PNGs; raises ``ImportSourceError``."""

    def bad(message: str, path: Path, hint: str | None = None) -> ImportSourceError:
        return ImportSourceError(message, path=str(path), episode_id=eid, hint=hint)

    files: list[tuple[int, Path]] = []
    if folder.is_dir():
        for p in folder.glob("head_depth_*.png"):
            m = _DEPTH_RE.fullmatch(p.name)
            if m:
                files.append((int(m.group(1)), p))
    files.sort()
    if not files:
        raise bad("depth frames are missing", folder, "Extract them from the release, " + SKIP_HINT)
    if len(files) != n:
        raise bad(f"{len(files)} depth frames, proprio_stats.h5 has {n} rows", folder, COUNT_HINT)
    for expect, (number, p) in enumerate(files):
        if number != expect:
            raise bad(f"depth frame {expect:06d} is missing (found {p.name})", folder, COUNT_HINT)
    out: list[bytes] = []
    for _, p in files:
        data = p.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                mode, size = img.mode, img.size
                arr = None if mode == "I;16" else np.asarray(img)
        except (OSError, ValueError) as exc:
            raise bad(f"cannot read the depth frame: {exc}", p, "Restore it, " + SKIP_HINT) from exc
        if size != (cam.width, cam.height):
            raise bad(
                f"depth frame is {size[0]}x{size[1]}, the dataset's is {cam.width}x{cam.height}", p
            )
        if arr is None:
            out.append(data)  # already 16-bit PNG: stored as delivered
        elif arr.ndim == 2 and arr.dtype.kind in "iu" and arr.min() >= 0 and arr.max() <= 65535:
            out.append(encode_image(arr.astype(np.uint16), "png16"))
        else:
            raise bad(f"depth frame has mode {mode}; expected 16-bit millimetres", p)
    return out
