"""``run_qc``: every rule of a profile over a dataset, one pass over the frames."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from ..canonical import sha256_file
from ..errors import CorruptDatasetError, QCError
from ..format import Dataset, open_dataset
from ..format.models import DatasetMeta, Embodiment
from ..format.progress import ProgressCallback, ProgressTracker
from ..units import plural
from .chunk import CHUNK_FRAMES, load_chunk, plan_chunks
from .findings import Finding, Note, Verdict, auto_verdict, findings_table
from .profile import Profile, default_profile
from .robot import apply_limits
from .rules import (
    CHUNK_CHECKS,
    RULES,
    Findings,
    Graded,
    ImageSampling,
    Plan,
    batch,
    episode,
    integrity,
    numeric,
)

__all__ = ["EpisodeResult", "ImagesMode", "QCResult", "run_qc"]

ImagesMode = Literal["sample", "all", "none"]

#: Episode-table columns QC reads (never the per-episode statistics).
_ROW_COLUMNS = (
    "episode_index",
    "episode_id",
    "shard",
    "row_start",
    "frame_count",
    "duration_s",
    "scene_id",
    "scene_type",
    "site",
    "lighting",
    "robot_model",
    "robot_serial",
    "operator_id",
    "operator_level",
    "skill",
    "instruction_en",
    "instruction_zh",
    "segments",
    "success",
    "failure_cause",
    "timestamps_synthesized",
    "extra",
)


@dataclass
class EpisodeResult:
    """One episode's QC outcome: its findings, its automatic verdict and quality metrics."""

    episode_id: str
    episode_index: int
    frame_count: int
    duration_s: float
    scene_type: str | None
    skill: str | None
    operator_id: str | None
    robot_model: str | None
    success: bool | None
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def auto_verdict(self) -> Verdict:
        return auto_verdict(self.findings)

    @property
    def rules(self) -> list[str]:
        """Ids of the rules with findings, in rule order."""
        hit = {f.rule for f in self.findings}
        return [r for r in RULES if r in hit]


@dataclass
class QCResult:
    """What ``run_qc`` found. ``write_qc`` stores it as the dataset's QC manifest."""

    dataset_path: str
    dataset_name: str
    dataset_digest: str
    profile: Profile
    images: ImagesMode
    episodes: list[EpisodeResult]
    created_at: str
    seconds: float
    frames: int
    notes: list[Note] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for ep in self.episodes for f in ep.findings]

    def counts(self) -> dict[str, int]:
        out = {"PASS": 0, "WARN": 0, "FAIL": 0}
        for ep in self.episodes:
            out[ep.auto_verdict] += 1
        return out

    @property
    def failed(self) -> list[str]:
        return [ep.episode_id for ep in self.episodes if ep.auto_verdict == "FAIL"]

    def episode(self, episode_id: str) -> EpisodeResult:
        for ep in self.episodes:
            if ep.episode_id == episode_id:
                return ep
        raise KeyError(episode_id)

    def findings_table(self) -> pa.Table:
        return findings_table(self.findings)

    def metrics_table(self) -> pa.Table:
        names = sorted({k for ep in self.episodes for k in ep.metrics})
        cols: dict[str, Any] = {"episode_id": pa.array([e.episode_id for e in self.episodes])}
        for name in names:
            cols[name] = pa.array(
                [ep.metrics.get(name, float("nan")) for ep in self.episodes], pa.float64()
            )
        return pa.table(cols)


def _role_feature(meta: DatasetMeta, role: str) -> str | None:
    dof = meta.embodiments[0].dof
    for name, f in meta.feature_items():
        if f.role == role and f.shape[0] == dof:
            return name
    return None


def run_qc(
    dataset: Dataset | str | Path,
    profile: Profile | None = None,
    *,
    images: ImagesMode = "sample",
    on_episode: Callable[[str], None] | None = None,
    known_episode_ids: Iterable[str] | None = None,
    ray: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> QCResult:
    """Run every enabled rule of ``profile`` (default: ``humanoid-30fps``) over ``dataset``.

    ``images``: ``"sample"`` checks ``profile.images.sample_frames`` frames per camera and
    episode plus a grid that cannot miss an event of ``images.min_event_s``, ``"all"`` every
    frame, ``"none"`` skips the image rules. ``on_episode`` is
    called with each episode id once its frames are checked (progress bars);
    ``on_progress`` with a :class:`~embodex.format.progress.Progress` (done/total, rate,
    ETA, the Ray worker that checked it).
    ``ray`` (``"auto"`` or a cluster address): load each chunk and run its frame and image
    rules in a Ray task (the dataset folder must be readable from the workers); findings and
    metrics come back in chunk order, so the result equals a local run's but for timings.
    ``known_episode_ids``: ids delivered before, for the unique-id rule. Episodes that fail
    are reported, never dropped. Dataset-level facts (no calibration shipped, limits not
    declared, a dimension constant over the whole dataset) are ``result.notes``, said once
    and part of no verdict. The profile's ``robot`` section overrides the dataset's joint
    limits and camera mounts. Raises ``QCError`` for a bad ``images`` value and the
    dataset errors of ``open_dataset``.

    Example::

        result = run_qc("datasets/week01")
        print(result.counts())            # {'PASS': 41, 'WARN': 2, 'FAIL': 1}
        manifest = write_qc("datasets/week01", result)
    """
    if images not in ("sample", "all", "none"):
        raise QCError(f"images must be 'sample', 'all' or 'none', not {images!r}")
    t0 = time.perf_counter()
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    profile = profile or default_profile()
    meta = ds.meta
    cols = [c for c in _ROW_COLUMNS if c in ds.episodes.column_names]
    cols += [c.video_column for c in meta.cameras if c.is_video]  # where their frames are
    for stream in meta.streams:  # where each episode's samples at their own rate are
        cols += [stream.shard_column, stream.start_column, stream.count_column]
    rows: list[dict[str, Any]] = ds.episodes.select(cols).to_pylist()
    sink = Findings({rid: spec.unit for rid, spec in RULES.items()})
    sampling = (
        None
        if images == "none"
        else ImageSampling(
            profile.images.sample_frames, images == "all", profile.images.min_event_s
        )
    )
    plan = Plan(
        {r: profile.params(r) for r in RULES}, sink, profile.nominal_fps, profile.robot, sampling
    )
    metrics: dict[str, dict[str, float]] = {r["episode_id"]: {} for r in rows}
    embodiments = _embodiments(plan, meta)

    integrity.check_dataset(plan, meta, rows)
    episode.check_rows(plan, rows, known_episode_ids)

    state_name = _role_feature(meta, "state")
    action_name = _role_feature(meta, "action")
    embodiment_of = {e.model: i for i, e in enumerate(meta.embodiments)}
    readable = plan.require("integrity.readable", integrity.Readable)
    pose_units = plan.require("batch.final_pose_outlier", batch.PoseOutlier).units
    inputs = batch.BatchInputs()
    constant = numeric.ConstantDims()
    sizes = {f.path: f for f in ds.manifest.files}
    bad_shards: dict[str, str | None] = {}
    chunks = list(plan_chunks(rows, embodiment_of))
    progress = ProgressTracker(len(rows), on_progress)
    remote: Iterator[_Checked] | None = None
    if ray is not None:
        # shard integrity is decided here first (cheap next to the rules), so the good
        # chunks can be sent to the cluster in order and their results taken in order
        for shard_name, _emb, _rows in chunks:
            if shard_name not in bad_shards:
                bad_shards[shard_name] = _shard_problem(
                    ds, plan, meta, shard_name, rows, sizes, readable.verify_hashes
                )
        from ..format.cluster import cluster_cpus, ordered_map

        # Units small enough that every CPU gets several (a local run's chunk can hold a
        # whole small dataset); the rules are per episode, so the findings do not change.
        total_frames = sum(int(r["frame_count"]) for r in rows)
        per_unit = max(1, -(-total_frames // (4 * cluster_cpus(ray))))
        chunks = list(plan_chunks(rows, embodiment_of, min(CHUNK_FRAMES, per_unit)))
        good = [c for c in chunks if bad_shards[c[0]] is None]
        ctx = _ChunkContext(  # an absolute root: workers have another working directory
            ds.root.absolute(), plan, embodiments, state_name, action_name,
            1.0 / profile.nominal_fps, pose_units, ds.digest,
        )  # fmt: skip
        remote = ordered_map(ray, _check_chunk, good, ctx, name="qc")
    for shard_name, emb, chunk_rows in chunks:
        if remote is not None and bad_shards[shard_name] is None:
            checked = next(remote)
            sink.items.extend(checked.findings)
            for n in checked.notes:
                sink.note(n.rule, n.message, n.subject)
            inputs.merge(checked.batch)
            constant.merge(checked.constant)
            for name, values in checked.metrics.items():
                for e, eid in enumerate(checked.ids):
                    metrics[eid][name] = float(values[e])
            _tick(on_episode, chunk_rows, progress, checked.where)
            continue
        if shard_name not in bad_shards:
            bad_shards[shard_name] = _open_shard(ds, shard_name, sizes, readable.verify_hashes)
            if bad_shards[shard_name] is None:
                table = ds.shard_table(shard_name)
                shard_rows = [r for r in rows if r["shard"] == shard_name]
                if not integrity.check_shard_schema(
                    plan, meta, table.schema, shard_name, shard_rows
                ):
                    bad_shards[shard_name] = "schema"
        why = bad_shards[shard_name]
        if why is not None:
            if why != "schema":
                integrity.report_unreadable(plan, chunk_rows, shard_name, why)
            _tick(on_episode, chunk_rows, progress)
            continue
        chunk = load_chunk(
            meta,
            embodiments[emb],
            ds.shard_table(shard_name),
            chunk_rows,
            state_name,
            action_name,
            1.0 / profile.nominal_fps,
            root=ds.root,
            shard_table=ds.shard_table,
        )
        with np.errstate(all="ignore"):
            for check in CHUNK_CHECKS:
                check(plan, chunk)
        inputs.add_chunk(chunk, pose_units)
        constant.add(chunk)
        for name, values in chunk.metrics.items():
            for e, eid in enumerate(chunk.ids):
                metrics[eid][name] = float(values[e])
        _tick(on_episode, chunk_rows, progress)
    batch.check_batch(plan, inputs, rows)
    constant.note(plan, list(meta.embodiments[0].joint_names))

    by_id: dict[str, list[Finding]] = {r["episode_id"]: [] for r in rows}
    order = {rid: k for k, rid in enumerate(RULES)}
    for f in sorted(
        sink.items, key=lambda f: (order[f.rule], -1 if f.frame_start is None else f.frame_start)
    ):
        by_id[f.episode_id].append(f)
    results = [
        EpisodeResult(
            episode_id=r["episode_id"],
            episode_index=int(r["episode_index"]),
            frame_count=int(r["frame_count"]),
            duration_s=float(r["duration_s"]),
            scene_type=r.get("scene_type"),
            skill=r.get("skill"),
            operator_id=r.get("operator_id"),
            robot_model=r.get("robot_model"),
            success=r.get("success"),
            findings=by_id[r["episode_id"]],
            metrics=metrics[r["episode_id"]],
        )
        for r in rows
    ]
    return QCResult(
        dataset_path=str(ds.root),
        dataset_name=meta.name,
        dataset_digest=ds.digest,
        profile=profile,
        images=images,
        episodes=results,
        created_at=created,
        seconds=time.perf_counter() - t0,
        frames=int(sum(int(r["frame_count"]) for r in rows)),
        notes=list(sink.notes),
    )


def _embodiments(plan: Plan, meta: DatasetMeta) -> list[Embodiment]:
    """The dataset's embodiments with the profile's ``robot`` limits applied; notes for
    limits nobody declared (the rules that need them then check nothing, and say so)."""
    out = []
    for emb in meta.embodiments:
        eff, unknown = apply_limits(emb, plan.robot)
        if unknown:
            plan.note(
                "numeric.limits",
                f"the profile's robot section names {plural('joint', len(unknown))} {emb.model} "
                "does not have: "
                f"{', '.join(unknown)} (ignored)",
            )
        rad = [n for n, u in zip(eff.joint_names, eff.units, strict=False) if u == "rad"]
        lower = eff.position_lower or []
        missing = [
            n for j, n in enumerate(eff.joint_names) if j >= len(lower) or lower[j] != lower[j]
        ]
        if missing and plan.get("numeric.limits", numeric.Limits) is not None:
            shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
            what = (
                "not declared"
                if len(missing) == eff.dof
                else f"not declared for {len(missing)} of {eff.dof} joints ({shown})"
            )
            plan.note(
                "numeric.limits",
                f"{emb.model}: joint limits {what}; numeric.limits and numeric.near_limit "
                "skip those joints. Declare them in the QC profile (robot.limits: "
                "{joint: [lower, upper]}) or the packaging sidecar.",
            )
        vel = eff.velocity_limit or []
        vmissing = [n for j, n in enumerate(eff.joint_names) if j >= len(vel) or vel[j] != vel[j]]
        if vmissing and rad and plan.get("numeric.velocity", Graded) is not None:
            plan.note(
                "numeric.velocity",
                f"{emb.model}: velocity limits not declared for {len(vmissing)} of {eff.dof} "
                "joints; numeric.velocity skips them. Declare them in the QC profile "
                "(robot.velocity_limits: {joint: unit/s}).",
            )
        out.append(eff)
    return out


def _tick(
    on_episode: Callable[[str], None] | None,
    rows: list[dict[str, Any]],
    progress: ProgressTracker,
    where: str = "",
) -> None:
    for r in rows:
        if on_episode is not None:
            on_episode(r["episode_id"])
        progress.tick(r["episode_id"], where=where)


def _open_shard(ds: Dataset, name: str, files: dict[str, Any], verify: bool) -> str | None:
    """None when the shard opens (and matches its hash when asked), else why not."""
    try:
        ds.shard_table(name)
    except CorruptDatasetError as exc:
        return exc.message
    if verify:
        entry = files.get(name)
        if entry is None or sha256_file(ds.root / name) != entry.sha256:
            return "its sha256 does not match the manifest"
    return None


@dataclass(frozen=True)
class _ChunkContext:
    """What a Ray task needs to check one chunk (shipped once through the object store)."""

    root: Path
    plan: Plan
    embodiments: list[Embodiment]
    state_name: str | None
    action_name: str | None
    period_s: float
    pose_units: list[str]
    digest: str


@dataclass
class _Checked:
    """A chunk checked on a worker: only what the driver merges (findings, notes, the
    per-episode metrics and the few values batch rules compare), never the frames."""

    ids: list[str]
    findings: list[Finding]
    notes: list[Note]
    metrics: dict[str, np.ndarray]
    batch: batch.BatchInputs
    constant: numeric.ConstantDims
    where: str


#: The dataset a Ray worker process opened last: its tasks of one job reuse it instead of
#: reading and hash-checking the metadata again per chunk.
_OPENED: dict[tuple[Path, str], Dataset] = {}


def _worker_dataset(root: Path, digest: str) -> Dataset:
    ds = _OPENED.get((root, digest))
    if ds is None:
        ds = open_dataset(root)
        if ds.digest != digest:
            raise CorruptDatasetError(
                f"{root} changed while QC ran (digest {ds.digest}, the driver saw {digest})",
                hint="Run QC again once nothing writes to the dataset.",
            )
        _OPENED.clear()  # one dataset at a time: a worker serves many jobs
        _OPENED[(root, digest)] = ds
    return ds


def _check_chunk(unit: tuple[str, int, list[dict[str, Any]]], ctx: _ChunkContext) -> _Checked:
    """Load one chunk and run the frame and image rules on it (a Ray task)."""
    from ..format.cluster import worker_address

    shard_name, emb, chunk_rows = unit
    ds = _worker_dataset(ctx.root, ctx.digest)
    plan = replace(ctx.plan, out=Findings(dict(ctx.plan.out.units)))
    chunk = load_chunk(
        ds.meta,
        ctx.embodiments[emb],
        ds.shard_table(shard_name),
        chunk_rows,
        ctx.state_name,
        ctx.action_name,
        ctx.period_s,
        root=ds.root,
        shard_table=ds.shard_table,
    )
    with np.errstate(all="ignore"):
        for check in CHUNK_CHECKS:
            check(plan, chunk)
    part = batch.BatchInputs()
    part.add_chunk(chunk, ctx.pose_units)
    constant = numeric.ConstantDims()
    constant.add(chunk)
    return _Checked(
        chunk.ids, plan.out.items, plan.out.notes, chunk.metrics, part, constant, worker_address()
    )


def _shard_problem(
    ds: Dataset,
    plan: Plan,
    meta: DatasetMeta,
    shard_name: str,
    rows: list[dict[str, Any]],
    sizes: dict[str, Any],
    verify: bool,
) -> str | None:
    """Why a shard's chunks cannot be checked (as the local loop decides it), or None."""
    why = _open_shard(ds, shard_name, sizes, verify)
    if why is None:
        table = ds.shard_table(shard_name)
        shard_rows = [r for r in rows if r["shard"] == shard_name]
        if not integrity.check_shard_schema(plan, meta, table.schema, shard_name, shard_rows):
            return "schema"
    return why
