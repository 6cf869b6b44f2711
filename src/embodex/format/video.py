"""MP4 video through PyAV: an encoder for exports and a forward reader for imports.

Used where other ecosystems store cameras as video (LeRobot ``videos/``). The embodex
format's own video cameras (format 1.1, §4.3) live in ``videostore``: remuxed, decoded exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

from ..errors import InteropError

__all__ = ["VIDEO_CODECS", "VideoSpanReader", "VideoWriter"]

#: Codec names as LeRobot records them → PyAV encoder, options. GOP 2 keeps random access
#: cheap (what LeRobot does for training); CRF 30 is LeRobot's default quality.
VIDEO_CODECS: dict[str, tuple[str, dict[str, str]]] = {
    "av1": ("libsvtav1", {"crf": "30", "preset": "10"}),
    "h264": ("libx264", {"crf": "23", "preset": "veryfast"}),
    "mpeg4": ("mpeg4", {"qscale": "3"}),
}
_GOP = 2


class VideoWriter:
    """Append RGB frames to one MP4 file at a constant rate (frame i at time i / fps)."""

    def __init__(self, path: Path, *, fps: float, width: int, height: int, codec: str) -> None:
        if codec not in VIDEO_CODECS:
            raise InteropError(
                f"unknown video codec {codec!r}", hint=f"Use one of {', '.join(VIDEO_CODECS)}."
            )
        if width % 2 or height % 2:
            raise InteropError(
                f"{path.name}: {width}x{height} frames cannot be stored as yuv420p video "
                "(width and height must be even)",
                hint="Export this dataset's cameras as images (`video=False`).",
            )
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole config otherwise
        encoder, options = VIDEO_CODECS[codec]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(path), "w")
        self._stream = cast(av.VideoStream, self._container.add_stream(encoder, rate=self._rate))
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = 1 / self._rate
        self._stream.codec_context.gop_size = _GOP
        self._stream.options = dict(options)

    def add(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()


class VideoSpanReader:
    """Decode an MP4 forward, handing out the frames of consecutive time spans.

    ``take(start_s, end_s)`` returns the RGB frames whose presentation time lies in
    ``[start_s, end_s)`` (with half a frame of slack for rounding). Spans asked in
    increasing order decode the file once; an earlier span reopens it.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self._half = 0.5 / fps
        self._open()

    def _open(self) -> None:
        self._container = av.open(str(self.path))
        self._frames = self._decode()
        self._pending: tuple[float, np.ndarray] | None = None
        self._last_start = float("-inf")

    def _decode(self) -> Iterator[tuple[float, np.ndarray]]:
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in self._container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            yield t, frame.to_ndarray(format="rgb24")

    def take(self, start_s: float, end_s: float) -> list[np.ndarray]:
        if start_s < self._last_start:
            self.close()
            self._open()
        self._last_start = start_s
        out: list[np.ndarray] = []
        lo, hi = start_s - self._half, end_s - self._half
        while True:
            item = self._pending or next(self._frames, None)
            self._pending = None
            if item is None:
                return out
            t, rgb = item
            if t < lo:
                continue
            if t >= hi:
                self._pending = item
                return out
            out.append(rgb)

    def close(self) -> None:
        self._container.close()
