"""Turning a camera's stored frames into arrays: the one place the loader decodes images.

Both paths of the loader go through here — ``decode_frame`` for one sample, ``decode_frames``
for all the frames of one camera in a batch — so a different storage of camera frames (a
video stream, say) changes these functions and not the gather code around them. JPEG goes
to simplejpeg (libjpeg-turbo, about 4x Pillow on small frames, and it releases the GIL, so a
thread pool decodes a batch on several cores); other encodings to ``format.images``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import simplejpeg

from ..format.images import decode_image

__all__ = ["FrameDecodeError", "FrameSizeError", "decode_frame", "decode_frames"]


class FrameDecodeError(Exception):
    """Frame ``position`` of a batch did not decode; the caller names shard and episode."""

    def __init__(self, position: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.position = position
        self.cause = cause


def decode_frame(data: np.ndarray, encoding: str) -> np.ndarray:
    """One encoded frame (a uint8 view of the mapped bytes) as an image array."""
    if encoding == "jpeg":
        out: np.ndarray = simplejpeg.decode_jpeg(data, "RGB")
        return out
    return decode_image(data.tobytes(), encoding)


def _decode_at(args: tuple[int, np.ndarray, str]) -> np.ndarray:
    position, data, encoding = args
    try:
        return decode_frame(data, encoding)
    except Exception as exc:  # the decoders' error types vary
        raise FrameDecodeError(position, exc) from exc


class FrameSizeError(ValueError):
    """The frames of one camera in a batch differ in size, so they cannot be stacked."""


def decode_frames(
    datas: list[np.ndarray],
    encoding: str,
    pool: ThreadPoolExecutor | None = None,
) -> np.ndarray:
    """The frames of one camera in a batch, decoded and stacked (``(n, H, W[, 3])``).

    JPEG frames are decoded straight into the stacked array (no copy per frame). With
    ``pool``, frames are decoded by its threads (the decoders release the GIL). Raises
    ``FrameDecodeError`` with the position of a frame that fails, ``FrameSizeError`` when
    the frames differ in size.
    """
    if encoding == "jpeg" and datas:
        return _decode_jpegs(datas, pool)
    jobs: Any = ((j, d, encoding) for j, d in enumerate(datas))
    if pool is not None and len(datas) > 1:
        frames = list(pool.map(_decode_at, jobs))
    else:
        frames = [_decode_at(job) for job in jobs]
    if len({f.shape for f in frames}) > 1:
        raise FrameSizeError(f"frames of {len({f.shape for f in frames})} sizes in one batch")
    return np.stack(frames)


def _decode_jpegs(datas: list[np.ndarray], pool: ThreadPoolExecutor | None) -> np.ndarray:
    try:
        height, width = simplejpeg.decode_jpeg_header(datas[0])[:2]
    except Exception as exc:
        raise FrameDecodeError(0, exc) from exc
    out = np.empty((len(datas), height, width, 3), dtype=np.uint8)

    def one(j: int) -> None:
        try:
            got = simplejpeg.decode_jpeg(datas[j], "RGB", buffer=out[j])
        except Exception as exc:
            _decode_at((j, datas[j], "jpeg"))  # raises FrameDecodeError if it is corrupt,
            raise FrameSizeError(f"frame {j} is not {width}x{height}") from exc  # else: size
        if got.shape != (height, width, 3):
            raise FrameSizeError(
                f"frame {j} is {got.shape[1]}x{got.shape[0]}, not {width}x{height}"
            )

    if pool is not None and len(datas) > 1:
        list(pool.map(one, range(len(datas))))
    else:
        for j in range(len(datas)):
            one(j)
    return out
