"""Compressed video in MCAP recordings (``foxglove.CompressedVideo``, or
``sensor_msgs/CompressedImage`` whose ``format`` says h264/h265): one encoded frame per
message, packaged as a video camera (format 1.1) without re-encoding.

The messages' access units (Annex B) are put back into an elementary stream, parsed by
FFmpeg into one packet per frame and remuxed into an MP4 whose presentation times are the
messages' times (90 kHz): nothing is decoded or re-encoded. The writer then copies the
packets of the episode's frames from that file (:class:`~embodex.format.videostore.VideoClip`).
Streams with B-frames (decode order differs from presentation order) are refused: a
message's time could not name its frame.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ...errors import ImportSourceError
from ..videostore import VideoIndex, probe_index

__all__ = ["TICKS_PER_SECOND", "build_video", "video_format"]

#: MP4 time base of the remuxed files (the usual 90 kHz video clock).
TICKS_PER_SECOND = 90_000
_FORMATS = {"h264": "h264", "avc": "h264", "h265": "h265", "hevc": "h265"}
_DEMUXERS = {"h264": "h264", "h265": "hevc"}


def video_format(msg: Any) -> str | None:
    """``h264`` or ``h265`` when the message carries a compressed video frame, else None."""
    fmt = str(getattr(msg, "format", "")).lower()
    for key, codec in _FORMATS.items():
        if key in fmt:
            return codec
    return None


def build_video(
    packets: list[bytes], times: np.ndarray, codec: str, dst: Path, topic: str, label: str
) -> VideoIndex:
    """Remux one topic's frames (``packets`` in message order, capture ``times`` in ns,
    strictly increasing) into the MP4 ``dst``; returns its index (frame ``i`` is message
    ``i``). Raises ``ImportSourceError`` when the bitstream does not split into one frame
    per message, has B-frames, or the times collide at 90 kHz."""

    def bad(message: str, hint: str) -> ImportSourceError:
        return ImportSourceError(f"{topic}: {message}", episode_id=label, hint=hint)

    ticks = np.rint((times - times[0]) * (TICKS_PER_SECOND / 1e9)).astype(np.int64)
    if len(ticks) > 1 and not (np.diff(ticks) > 0).all():
        raise bad(
            "two video frames are less than 1/90000 s apart (or share a time)",
            "Record one frame per message with distinct capture times.",
        )
    raw = dst.with_suffix(".annexb")
    raw.write_bytes(b"".join(packets))
    try:
        with (
            av.open(str(raw), format=_DEMUXERS[codec]) as src,
            av.open(str(dst), "w", format="mp4") as out,
        ):
            ins = src.streams.video[0]
            stream = out.add_stream_from_template(ins)
            stream.time_base = Fraction(1, TICKS_PER_SECOND)
            n = 0
            reorders = 0
            for pkt in src.demux(ins):
                reorders = max(reorders, int(ins.codec_context.has_b_frames or 0))
                if pkt.size == 0:
                    continue
                if n >= len(ticks):
                    n += 1
                    break
                pkt.stream = stream
                pkt.time_base = Fraction(1, TICKS_PER_SECOND)
                pkt.pts = pkt.dts = int(ticks[n])
                out.mux(pkt)
                n += 1
    except av.error.FFmpegError as exc:
        raise bad(
            f"the compressed video does not parse as {codec} ({exc})",
            "Record Annex B access units, one frame per message.",
        ) from exc
    finally:
        raw.unlink(missing_ok=True)
    if n != len(packets):
        raise bad(
            f"{len(packets)} messages hold {n} video frames; one frame per message is needed",
            "Record one access unit per message (foxglove.CompressedVideo does).",
        )
    if reorders:
        raise bad(
            "the video has B-frames (presentation order differs from decode order): message "
            "times cannot name its frames",
            "Record without B-frames (x264: bframes=0, tune=zerolatency), as robot "
            "recorders usually do.",
        )
    return probe_index(dst)
