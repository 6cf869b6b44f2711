"""One episode as a Rerun recording (``embodex view DATASET EPISODE -o file.rrd``).

What the ``.rrd`` holds, on two timelines — ``frame`` (frame index) and ``capture_time``
(the real capture time; images at their camera's own capture time when recorded):

* ``episode``: a static Markdown card (id, scene, skill, instruction, operator, success);
* ``<feature>/<joint>``: one scalar series per dimension of every feature (state, action…),
  named after the joints;
* ``cameras/<camera>``: the stored JPEG/PNG frames as they are (no re-encoding; depth as
  depth images in metres), under a pinhole when the camera is calibrated; a video camera
  (format 1.1) as video: its MP4 as an asset and a frame reference per frame;
* ``segments``: a text log entry at the start of each sub-task segment, and
  ``segments/index``, a step series of the active segment number (−1 outside any).

Needs the ``rerun`` extra (``rerun-sdk``); raises ``MissingExtraError`` without it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TypedDict

import numpy as np

from ...errors import MissingExtraError
from ..models import Camera, EpisodeMeta
from ..reader import Dataset, EpisodeView, VideoImageSequence
from ..videostore import probe_index
from .common import resolve_dataset

try:
    import rerun as rr
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("rerun-sdk", "rerun") from None

__all__ = ["RerunReport", "export_rerun", "rrd_entities"]

_DEPTH_METER = {"mm": 1000.0, "m": 1.0, "cm": 100.0}


class RerunReport(TypedDict):
    """What :func:`export_rerun` wrote (``embodex view``; its --json is this dict)."""

    path: str
    episode_id: str
    frames: int
    cameras: list[str]
    segments: int
    bytes: int


def export_rerun(dataset: str | Path | Dataset, episode: str | int, out: str | Path) -> RerunReport:
    """Write episode ``episode`` (id or position) of ``dataset`` to the ``.rrd`` file ``out``.

    The file is written beside ``out`` and renamed into place when complete. Returns a
    summary (``path``, ``episode_id``, ``frames``, ``cameras``, ``segments``, ``bytes``).
    Raises ``SchemaError`` for an unknown episode id or a position out of range.

    Example::

        export_rerun("datasets/week01", 0, "ep0.rrd")   # then: rerun ep0.rrd
    """
    ds = resolve_dataset(dataset)
    view = ds.episode(episode)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    rec = rr.RecordingStream("embodex", recording_id=f"{view.episode_id}")
    try:
        rec.save(str(partial))
        _log_episode(rec, ds, view)
        rec.flush()
        rec.disconnect()
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return RerunReport(
        path=str(out),
        episode_id=view.episode_id,
        frames=view.frame_count,
        cameras=[c.name for c in ds.meta.cameras],
        segments=len(view.meta.segments),
        bytes=out.stat().st_size,
    )


def _times(frames: np.ndarray, ts: np.ndarray) -> list[rr.TimeColumn]:
    return [
        rr.TimeColumn("frame", sequence=frames),
        rr.TimeColumn("capture_time", timestamp=ts.astype("datetime64[ns]")),
    ]


def _log_episode(rec: rr.RecordingStream, ds: Dataset, view: EpisodeView) -> None:
    n = view.frame_count
    frames = np.arange(n, dtype=np.int64)
    ts = view.timestamp_ns
    rec.log(
        "episode", rr.TextDocument(_card(view.meta, ds), media_type="text/markdown"), static=True
    )
    for name, feat in ds.meta.feature_items():
        values = view.feature(name).astype(np.float64)
        labels = feat.names or [str(i) for i in range(feat.shape[0])]
        for j, label in enumerate(labels):
            path = f"{name}/{rr.escape_entity_path_part(label)}"
            rec.log(path, rr.SeriesLines(names=f"{name} {label}"), static=True)
            rec.send_columns(
                path, indexes=_times(frames, ts), columns=rr.Scalars.columns(scalars=values[:, j])
            )
    for cam in ds.meta.cameras:
        _log_camera(rec, view, cam, frames, ts)
    _log_segments(rec, view.meta, frames, ts)


def _log_camera(
    rec: rr.RecordingStream, view: EpisodeView, cam: Camera, frames: np.ndarray, ts: np.ndarray
) -> None:
    path = f"cameras/{cam.name}"
    if cam.intrinsics is not None:
        k = cam.intrinsics
        rec.log(
            path,
            rr.Pinhole(
                focal_length=[k.fx, k.fy],
                principal_point=[k.cx, k.cy],
                width=cam.width,
                height=cam.height,
            ),
            static=True,
        )
    if cam.is_video:
        _log_video(rec, view, cam, path, frames, ts)
        return
    encoded = view.images(cam.name).all_encoded()
    keep = [i for i, b in enumerate(encoded) if b is not None]
    if not keep:
        return
    blobs = [b for b in encoded if b is not None]
    cam_ts = view.image_timestamps_ns(cam.name)
    times = _times(frames[keep], (cam_ts if cam_ts is not None else ts)[keep])
    media = "image/jpeg" if cam.encoding == "jpeg" or cam.is_video else "image/png"
    if cam.kind == "depth":
        meter = _DEPTH_METER.get(cam.depth_unit or "mm", 1000.0)
        rec.log(path, rr.EncodedDepthImage.from_fields(meter=meter), static=True)
        columns = rr.EncodedDepthImage.columns(blob=blobs, media_type=[media] * len(blobs))
    else:
        columns = rr.EncodedImage.columns(blob=blobs, media_type=[media] * len(blobs))
    rec.send_columns(path, indexes=times, columns=columns)


def _log_video(
    rec: rr.RecordingStream,
    view: EpisodeView,
    cam: Camera,
    path: str,
    frames: np.ndarray,
    ts: np.ndarray,
) -> None:
    """A video camera (format 1.1) logged as video: the episode's MP4 as an asset, and per
    frame a reference to its presentation time in it (nothing decoded or re-encoded)."""
    mp4 = view.video_path(cam.name)
    rec.log(path, rr.AssetVideo(path=mp4), static=True)
    seq = view.images(cam.name)
    assert isinstance(seq, VideoImageSequence)
    tb = probe_index(mp4).time_base
    num, den = int(tb.numerator), int(tb.denominator)
    nanos = np.array([int(p) * num * 1_000_000_000 // den for p in seq.pts], dtype=np.int64)
    cam_ts = view.image_timestamps_ns(cam.name)
    times = _times(frames, cam_ts if cam_ts is not None else ts)
    rec.send_columns(path, indexes=times, columns=rr.VideoFrameReference.columns(timestamp=nanos))


def _log_segments(
    rec: rr.RecordingStream, meta: EpisodeMeta, frames: np.ndarray, ts: np.ndarray
) -> None:
    n = len(frames)
    active = np.full(n, -1.0)
    for k, seg in enumerate(meta.segments):
        start = min(seg.start_frame, n - 1)
        rec.set_time("frame", sequence=int(frames[start]))
        rec.set_time("capture_time", timestamp=np.datetime64(int(ts[start]), "ns"))
        label = f"{seg.skill}: {seg.text}" if seg.text else seg.skill
        rec.log("segments", rr.TextLog(f"[{seg.start_frame}, {seg.end_frame}) {label}"))
        span = active[seg.start_frame : min(seg.end_frame, n)]
        span[span < 0] = k
    rec.log("segments/index", rr.SeriesLines(names="active segment"), static=True)
    rec.send_columns(
        "segments/index", indexes=_times(frames, ts), columns=rr.Scalars.columns(scalars=active)
    )


def _card(meta: EpisodeMeta, ds: Dataset) -> str:
    rows = {
        "dataset": f"{ds.meta.name} ({ds.meta.licence})",
        "scene": " / ".join(x for x in (meta.scene_type, meta.scene_id) if x) or None,
        "skill": meta.skill,
        "instruction": meta.instruction_en or meta.instruction_zh,
        "robot": " ".join(x for x in (meta.robot_model, meta.robot_serial) if x) or None,
        "operator": " ".join(x for x in (meta.operator_id, meta.operator_level) if x) or None,
        "success": meta.success,
        "failure cause": meta.failure_cause,
        "timestamps synthesized": meta.timestamps_synthesized or None,
    }
    lines = [f"# {meta.episode_id}", ""]
    lines += [f"* **{k}**: {v}" for k, v in rows.items() if v is not None]
    return "\n".join(lines) + "\n"


def rrd_entities(path: str | Path) -> dict[str, int]:
    """Entity path → rows logged, read back from an ``.rrd`` file (for checks and tests)."""
    from rerun.chunk import RrdReader

    counts: Counter[str] = Counter()
    for chunk in RrdReader(str(path)).store().stream():
        counts[str(chunk.entity_path)] += int(chunk.num_rows)
    return dict(counts)
