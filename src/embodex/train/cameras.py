"""Turning a camera's stored frames into arrays: the one place the loader decodes images.

Both paths of the loader go through here — ``decode_frame``/``decode_video_frame`` for one
sample, ``decode_frames``/``decode_video_frames`` for all the frames of one camera in a
batch — so the storage of camera frames changes these functions and not the gather code
around them. JPEG goes to simplejpeg (libjpeg-turbo, about 4x Pillow on small frames, and it
releases the GIL, so a thread pool decodes a batch on several cores); other encodings to
``format.images``. Video cameras (format 1.1) decode through ``format.videostore``: a few
decoders stay open per process (``VideoFiles``), and a batch's frames are decoded sorted by
(file, PTS), so frames of one GOP share one seek and one forward decode, then put back in
the batch's order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import simplejpeg

from ..format.images import decode_image
from ..format.videostore import VideoDecoder

__all__ = [
    "FrameDecodeError",
    "FrameSizeError",
    "VideoFiles",
    "decode_frame",
    "decode_frames",
    "decode_video_frame",
    "decode_video_frames",
]


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
    frame = decode_image(data.tobytes(), encoding)
    # Pillow's arrays are read-only views of its buffer; a tensor made from one warns and
    # must not be written, so a sample owns a writable copy (PNG only: JPEG decodes fresh)
    return frame if frame.flags.writeable else frame.copy()


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


# -- video cameras ---------------------------------------------------------------------------


class VideoFiles:
    """The open video decoders of one process (worker): one per file, at most ``keep``
    (the one opened first is closed beyond that). Opening a file costs a demuxer and a
    codec context; a worker reading a few episodes at a time keeps its files open."""

    def __init__(self, open_file: Callable[[str], VideoDecoder], keep: int = 16) -> None:
        self._open_file = open_file
        self._keep = keep
        self._open: dict[str, VideoDecoder] = {}

    def get(self, name: str) -> VideoDecoder:
        decoder = self._open.get(name)
        if decoder is None:
            if len(self._open) >= self._keep:
                self._open.pop(next(iter(self._open))).close()
            decoder = self._open[name] = self._open_file(name)
        return decoder

    def close(self) -> None:
        for decoder in self._open.values():
            decoder.close()
        self._open.clear()

    def abandon(self) -> None:
        """Forget the open decoders without closing them: in a forked child, closing (or
        freeing) a codec context whose decoding threads live in the parent waits for them
        forever. They are kept referenced for the life of the process instead."""
        _ABANDONED.extend(self._open.values())
        self._open.clear()


_ABANDONED: list[VideoDecoder] = []  # decoders inherited over fork (see VideoFiles.abandon)


def decode_video_frame(files: VideoFiles, name: str, pts: int, key_pts: int) -> np.ndarray:
    """The frame at ``pts`` of video file ``name`` (its key frame at ``key_pts``), RGB."""
    return files.get(name).frame(pts, key_pts)


def decode_video_frames(
    files: VideoFiles, names: list[str], pts: np.ndarray, key_pts: np.ndarray
) -> np.ndarray:
    """The frames of one video camera in a batch (``(n, H, W, 3)``, in the order given).

    Decoded in (file, PTS) order: the frames of one GOP cost one seek to its key frame and
    one forward decode, whatever their order in the batch (a shuffled batch of a block
    sampler, neighbouring frames of a window). Raises ``FrameSizeError`` when the frames
    differ in size; a frame a file does not hold raises ``CorruptDatasetError`` (naming the
    file and PTS).
    """
    files_of = {name: j for j, name in enumerate(dict.fromkeys(names))}
    file_id = np.fromiter((files_of[name] for name in names), np.int64, len(names))
    order = np.lexsort((pts, file_id)).tolist()  # by file, then PTS
    out: np.ndarray | None = None
    for j in order:
        frame = files.get(names[j]).frame(int(pts[j]), int(key_pts[j]))
        if out is None:
            out = np.empty((len(names), *frame.shape), dtype=frame.dtype)
        elif frame.shape != out.shape[1:]:
            raise FrameSizeError(f"video frames of {frame.shape} and {out.shape[1:]} in one batch")
        out[j] = frame
    if out is None:
        raise ValueError("decode_video_frames needs at least one frame")
    return out
