"""What ``embodex inspect`` shows: counts and hours by scene and skill, from metadata only."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from . import layout
from .reader import Dataset

__all__ = ["summarize"]

UNKNOWN = "(unknown)"


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds")


def summarize(ds: Dataset) -> dict[str, Any]:
    """A JSON-ready summary of a dataset (or view); reads the episode table, never frames."""
    cols = ds.episodes.select(
        [
            "scene_type",
            "skill",
            "duration_s",
            "frame_count",
            "robot_model",
            "operator_id",
            "success",
            "start_time_ns",
            "end_time_ns",
        ]
    ).to_pydict()
    by_scene: dict[str, dict[str, float]] = defaultdict(lambda: {"episodes": 0, "hours": 0.0})
    by_skill: dict[str, dict[str, float]] = defaultdict(lambda: {"episodes": 0, "hours": 0.0})
    cross: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    robots: dict[str, int] = defaultdict(int)
    for scene, skill, dur, robot in zip(
        cols["scene_type"], cols["skill"], cols["duration_s"], cols["robot_model"], strict=True
    ):
        scene = scene or UNKNOWN
        skill = skill or UNKNOWN
        hours = dur / 3600
        by_scene[scene]["episodes"] += 1
        by_scene[scene]["hours"] += hours
        by_skill[skill]["episodes"] += 1
        by_skill[skill]["hours"] += hours
        cross[scene][skill] += hours
        robots[robot or UNKNOWN] += 1
    labelled = [s for s in cols["success"] if s is not None]
    size = sum(f.size for f in ds.manifest.files)
    return {
        "name": ds.meta.name,
        "path": str(ds.root),
        "format_version": ds.meta.format_version,
        "licence": ds.meta.licence,
        "centre": ds.meta.provenance.centre_name,
        "digest": ds.digest,
        "episodes": len(ds),
        "frames": int(sum(cols["frame_count"])),
        "hours": sum(cols["duration_s"]) / 3600,
        "fps": ds.meta.fps,
        "size_bytes": size,
        "shards": len(ds.shard_names),
        "videos": sum(1 for f in ds.manifest.files if f.path.startswith(layout.VIDEO_DIR + "/")),
        "success_rate": (sum(labelled) / len(labelled)) if labelled else None,
        "operators": len({o for o in cols["operator_id"] if o}),
        "robots": dict(sorted(robots.items())),
        "recorded_from": _iso(min(cols["start_time_ns"])) if len(ds) else None,
        "recorded_to": _iso(max(cols["end_time_ns"])) if len(ds) else None,
        "cameras": [
            {
                "name": c.name,
                "kind": c.kind,
                "width": c.width,
                "height": c.height,
                "encoding": c.encoding,
                "storage": c.storage,
                "calibrated": c.intrinsics is not None,
            }
            for c in ds.meta.cameras
        ],
        "features": {
            name: {"dtype": f.dtype, "shape": f.shape, "unit": f.unit, "role": f.role}
            for name, f in ds.meta.feature_items()
        },
        "streams": [
            {
                "name": s.name,
                "rate_hz": s.rate_hz,
                "samples": int(sum(ds.episodes.column(s.count_column).to_pylist())),
                "features": {
                    name: {"dtype": f.dtype, "shape": f.shape, "unit": f.unit}
                    for name, f in s.feature_items()
                },
            }
            for s in ds.meta.streams
        ],
        "by_scene_type": dict(sorted(by_scene.items())),
        "by_skill": dict(sorted(by_skill.items())),
        "hours_by_scene_and_skill": {k: dict(sorted(v.items())) for k, v in sorted(cross.items())},
    }
