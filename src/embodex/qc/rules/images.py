"""Images: frames decode, keep their resolution, and are not black, white or frozen.

In ``sample`` mode the checked frames of a camera are ``images.sample_frames`` evenly
spaced frames **plus** a regular grid dense enough that any black, white or frozen stretch
lasting ``images.min_event_s`` or more is always among them (see :func:`coverage_stride`),
each with the frame ``gap_s`` later (for "frozen"); ``images="all"`` checks every frame.

"Frozen" compares frames ``gap_s`` apart and counts them only when the joints that move
this camera's picture moved in between (its mount's chain, :mod:`embodex.qc.robot`):
compressed video of a still scene legitimately repeats frames, and a wrist camera on an arm
at rest sees a still scene while the other arm works; a stuck camera repeats frames while
its own chain moves.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import numpy as np
import simplejpeg
from PIL import Image

from ...errors import CorruptDatasetError
from ...format.models import Camera
from ...format.videostore import VideoDecoder
from ..chunk import Chunk
from ..robot import Mount, camera_mount, chain_mask
from .base import Flag, Graded, RuleSpec
from .context import Plan

__all__ = ["SPECS", "check_chunk", "coverage_stride", "sample_indices"]


class Level(Graded):
    level: float
    max_std: float


class Frozen(Graded):
    max_mean_abs_diff: float
    gap_s: float
    min_motion: float


SPECS = [
    RuleSpec("images.decodable", Flag, "frames", "Every checked frame decodes.", "images"),
    RuleSpec(
        "images.resolution",
        Flag,
        "frames",
        "Every checked frame has the camera's declared width and height.",
        "images",
    ),
    RuleSpec(
        "images.black",
        Level,
        "ratio",
        "Share of checked frames that are black: mean grey level <= level and std <= "
        "max_std (depth: >= 95 % of pixels without depth).",
        "images",
    ),
    RuleSpec(
        "images.white",
        Level,
        "ratio",
        "Share of checked frames that are white: mean grey level >= level and std <= max_std.",
        "images",
    ),
    RuleSpec(
        "images.frozen",
        Frozen,
        "ratio",
        "Share of checked frames identical to the frame gap_s later (same bytes, or mean "
        "absolute grey difference <= max_mean_abs_diff) although a joint of the camera's own "
        "chain (its mount: wrist, head, fixed) moved more than min_motion rad in between: "
        "the camera stopped while what it films did not.",
        "images",
    ),
]


def sample_indices(n: int, k: int, gap: int = 1, stride: int | None = None) -> np.ndarray:
    """``k`` frame indices spread evenly over ``[0, n-1-gap]`` (each is paired with the frame
    ``gap`` later), plus every ``stride``-th frame of that range; all of them when ``k``
    covers the range."""
    last = max(n - 1 - gap, 0)
    if n < 1:
        return np.zeros(0, dtype=np.int64)
    if k > last:
        return np.arange(last + 1, dtype=np.int64)
    even = np.rint(np.linspace(0, last, k)).astype(np.int64)
    if stride is None:
        return np.unique(even)
    return np.unique(np.concatenate([even, np.arange(0, last + 1, max(1, stride))]))


def coverage_stride(min_event_s: float, fps: float, gap: int) -> int:
    """The grid step that cannot miss an event of ``min_event_s`` or more.

    A stretch of L >= ceil(min_event_s x fps) frames f..f+L-1 of identical pictures shows as
    frozen at any checked frame i with f <= i <= f+L-1-gap (its partner i+gap is inside
    too); those L-gap consecutive frames always hold a multiple of ``L_min - gap``. A black
    or white stretch of L frames always holds a multiple of any step <= L. So the step is
    ``max(1, L_min - gap)``.
    """
    l_min = int(np.ceil(min_event_s * fps - 1e-9))
    return max(1, l_min - gap)


@dataclass
class _Decoded:
    grey: np.ndarray | None  # float32 grey levels (colour) or depth values
    size: tuple[int, int] | None  # (width, height)
    error: str | None


def _decode(data: bytes | np.ndarray | str | None, cam: Camera) -> _Decoded:
    if data is None:
        return _Decoded(None, None, "no image")
    if isinstance(data, str):  # a video frame that did not decode: the decoder's error
        return _Decoded(None, None, data[:200])
    if isinstance(data, np.ndarray):  # a decoded video frame: grey as JPEG's (BT.601 luma)
        grey = data[..., 0] * 0.299 + data[..., 1] * 0.587 + data[..., 2] * 0.114
        return _Decoded(grey.astype(np.float32), (int(data.shape[1]), int(data.shape[0])), None)
    try:
        if cam.encoding == "jpeg":
            arr = np.asarray(simplejpeg.decode_jpeg(data, colorspace="GRAY"))[:, :, 0]
        else:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                if cam.encoding == "png16":
                    arr = np.asarray(img, dtype=np.uint16)
                else:
                    arr = np.asarray(img.convert("L"))
    except Exception as exc:  # any decoder error means the frame is unusable
        return _Decoded(None, None, f"{type(exc).__name__}: {exc}"[:200])
    return _Decoded(arr.astype(np.float32), (int(arr.shape[1]), int(arr.shape[0])), None)


Kind = Literal["black", "white"]


def _is_flat(d: _Decoded, cam: Camera, kind: Kind, p: Level) -> bool:
    g = d.grey
    if g is None or g.size == 0:
        return False
    if cam.kind == "depth":
        return kind == "black" and float((g == 0).mean()) >= 0.95
    mean = float(g.mean())
    if (mean > p.level) if kind == "black" else (mean < p.level):
        return False
    return float(g.std()) <= p.max_std  # only for the rare dark or bright frame


def check_chunk(plan: Plan, c: Chunk) -> None:
    if plan.images is None:
        return
    sample_frames, all_frames = plan.images.sample_frames, plan.images.all_frames
    min_event_s = plan.images.min_event_s
    dec = plan.get("images.decodable", Flag)
    res = plan.get("images.resolution", Flag)
    black = plan.get("images.black", Level)
    white = plan.get("images.white", Level)
    frozen = plan.get("images.frozen", Frozen)
    if not any((dec, res, black, white, frozen)):
        return
    gap = max(1, round((frozen.gap_s if frozen is not None else 0.5) * plan.nominal_fps))
    stride = None if min_event_s is None else coverage_stride(min_event_s, plan.nominal_fps, gap)
    for cam in c.meta.cameras:
        if cam.column not in c.table.column_names:
            continue
        moved = _motion(c, gap, camera_mount(cam.name, plan.robot, cam.mount))
        col = c.table.column(cam.column)
        picks = [
            np.arange(int(n)) if all_frames else sample_indices(int(n), sample_frames, gap, stride)
            for n in c.counts
        ]
        # one take per camera per chunk: each sampled frame and the one gap frames later
        wanted = np.unique(
            np.concatenate(
                [
                    np.concatenate([p, np.minimum(p + gap, int(n) - 1)]) + int(s)
                    for p, n, s in zip(picks, c.counts, c.starts, strict=True)
                ]
            )
        )
        by_row: dict[int, bytes | np.ndarray | str | None]
        if cam.is_video:
            by_row = _video_frames(c, cam, wanted)
        else:
            blobs = col.take(wanted).to_pylist()
            by_row = dict(zip(wanted.tolist(), blobs, strict=True))
        for e, pick in enumerate(picks):
            _episode(plan, c, e, cam, pick, gap, moved, by_row, dec, res, black, white, frozen)


def _video_frames(
    c: Chunk, cam: Camera, wanted: np.ndarray
) -> dict[int, bytes | np.ndarray | str | None]:
    """Chunk rows → decoded RGB frames of a video camera (format 1.1), through the format's
    decoder: one per episode file, the rows in order (so all frames decode in one pass, a
    sample from each one's key frame); a frame that does not decode maps to its error."""
    pts = c.table.column(cam.column).to_numpy()
    keys = c.table.column(cam.key_column).to_numpy()
    out: dict[int, bytes | np.ndarray | str | None] = {}
    for e, row in enumerate(c.rows):
        lo, hi = int(c.starts[e]), int(c.stops[e])
        mine = wanted[(wanted >= lo) & (wanted < hi)]
        if not len(mine):
            continue
        if c.root is None:
            out.update({int(r): "the dataset folder is unknown" for r in mine})
            continue
        with VideoDecoder(c.root / str(row[cam.video_column])) as decoder:
            for r in mine.tolist():
                try:
                    out[r] = decoder.frame(int(pts[r]), int(keys[r]))
                except CorruptDatasetError as exc:
                    out[r] = str(exc)
    return out


def _motion(c: Chunk, gap: int, mount: Mount) -> np.ndarray | None:
    """Per chunk frame t, how far (rad) the most active joint of the camera's chain moves
    from t to t + gap."""
    if c.state is None:
        return None
    names = [c.joint_name(j) for j in range(c.state.shape[0])]
    chain = np.array(chain_mask(names, mount), dtype=bool)
    if not chain.any():
        chain[:] = True  # nothing recognisable by name: judge by every joint
    mask = c.joint_mask(["rad"]) & chain
    s = c.state[mask] if mask.any() else c.state[chain]
    n = s.shape[1]
    out = np.zeros(n, dtype=np.float32)
    if n > gap:
        d = np.abs(s[:, gap:] - s[:, :-gap])
        if gap >= 3:
            # a one-frame glitch at either end is not motion (numeric.jump reports it): the
            # change between the frames just inside must agree
            d = np.fmin(d, np.abs(s[:, gap - 1 : n - 1] - s[:, 1 : n - gap + 1]))
        # a NaN reading says nothing about motion (numeric.finite reports it), so it counts
        # as none: an unchanged picture next to it is not "frozen"
        out[: n - gap] = np.nan_to_num(d, nan=0.0).max(axis=0)
    return out


def _episode(
    plan: Plan,
    c: Chunk,
    e: int,
    cam: Camera,
    pick: np.ndarray,
    gap: int,
    moved: np.ndarray | None,
    by_row: dict[int, bytes | np.ndarray | str | None],
    dec: Flag | None,
    res: Flag | None,
    black: Level | None,
    white: Level | None,
    frozen: Frozen | None,
) -> None:
    start, n = int(c.starts[e]), int(c.counts[e])
    cache: dict[int, _Decoded] = {}

    def get(i: int) -> _Decoded:
        if i not in cache:
            cache[i] = _decode(by_row.get(start + i), cam)
        return cache[i]

    undecodable: list[int] = []
    wrong_size: list[tuple[int, tuple[int, int]]] = []
    flat: dict[str, list[int]] = {"black": [], "white": []}
    still: list[int] = []
    checked = 0
    for i in pick.tolist():
        d = get(i)
        if by_row.get(start + i) is None:
            continue  # a missing image is integrity.streams' finding
        checked += 1
        if d.error is not None:
            undecodable.append(i)
            continue
        assert d.size is not None
        if d.size != (cam.width, cam.height):
            wrong_size.append((i, d.size))
        is_flat = False
        for kind, p in (("black", black), ("white", white)):
            if p is not None and _is_flat(d, cam, kind, p):  # type: ignore[arg-type]
                flat[kind].append(i)
                is_flat = True
        if is_flat:
            continue  # a black or white picture is their finding, not also "frozen"
        j = i + gap
        if frozen is not None and j < n:
            if moved is not None and moved[start + i] <= frozen.min_motion:
                continue  # nothing moved: an unchanged picture is expected
            later = by_row.get(start + j)
            if isinstance(later, bytes) and later == by_row.get(start + i):
                still.append(i)
            else:
                nxt = get(j)
                if (
                    nxt.grey is not None
                    and d.grey is not None
                    and nxt.grey.shape == d.grey.shape
                    and float(np.abs(nxt.grey - d.grey).mean()) <= frozen.max_mean_abs_diff
                ):
                    still.append(i)
    if not checked:
        return
    eid = c.ids[e]
    if dec is not None and undecodable:
        plan.out.add(
            "images.decodable",
            eid,
            dec.severity,
            f"camera {cam.name}: {len(undecodable)} of {checked} checked frames do not decode "
            f"({get(undecodable[0]).error})",
            measured=len(undecodable),
            threshold=0,
            frames=(undecodable[0], undecodable[-1] + 1),
            subject=cam.name,
        )
    if res is not None and wrong_size:
        i, (w, h) = wrong_size[0]
        plan.out.add(
            "images.resolution",
            eid,
            res.severity,
            f"camera {cam.name}: {len(wrong_size)} of {checked} checked frames are {w}x{h}, "
            f"declared {cam.width}x{cam.height} (first at frame {i})",
            measured=len(wrong_size),
            threshold=0,
            frames=(i, wrong_size[-1][0] + 1),
            subject=cam.name,
        )
    for kind, p, hits in (("black", black, flat["black"]), ("white", white, flat["white"])):
        if p is None or not hits:
            continue
        share = len(hits) / checked
        g = p.grade(share)
        if g:
            plan.out.add(
                f"images.{kind}",
                eid,
                g[0],
                f"camera {cam.name}: {len(hits)} of {checked} checked frames are {kind}",
                measured=share,
                threshold=g[1],
                frames=(hits[0], hits[-1] + 1),
                subject=cam.name,
            )
    if frozen is not None and still:
        share = len(still) / checked
        g = frozen.grade(share)
        if g:
            plan.out.add(
                "images.frozen",
                eid,
                g[0],
                f"camera {cam.name}: {len(still)} of {checked} checked frames are unchanged "
                f"{gap} frames later although the joints that move its picture moved",
                measured=share,
                threshold=g[1],
                frames=(still[0], min(still[-1] + gap, n - 1) + 1),
                subject=cam.name,
            )
