"""Video-stored cameras (format 1.1, specs/format.md §4.3): one MP4 per camera and episode.

Packaging copies a recorder's bitstream into the dataset (a remux: packets copied, nothing
decoded) or encodes raw frames once; reading decodes frames exactly, by presentation
timestamp (PTS). Each frame row holds its PTS and the PTS of the key frame it decodes
from, so a random frame costs one seek to that key frame and the decode of
at most one GOP, never a scan of the file.

Everything that touches a video file's bytes lives here — and in :mod:`.videosplice`, which
splices re-encoded GOPs into a clip (face masking) — so QC, exporters and the loader decode
through the same function (:class:`VideoDecoder`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast, overload

import av
import numpy as np

from ..errors import CorruptDatasetError, SchemaError

__all__ = [
    "DEFAULT_GOP",
    "ENCODERS",
    "VideoClip",
    "VideoDecoder",
    "VideoEncoding",
    "VideoIndex",
    "encode_frames",
    "probe_index",
    "write_clip",
]

#: libavcodec codec names → the camera ``encoding`` of a video camera.
_STORABLE = {"h264": "h264", "hevc": "h265", "av1": "av1", "libdav1d": "av1"}

#: Camera encoding → PyAV encoder and its options when frames must be (re-)encoded. CRF
#: values keep the picture close to the recorder's; presets favour packaging speed.
ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"crf": "23", "preset": "veryfast"}),
    "h265": ("libx265", {"crf": "28", "preset": "veryfast", "x265-params": "log-level=error"}),
    "av1": ("libsvtav1", {"crf": "30", "preset": "10"}),
}

#: Key-frame interval (frames) of video the writer encodes: one second at 30 fps, so a
#: random frame costs at most a second of decoding.
DEFAULT_GOP = 30


@dataclass(frozen=True)
class VideoEncoding:
    """How the writer encodes raw frames of a video camera (remuxed clips keep theirs)."""

    gop: int = DEFAULT_GOP
    crf: int | None = None  # None: the encoder's entry in ENCODERS

    def __post_init__(self) -> None:
        if self.gop < 1:
            raise SchemaError(f"key-frame interval {self.gop} must be at least 1 frame")


@dataclass(frozen=True)
class VideoIndex:
    """What a video file holds, read by demuxing alone (no frame is decoded).

    ``pts`` are the frames' presentation timestamps in presentation order; ``key_pts[i]`` is
    the PTS of the key frame that frame ``i`` decodes from (the last key frame at or before
    it in presentation order), or ``None`` where no key frame precedes it (the leading
    frames of an open GOP at the file's start). ``decode_pos[i]`` is the position of frame
    ``i``'s packet in decode order.
    """

    codec: str | None  # the camera encoding, or None for a codec a dataset cannot store
    codec_name: str
    width: int
    height: int
    time_base: Fraction
    pts: np.ndarray
    key_pts: np.ndarray
    has_key: np.ndarray
    decode_pos: np.ndarray
    key_pos: np.ndarray  # per frame: decode position of its key frame's packet

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def max_gop(self) -> int:
        """The longest run of frames between two key frames (presentation order)."""
        starts = np.flatnonzero(np.r_[True, self.key_pos[1:] != self.key_pos[:-1]])
        if not len(starts):
            return 0
        return int(np.diff(np.r_[starts, len(self.pts)]).max())


def probe_index(path: Path) -> VideoIndex:
    """Index the first video stream of ``path`` by demuxing it.

    Raises ``SchemaError`` for a file without a video stream or packets without timestamps,
    ``OSError``/``av.error.FFmpegError`` for an unreadable one.
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise SchemaError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rows: list[tuple[int, int, bool]] = []
        for pkt in container.demux(stream):
            if pkt.dts is None and pkt.pts is None:
                continue  # the flush packet at the end
            if pkt.pts is None or pkt.dts is None:
                raise SchemaError(
                    f"{path.name}: a video packet has no timestamp",
                    hint="Remux the recording with timestamps (e.g. ffmpeg -fflags +genpts).",
                )
            rows.append((int(pkt.pts), int(pkt.dts), bool(pkt.is_keyframe)))
        name = str(ctx.name)
        tb = stream.time_base
        time_base = Fraction(int(tb.numerator), int(tb.denominator)) if tb else Fraction(1, 1)
        width, height = int(ctx.width), int(ctx.height)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    order = np.argsort(arr[:, 0], kind="stable")
    pts = arr[order, 0]
    if len(pts) > 1 and (np.diff(pts) <= 0).any():
        raise SchemaError(f"{path.name}: two video frames share a presentation timestamp")
    keys = np.flatnonzero(arr[:, 2] == 1)
    key_by_pts = keys[np.argsort(arr[keys, 0], kind="stable")]
    key_pts = arr[key_by_pts, 0]
    slot = np.searchsorted(key_pts, pts, side="right") - 1
    has_key = slot >= 0
    key_pos = np.where(has_key, key_by_pts[np.maximum(slot, 0)] if len(keys) else 0, -1)
    # seeking an MP4 by the key frame's PTS lands on it exactly (by its DTS, libavformat
    # may pick an earlier key frame when frames are reordered)
    key_pts = np.where(has_key, arr[np.maximum(key_pos, 0), 0], 0)
    return VideoIndex(
        codec=_STORABLE.get(name),
        codec_name=name,
        width=width,
        height=height,
        time_base=time_base,
        pts=pts,
        key_pts=key_pts.astype(np.int64),
        has_key=has_key,
        decode_pos=order.astype(np.int64),
        key_pos=key_pos.astype(np.int64),
    )


@dataclass
class VideoClip:
    """Frames ``[first, first + count)`` (presentation order) of an encoded video file, as an
    episode's input for a video camera: the writer copies the packets (remux), never
    decoding or re-encoding them.

    ``verbatim``: the clip is a whole file already in dataset form (copied byte for byte).
    ``reencode``: decode the frames and encode them again (a codec the camera does not use,
    or key frames too far apart for training access). Slicing gives a clip of fewer frames
    of the same file (how trim cuts a video camera).
    """

    path: Path
    first: int = 0
    count: int | None = None
    verbatim: bool = False
    reencode: bool = False
    index: VideoIndex | None = field(default=None, repr=False, compare=False)

    def probe(self) -> VideoIndex:
        """Index the file (once); raises ``SchemaError`` when it is unreadable."""
        if self.index is None:
            try:
                self.index = probe_index(self.path)
            except (av.error.FFmpegError, OSError) as exc:
                raise SchemaError(
                    f"video {self.path} is unreadable: {exc}",
                    hint="The file is corrupt or truncated; restore it from the recorder.",
                ) from exc
        return self.index

    def __len__(self) -> int:
        if self.count is not None:
            return self.count
        return max(self.probe().frames - self.first, 0)

    def decode(self) -> Iterator[np.ndarray]:
        """The clip's frames as RGB arrays, decoded in one forward pass."""
        index = self.probe()
        rows = slice(self.first, self.first + len(self))
        with VideoDecoder(self.path, keys=np.unique(index.key_pts[rows])) as decoder:
            yield from decoder.frames(index.pts[rows].tolist(), index.key_pts[rows].tolist())

    @overload
    def __getitem__(self, i: slice) -> VideoClip: ...
    @overload
    def __getitem__(self, i: int) -> Any: ...
    def __getitem__(self, i: int | slice) -> Any:
        if not isinstance(i, slice):
            raise TypeError("a VideoClip is sliced into clips, not indexed by frame")
        start, stop, step = i.indices(len(self))
        if step != 1:
            raise ValueError("a video clip keeps consecutive frames only")
        return VideoClip(
            self.path,
            self.first + start,
            max(stop - start, 0),
            reencode=self.reencode,
            index=self.index,
        )


def write_clip(clip: VideoClip, dst: Path) -> int:
    """Write ``clip`` into the new MP4 ``dst`` without re-encoding; return how many frames
    of ``dst`` (presentation order) come before the clip's first frame.

    A whole file is copied packet for packet (byte for byte when ``verbatim``). A part is cut
    at GOP boundaries: the packets from the key frame the first frame decodes from up to
    the last packet a kept frame needs, in decode order; the frames of ``dst`` outside the
    clip are never shown (the rows name the kept frames by PTS).
    """
    index = clip.probe()
    n = len(clip)
    first = clip.first
    if n < 1 or first < 0 or first + n > index.frames:
        raise SchemaError(
            f"{clip.path.name}: frames {first}..{first + n} are not in the video "
            f"({index.frames} frames)"
        )
    whole = first == 0 and n == index.frames
    if whole and clip.verbatim:
        shutil.copyfile(clip.path, dst)
        return 0
    kept = slice(first, first + n)
    if not index.has_key[first]:
        raise SchemaError(
            f"{clip.path.name}: frame {first} does not decode from a key frame",
            hint="Re-encode this camera (the video starts with frames of an open GOP).",
        )
    lo = 0 if whole else int(index.key_pos[first])
    hi = index.frames - 1 if whole else int(index.decode_pos[kept].max())
    selected = index.decode_pos[(index.decode_pos >= lo) & (index.decode_pos <= hi)]
    offset = int((index.pts[np.isin(index.decode_pos, selected)] < index.pts[first]).sum())
    with av.open(str(clip.path)) as src, av.open(str(dst), "w", format="mp4") as out:
        istream = src.streams.video[0]
        ostream = out.add_stream_from_template(istream, opaque=True)
        pos = -1
        for pkt in src.demux(istream):
            if pkt.dts is None and pkt.pts is None:
                continue
            pos += 1
            if pos < lo:
                continue
            if pos > hi:
                break
            pkt.stream = ostream
            out.mux(pkt)
    return offset


def encode_frames(
    frames: Iterable[np.ndarray],
    dst: Path,
    *,
    codec: str,
    fps: float,
    width: int,
    height: int,
    encoding: VideoEncoding | None = None,
    options: dict[str, str] | None = None,
) -> int:
    """Encode RGB ``(H, W, 3)`` uint8 frames into the new MP4 ``dst``; return the count.
    ``options`` add to (or replace) the encoder's options in :data:`ENCODERS`."""
    if codec not in ENCODERS:
        raise SchemaError(f"cannot encode video as {codec!r}", hint="Use h264, h265 or av1.")
    if width % 2 or height % 2:
        raise SchemaError(
            f"{width}x{height} frames cannot be stored as yuv420p video (width and height "
            "must be even)",
            hint="Store this camera as jpeg frames (storage 'frame').",
        )
    enc = encoding or VideoEncoding()
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole config otherwise
    name, defaults = ENCODERS[codec]
    opts = {**defaults, **(options or {})}
    if enc.crf is not None:
        opts["crf"] = str(enc.crf)
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with av.open(str(dst), "w", format="mp4") as out:
        stream = cast(av.VideoStream, out.add_stream(name, rate=rate, options=opts))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = 1 / rate
        stream.codec_context.gop_size = enc.gop  # the longest key-frame interval
        for rgb in frames:
            if rgb.dtype != np.uint8 or rgb.shape != (height, width, 3):
                raise SchemaError(
                    f"video frames must be uint8 ({height}, {width}, 3), got {rgb.dtype} "
                    f"{rgb.shape}"
                )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = count
            for packet in stream.encode(frame):
                out.mux(packet)
            count += 1
        for packet in stream.encode():
            out.mux(packet)
    return count


class VideoDecoder:
    """Decode frames of one video file by PTS: seek to the frame's key frame (by its PTS),
    decode forward to the frame. A frame asked after an earlier one whose key frame the
    running decode has reached, or the key frame right after it (``keys``: the file's key
    frame PTS, sorted), continues that decode instead of seeking, so reading an episode in
    order decodes the file once.

    Not thread-safe: one per thread or worker.
    """

    def __init__(
        self, path: Path, *, expected_size: int | None = None, keys: np.ndarray | None = None
    ) -> None:
        self.path = path
        self._expected = expected_size
        self._keys = keys
        self._container: Any = None
        self._stream: Any = None
        self._run: Iterator[Any] | None = None
        self._run_key = 0
        self._fed_key: int | None = None
        self._last_pts: int | None = None
        self._last: tuple[int, np.ndarray] | None = None

    def _open(self) -> None:
        if not self.path.exists():
            raise CorruptDatasetError(f"video {self.path} is missing")
        size = self.path.stat().st_size
        if self._expected is not None and size != self._expected:
            raise CorruptDatasetError(
                f"video {self.path} is {size} bytes, the manifest says {self._expected} "
                "(truncated or replaced)"
            )
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, OSError, IndexError) as exc:
            raise CorruptDatasetError(f"video {self.path} is unreadable: {exc}") from exc
        self._stream.thread_type = "AUTO"

    def _decode_run(self) -> Iterator[Any]:
        for pkt in self._container.demux(self._stream):
            if pkt.is_keyframe and pkt.pts is not None:
                self._fed_key = max(int(pkt.pts), self._fed_key or int(pkt.pts))
            yield from pkt.decode()

    def _seek(self, key_pts: int) -> None:
        if self._container is None:
            self._open()
        self._container.seek(key_pts, stream=self._stream, backward=True, any_frame=False)
        self._run = self._decode_run()
        self._run_key = key_pts
        self._fed_key = None
        self._last_pts = None

    def _reachable(self) -> int | None:
        """The last key frame the running decode reaches without skipping a GOP."""
        if self._fed_key is None:
            return None
        if self._keys is None:
            return self._fed_key
        nxt = int(np.searchsorted(self._keys, self._fed_key, side="right"))
        return int(self._keys[nxt]) if nxt < len(self._keys) else self._fed_key

    def frame(self, pts: int, key_pts: int) -> np.ndarray:
        """The RGB frame whose presentation timestamp is ``pts``; raises
        ``CorruptDatasetError`` when the file does not hold it."""
        if self._last is not None and self._last[0] == pts:
            return self._last[1].copy()
        reach = self._reachable()
        running = (
            self._run is not None
            and self._last_pts is not None
            and self._last_pts < pts
            and reach is not None
            and self._run_key <= key_pts <= reach
        )
        if not running:
            self._seek(key_pts)
        found = self._advance_to(pts)
        if found is None and not running:
            # The seek did not land where the index said (a damaged index in the file?):
            # decode from the file's start, slow but exact.
            self.close()
            self._open()
            self._run = self._decode_run()
            self._run_key = -(2**62)
            found = self._advance_to(pts)
        if found is not None:
            return found
        self._run = None
        raise CorruptDatasetError(
            f"video {self.path} holds no frame at presentation time {pts} (decoding from "
            f"the key frame at {key_pts})"
        )

    def _advance_to(self, pts: int) -> np.ndarray | None:
        assert self._run is not None
        try:
            for frame in self._run:
                self._last_pts = frame.pts
                if frame.pts == pts:
                    rgb: np.ndarray = frame.to_ndarray(format="rgb24")
                    self._last = (pts, rgb)
                    return rgb
                if frame.pts is not None and frame.pts > pts:
                    return None
        except av.error.FFmpegError as exc:
            raise CorruptDatasetError(f"video {self.path} cannot be decoded: {exc}") from exc
        return None

    def frames(self, pts: Sequence[int], key_pts: Sequence[int]) -> Iterator[np.ndarray]:
        """The frames at ``pts`` in the order given (sequential when ``pts`` increase)."""
        for p, k in zip(pts, key_pts, strict=True):
            yield self.frame(int(p), int(k))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._run = None

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
