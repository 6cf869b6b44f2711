"""Integrity: the files read, the schema matches, required streams and calibration exist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from ...format.models import DatasetMeta
from ...format.schema import frames_schema
from ...units import count, plural
from ..chunk import Chunk
from .base import Flag, RuleParams, RuleSpec
from .context import Plan

__all__ = [
    "SPECS",
    "check_chunk",
    "check_dataset",
    "check_shard_schema",
    "report_unreadable",
]


class Readable(Flag):
    verify_hashes: bool


class Streams(Flag):
    required_roles: list[str]
    min_color_cameras: int


class Calibration(RuleParams):
    """``severity: note`` (default) reports missing calibration once, as a dataset-level
    note; ``warn``/``fail`` put it on every episode (for contracts that require it)."""

    severity: Literal["note", "warn", "fail"]
    require_extrinsics: bool


SPECS = [
    RuleSpec(
        "integrity.readable",
        Readable,
        "",
        "Every frame shard opens, matches its manifest size (and sha256 when verify_hashes) "
        "and parses as Arrow.",
        "dataset",
    ),
    RuleSpec(
        "integrity.schema",
        Flag,
        "",
        "Shard columns and types match the dataset schema; frame and episode indices agree "
        "with the episode table.",
        "frames",
    ),
    RuleSpec(
        "integrity.streams",
        Streams,
        "count",
        "Features of the required roles (state, action) are declared with one value per "
        "joint, enough colour cameras exist, and every camera has an image in every frame.",
        "frames",
    ),
    RuleSpec(
        "integrity.calibration",
        Calibration,
        "",
        "Every camera has intrinsics (and extrinsics when required); by default a dataset-"
        "level note, not a per-episode finding.",
        "dataset",
    ),
]


def _each(
    plan: Plan, rows: Sequence[dict[str, Any]], rule: str, sev: Any, msg: str, **kw: Any
) -> None:
    for row in rows:
        plan.out.add(rule, row["episode_id"], sev, msg, **kw)


def report_unreadable(plan: Plan, rows: Sequence[dict[str, Any]], shard: str, why: str) -> None:
    """Every episode of an unreadable shard FAILs (kept and labelled, never dropped)."""
    p = plan.get("integrity.readable", Readable)
    sev = p.severity if p is not None else "fail"  # unreadable data can never pass
    _each(plan, rows, "integrity.readable", sev, f"frame shard {shard} is unreadable: {why}")


def check_dataset(plan: Plan, meta: DatasetMeta, rows: Sequence[dict[str, Any]]) -> None:
    """Dataset-wide settings; a problem here is reported on every episode it affects."""
    streams = plan.get("integrity.streams", Streams)
    if streams is not None:
        dof = meta.embodiments[0].dof
        for role in streams.required_roles:
            feats = [(n, f) for n, f in meta.feature_items() if f.role == role]
            if not feats:
                _each(
                    plan,
                    rows,
                    "integrity.streams",
                    streams.severity,
                    f"no feature with role {role!r} is declared",
                    subject=role,
                )
            elif all(f.shape[0] != dof for _, f in feats):
                _each(
                    plan,
                    rows,
                    "integrity.streams",
                    streams.severity,
                    f"the {role} feature {feats[0][0]!r} has {feats[0][1].shape[0]} values, "
                    f"the robot has {dof} joints",
                    subject=feats[0][0],
                )
        colour = sum(1 for c in meta.cameras if c.kind == "color")
        if colour < streams.min_color_cameras:
            _each(
                plan,
                rows,
                "integrity.streams",
                streams.severity,
                f"{count(colour, 'colour camera')}, the profile requires "
                f"{streams.min_color_cameras}",
                measured=colour,
                threshold=streams.min_color_cameras,
            )
    calib = plan.get("integrity.calibration", Calibration)
    if calib is not None:
        uncalibrated: list[str] = []
        for cam in meta.cameras:
            missing = []
            if cam.intrinsics is None:
                missing.append("intrinsics")
            if calib.require_extrinsics and cam.extrinsics is None:
                missing.append("extrinsics")
            if missing and calib.severity == "note":
                uncalibrated.append(f"{cam.name} ({' and '.join(missing)})")
            elif missing:
                _each(
                    plan,
                    rows,
                    "integrity.calibration",
                    calib.severity,
                    f"camera {cam.name} has no {' or '.join(missing)}",
                    subject=cam.name,
                )
        if uncalibrated:
            plan.note(
                "integrity.calibration",
                f"the dataset ships no calibration for {plural('camera', len(uncalibrated))} "
                f"{', '.join(uncalibrated)}: "
                "3D uses of their images need it from the recorder (set "
                "integrity.calibration.severity to warn or fail to flag every episode)",
            )


def check_shard_schema(
    plan: Plan, meta: DatasetMeta, schema: pa.Schema, shard: str, rows: Sequence[dict[str, Any]]
) -> bool:
    """Compare a shard's schema with the dataset's; False when its frames cannot be used."""
    p = plan.get("integrity.schema", Flag)
    expected = frames_schema(meta)
    problems = []
    for field in expected:
        idx = schema.get_field_index(field.name)
        if idx < 0:
            problems.append(f"column {field.name} is missing")
        elif not schema.field(idx).type.equals(field.type):
            problems.append(f"column {field.name} is {schema.field(idx).type}, not {field.type}")
    extra = sorted(set(schema.names) - set(expected.names))
    if extra:
        problems.append(f"unexpected {plural('column', len(extra))} {', '.join(extra)}")
    if problems and p is not None:
        _each(
            plan,
            rows,
            "integrity.schema",
            p.severity,
            f"frame shard {shard} does not match the dataset schema: {'; '.join(problems)}",
        )
    # the frames are still usable when only extra columns are present
    return not any(not pr.startswith("unexpected") for pr in problems)


def check_chunk(plan: Plan, c: Chunk) -> None:
    schema = plan.get("integrity.schema", Flag)
    if schema is not None:
        n = len(c.ts)
        owner = np.repeat(np.arange(len(c)), c.counts)
        expected_frame = np.arange(n) - c.starts[owner]
        expected_episode = np.array([r["episode_index"] for r in c.rows], dtype=np.int64)[owner]
        bad = (c.frame_index != expected_frame) | (c.episode_index != expected_episode)
        if bad.any():
            for e in np.unique(owner[bad]):
                rows_bad = np.flatnonzero(bad[c.starts[e] : c.stops[e]])
                plan.out.add(
                    "integrity.schema",
                    c.rows[e]["episode_id"],
                    schema.severity,
                    f"{count(len(rows_bad), 'frame')} carry a frame_index or episode_index "
                    "that disagrees with the episode table",
                    measured=len(rows_bad),
                    frames=(int(rows_bad[0]), int(rows_bad[-1]) + 1),
                )
    streams = plan.get("integrity.streams", Streams)
    if streams is not None:
        for cam in c.meta.cameras:
            if cam.column not in c.table.column_names:
                continue
            col = c.table.column(cam.column)
            if col.null_count == 0:
                continue
            missing = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            for e in range(len(c)):
                seg = missing[c.starts[e] : c.stops[e]]
                k = int(seg.sum())
                if k:
                    where = np.flatnonzero(seg)
                    plan.out.add(
                        "integrity.streams",
                        c.ids[e],
                        streams.severity,
                        f"camera {cam.name} has no image in {k} of {seg.size} frames",
                        measured=k,
                        threshold=0,
                        frames=(int(where[0]), int(where[-1]) + 1),
                        subject=cam.name,
                    )
