"""What ``embodex inspect`` shows: counts and hours by scene and skill, from metadata only."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import layout
from .reader import Dataset, open_dataset

__all__ = ["DatasetSummary", "inspect_dataset", "summarize"]

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


#: The episode-table columns ``inspect_dataset(..., episodes=True)`` lists.
EPISODE_LIST_COLUMNS = ("episode_id", "scene_type", "skill", "frame_count", "duration_s", "success")


@dataclass(frozen=True)
class DatasetSummary:
    """What a dataset holds (``embodex inspect``): :func:`summarize`'s figures, typed.

    Groups (``by_scene_type``, ``by_skill``) map a name to ``{"episodes", "hours"}``;
    ``episode_list`` holds one row per episode when asked for, else None."""

    name: str
    path: str
    format_version: str
    licence: str
    centre: str
    digest: str
    episodes: int
    frames: int
    hours: float
    fps: float
    size_bytes: int
    shards: int
    videos: int
    success_rate: float | None
    operators: int
    robots: dict[str, int]
    recorded_from: str | None
    recorded_to: str | None
    cameras: list[dict[str, Any]]
    features: dict[str, dict[str, Any]]
    streams: list[dict[str, Any]]
    by_scene_type: dict[str, dict[str, float]]
    by_skill: dict[str, dict[str, float]]
    hours_by_scene_and_skill: dict[str, dict[str, float]]
    episode_list: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.episode_list is None:
            del data["episode_list"]
        return data


def inspect_dataset(dataset: Dataset | str | Path, *, episodes: bool = False) -> DatasetSummary:
    """Summarise a dataset from its metadata (hash-checked), never reading frames; with
    ``episodes=True`` also list every episode. Raises the errors of ``open_dataset``."""
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    rows = ds.episodes.select(list(EPISODE_LIST_COLUMNS)).to_pylist() if episodes else None
    return DatasetSummary(**summarize(ds), episode_list=rows)
