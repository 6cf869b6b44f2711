"""Encoding and decoding of camera frames.

Colour frames are JPEG through simplejpeg (libjpeg-turbo; 2-4x faster than Pillow on small
frames, see shared/guide/performance.md); depth is 16-bit PNG through Pillow.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from ..errors import SchemaError

__all__ = ["decode_image", "encode_image", "image_size"]

JPEG_QUALITY = 90


def encode_image(array: np.ndarray, encoding: str, *, quality: int = JPEG_QUALITY) -> bytes:
    """Encode one frame: ``(H, W, 3)`` uint8 for jpeg/png, ``(H, W)`` uint16 for png16."""
    if encoding == "jpeg":
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise SchemaError(
                f"jpeg frames must be uint8 (H, W, 3), got {array.dtype} {array.shape}",
                hint="Convert colour frames to uint8 RGB before writing.",
            )
        return bytes(simplejpeg.encode_jpeg(np.ascontiguousarray(array), quality=quality))
    if encoding == "png":
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
    if encoding == "png16":
        if array.dtype != np.uint16 or array.ndim != 2:
            raise SchemaError(
                f"png16 frames must be uint16 (H, W), got {array.dtype} {array.shape}",
                hint="Store depth as uint16 in the camera's depth_unit (usually mm).",
            )
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
    raise SchemaError(f"unknown image encoding {encoding!r}", hint="Use jpeg, png or png16.")


def decode_image(data: bytes, encoding: str) -> np.ndarray:
    """Decode one frame to a numpy array (uint8 RGB, or uint16 for png16)."""
    if encoding == "jpeg":
        return np.asarray(simplejpeg.decode_jpeg(data, colorspace="RGB"))
    img = Image.open(io.BytesIO(data))
    if encoding == "png16":
        return np.asarray(img, dtype=np.uint16)
    return np.asarray(img.convert("RGB"))


def image_size(data: bytes, encoding: str) -> tuple[int, int]:
    """(width, height) read from the header, without decoding the pixels."""
    if encoding == "jpeg":
        h, w, _, _ = simplejpeg.decode_jpeg_header(data)
        return int(w), int(h)
    with Image.open(io.BytesIO(data)) as img:
        return int(img.size[0]), int(img.size[1])
