"""Re-encode only the GOPs of a video that change (face masking, specs/privacy.md §2).

A GOP here is a key frame and the frames that decode from it. When a few frames of an
episode's clip change, only the GOPs holding them are encoded again and spliced between the
untouched GOPs' packets, which are copied as they are. Splicing is exact only when the new
packets fit the stream they join, so every condition is checked and a clip that fails one is
left to the caller to re-encode whole (:func:`reencode_gops` returns False):

* the clip is a whole H.264 file whose GOPs are closed: each GOP's packets are contiguous
  in decode order and every frame decodes from a key frame;
* each re-encoded GOP (the writer's encoder and settings) has the source track's codec
  configuration byte for byte (the MP4 track holds one SPS/PPS), the same time base, one
  key frame, first in decode order and first shown, and — shifted to the GOP's place — the
  source GOP's presentation timestamps and exactly its decode timestamps (its frames may be
  ordered otherwise inside the GOP, but the reorder delay matches and DTS stay monotonic
  across the joins);
* the spliced file, demuxed again, has the source's timestamps and key frames.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path

import av
import numpy as np

from .videostore import VideoClip, VideoEncoding, encode_frames, probe_index

__all__ = ["reencode_gops"]

#: A GOP is re-encoded as one GOP: no key frame at a scene change (a face appearing is one),
#: so the spliced clip keeps the source's key frames and the frame rows stay as they are.
_ONE_KEY_FRAME = {"x264-params": "scenecut=0"}


def _gops(clip: VideoClip) -> dict[int, list[int]] | None:
    """Decode position of each GOP's key frame → its frames (presentation order), or None
    when the clip is not a whole file of closed GOPs."""
    index = clip.probe()
    if clip.first != 0 or len(clip) != index.frames or index.codec != "h264":
        return None
    if not index.has_key.all():
        return None
    gops: dict[int, list[int]] = {}
    for i, k in enumerate(index.key_pos.tolist()):
        gops.setdefault(int(k), []).append(i)
    for k, members in gops.items():
        positions = sorted(int(p) for p in index.decode_pos[members])
        if positions != list(range(k, k + len(members))):
            return None  # an open GOP: its packets interleave with another's
    return gops


def _timestamps(path: Path) -> tuple[bytes, object, list[tuple[int, int, bool]]]:
    """The codec configuration, time base and (pts, dts, key) of every packet in decode
    order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        rows = [
            (int(p.pts), int(p.dts), bool(p.is_keyframe))
            for p in container.demux(stream)
            if p.pts is not None and p.dts is not None
        ]
        return extradata, stream.time_base, rows


def reencode_gops(
    clip: VideoClip,
    frames: Sequence[np.ndarray],
    changed: Collection[int],
    dst: Path,
    *,
    fps: float,
    encoding: VideoEncoding | None = None,
) -> int | None:
    """Write to the new MP4 ``dst`` the video of ``clip`` with each GOP holding a frame in
    ``changed`` encoded anew from ``frames`` (all the clip's frames, presentation order) and
    every other packet copied byte for byte. Returns the number of GOPs re-encoded, or None
    when the splice could not be exact (see the module docstring; ``dst`` is then not
    written and the caller re-encodes the whole clip).

    Example::

        n = reencode_gops(clip, masked_frames, {12, 13}, Path("out.mp4"), fps=30.0)
    """
    gops = _gops(clip)
    if gops is None:
        return None
    index = clip.probe()
    extradata, time_base, source = _timestamps(clip.path)
    if len(source) != index.frames:
        return None
    targets = sorted({int(index.key_pos[i]) for i in changed})
    with tempfile.TemporaryDirectory(prefix=".gops-", dir=dst.parent) as tmp:
        parts: dict[int, tuple[Path, int]] = {}  # key decode pos -> (file, pts shift)
        for k in targets:
            members = gops[k]
            part = Path(tmp) / f"{k}.mp4"
            encode_frames(
                (frames[i] for i in members), part, codec="h264", fps=fps,
                width=index.width, height=index.height, encoding=encoding,
                options=_ONE_KEY_FRAME,
            )  # fmt: skip
            their_extra, their_tb, rows = _timestamps(part)
            if their_extra != extradata or their_tb != time_base or len(rows) != len(members):
                return None
            first_pts = min(p for p, _, _ in rows)
            if not rows[0][2] or rows[0][0] != first_pts or any(key for _, _, key in rows[1:]):
                return None  # not one key frame opening the GOP
            shift = int(index.pts[members[0]]) - first_pts
            want = source[k : k + len(members)]
            # the frames may be ordered otherwise inside the GOP (other B-frame choices), but
            # they must be the same frames and the decode times the same, so the joins hold
            if sorted(p + shift for p, _, _ in rows) != sorted(p for p, _, _ in want):
                return None  # other frame timing
            if [d + shift for _, d, _ in rows] != [d for _, d, _ in want]:
                return None  # another reorder delay: the DTS would not join
            parts[k] = (part, shift)
        _splice(clip.path, dst, gops, parts)
    check = probe_index(dst)
    # what the dataset's frame rows name: each frame's PTS and its key frame's
    if not (np.array_equal(check.pts, index.pts) and np.array_equal(check.key_pts, index.key_pts)):
        dst.unlink()
        return None
    return len(parts)


def _splice(
    src: Path, dst: Path, gops: dict[int, list[int]], parts: dict[int, tuple[Path, int]]
) -> None:
    with av.open(str(src)) as source, av.open(str(dst), "w", format="mp4") as out:
        istream = source.streams.video[0]
        ostream = out.add_stream_from_template(istream, opaque=True)
        skip_until = -1
        pos = -1
        for pkt in source.demux(istream):
            if pkt.dts is None and pkt.pts is None:
                continue  # the flush packet
            pos += 1
            if pos < skip_until:
                continue
            if pos in parts:
                part, shift = parts[pos]
                with av.open(str(part)) as new:
                    nstream = new.streams.video[0]
                    for npkt in new.demux(nstream):
                        if npkt.dts is None or npkt.pts is None:
                            continue  # the flush packet (_timestamps counted only timed ones)
                        npkt.pts = int(npkt.pts) + shift
                        npkt.dts = int(npkt.dts) + shift
                        npkt.stream = ostream
                        out.mux(npkt)
                skip_until = pos + len(gops[pos])
                continue
            pkt.stream = ostream
            out.mux(pkt)
