"""The visible mark burnt into every camera frame of a sample pack.

The mark sits in the bottom-right corner: the word ``SAMPLE`` in a 3×5 pixel font, white on
black, scaled with the frame (one font pixel per 64 pixels of the shorter side), or — on
frames too small to hold the word in 60 % of their width — a black box with white diagonal
stripes a third of the shorter side wide. Depth frames get the same shapes at 0 and 65535.
Frames are decoded, marked and encoded again in the camera's encoding (JPEG at quality 95),
so the mark cannot be removed by dropping a metadata field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..format import Camera, Episode, VideoClip
from ..format.images import decode_image, encode_image

__all__ = ["MARK_TEXT", "Mark", "burn_mark", "has_mark", "mark_for", "watermark_episode"]

MARK_TEXT = "SAMPLE"
JPEG_QUALITY = 95
_GLYPHS = {
    "S": ("111", "100", "111", "001", "111"),
    "A": ("010", "101", "111", "101", "101"),
    "M": ("101", "111", "111", "101", "101"),
    "P": ("110", "101", "110", "100", "100"),
    "L": ("100", "100", "100", "100", "111"),
    "E": ("111", "100", "110", "100", "111"),
}


@dataclass(frozen=True)
class Mark:
    """Where the mark goes (top-left corner ``y``, ``x``) and its ink (True) / box pixels."""

    y: int
    x: int
    ink: np.ndarray  # bool (h, w)


def _text_mask(scale: int) -> np.ndarray:
    rows = []
    for r in range(5):
        row: list[bool] = []
        for i, ch in enumerate(MARK_TEXT):
            if i:
                row.append(False)
            row.extend(c == "1" for c in _GLYPHS[ch][r])
        rows.append(row)
    small = np.pad(np.array(rows, dtype=bool), 1)  # a one-pixel box border around the text
    return np.kron(small, np.ones((scale, scale), dtype=bool)).astype(bool)


def _stripes_mask(side: int) -> np.ndarray:
    period = max(4, side // 3)
    yy, xx = np.mgrid[0:side, 0:side]
    stripes: np.ndarray = ((yy + xx) % period) < period // 2
    return stripes


@lru_cache(maxsize=64)
def mark_for(width: int, height: int) -> Mark:
    """The mark for frames of this size."""
    scale = max(1, min(width, height) // 64)
    ink = _text_mask(scale)
    if ink.shape[1] > 0.6 * width or ink.shape[0] > 0.6 * height:
        ink = _stripes_mask(max(6, min(width, height) // 3))
    h, w = ink.shape
    margin = scale if width - w > scale and height - h > scale else 0
    return Mark(y=height - h - margin, x=width - w - margin, ink=ink)


def burn_mark(image: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (uint8 ``(H, W, 3)`` or uint16 ``(H, W)``) with the mark burnt in."""
    out = image.copy()
    mark = mark_for(image.shape[1], image.shape[0])
    h, w = mark.ink.shape
    region = out[mark.y : mark.y + h, mark.x : mark.x + w]
    high = np.iinfo(image.dtype).max
    region[...] = 0
    region[mark.ink] = high
    return out


def has_mark(image: np.ndarray) -> bool:
    """True when the corner of ``image`` shows the mark (ink bright, box dark).

    Tolerates JPEG's blur: the mean of the ink pixels must be above 60 % of full scale and
    the mean of the box pixels below 35 %.
    """
    mark = mark_for(image.shape[1], image.shape[0])
    h, w = mark.ink.shape
    region = image[mark.y : mark.y + h, mark.x : mark.x + w].astype(np.float64)
    grey = region.mean(axis=2) if region.ndim == 3 else region
    high = float(np.iinfo(image.dtype).max)
    return bool(grey[mark.ink].mean() > 0.6 * high and grey[~mark.ink].mean() < 0.35 * high)


def watermark_episode(episode: Episode, cameras: list[Camera]) -> Episode:
    """``episode`` with the mark burnt into every frame of every camera (re-encoded)."""
    by_name = {c.name: c for c in cameras}
    images: dict[str, list[bytes] | np.ndarray] = {}
    for name, frames in episode.images.items():
        cam = by_name[name]
        if isinstance(frames, VideoClip):  # a video camera: decoded, marked, encoded again
            images[name] = np.stack([burn_mark(f) for f in frames.decode()])
            continue
        marked = []
        for frame in frames:
            pixels = (
                frame if isinstance(frame, np.ndarray) else decode_image(bytes(frame), cam.encoding)
            )
            marked.append(encode_image(burn_mark(pixels), cam.encoding, quality=JPEG_QUALITY))
        images[name] = marked
    return Episode(
        meta=episode.meta,
        timestamp_ns=episode.timestamp_ns,
        features=episode.features,
        images=images,
        image_timestamps_ns=episode.image_timestamps_ns,
    )
