"""One QC manifest for a dataset assembled from QC runs over other datasets.

A buyer's local dataset grows batch by batch: each batch is quality-checked on its own
(the buyer re-runs the contract's profile on it) and its accepted episodes are copied in.
:func:`combine_qc` writes the local dataset's QC manifest from those per-batch results —
verdicts, findings and metrics of each episode as they were measured — without running a
rule again, so a pull costs the QC of the new batch only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import QCManifestError
from ..format import open_dataset
from ..fsutil import FileLock, atomic_write_bytes
from ..units import count, plural
from .manifest import (
    LOCK_FILE,
    EpisodeVerdict,
    QCManifest,
    ReviewRecord,
    _finish,
    _publish,
    aggregates_of,
    final_verdict,
    load_findings,
    load_metrics,
    profile_path,
)

__all__ = ["combine_qc"]


def combine_qc(
    dataset: str | Path,
    parts: Sequence[tuple[str | Path, QCManifest]],
    *,
    reviews: Mapping[str, ReviewRecord] | None = None,
) -> QCManifest:
    """Write the QC manifest of ``dataset`` from QC manifests of other datasets.

    ``parts`` are ``(dataset root, its QC manifest)`` pairs whose episodes were copied into
    ``dataset`` (the dataset's own earlier manifest may be one of them); an episode's
    verdict, findings and metrics come from the last part that has it. ``reviews`` sets an
    episode's review record (its final verdict follows :func:`final_verdict`). Every part
    must use the same profile; every episode of ``dataset`` must be covered. The profile
    file, findings and metrics sidecars are written as ``write_qc`` writes them, under the
    dataset's QC lock. Raises ``QCManifestError``.

    Example::

        combine_qc("store/dataset", [("store/dataset", old), ("incoming/3", batch3)])
    """
    root = Path(dataset)
    if not parts:
        raise QCManifestError(f"no QC results to combine for {root}", path=root)
    profile = parts[0][1].profile
    for _, m in parts:
        if m.profile.digest != profile.digest:
            raise QCManifestError(
                f"cannot combine QC made with profiles {profile.digest} and {m.profile.digest}",
                hint="Run QC again with one profile (`run_qc(dataset, profile)`).",
            )
    ds = open_dataset(root)
    order = ds.episode_ids
    wanted = set(order)
    source: dict[str, int] = {}
    verdicts: dict[str, EpisodeVerdict] = {}
    for k, (_, m) in enumerate(parts):
        for ev in m.episodes:
            if ev.episode_id in wanted:
                verdicts[ev.episode_id] = ev
                source[ev.episode_id] = k
    missing = [eid for eid in order if eid not in verdicts]
    if missing:
        raise QCManifestError(
            f"{count(len(missing), 'episode')} of {root} {plural('has', len(missing))} no QC "
            f"verdict to combine, e.g. {missing[0]}",
            hint="Run `run_qc(dataset)` on the whole dataset instead.",
            path=root,
        )
    findings, metrics = _sidecars(parts, source)
    reviews = reviews or {}
    episodes = []
    for eid in order:
        ev = verdicts[eid]
        review = reviews.get(eid, ev.review)
        episodes.append(
            ev.model_copy(
                update={"review": review, "verdict": final_verdict(ev.auto_verdict, review)}
            )
        )
    failing = _failing_rules(findings, episodes)
    aggregates = aggregates_of(episodes, failing)
    images = {m.images for _, m in parts}
    newest = max(parts, key=lambda p: p[1].created_at)[1]
    with FileLock(root / LOCK_FILE).held():
        profile_file = root / profile_path(profile.digest)
        if not profile_file.exists():
            first_root = Path(parts[0][0])
            data = (first_root / profile_path(profile.digest)).read_bytes()
            atomic_write_bytes(profile_file, data, mode=0o644)
        manifest = QCManifest(
            profile=profile,
            dataset_digest=ds.digest,
            created_at=newest.created_at,
            images=images.pop() if len(images) == 1 else "sample",
            tool=newest.tool,
            episodes=episodes,
            findings=_publish(root, "findings", findings),
            metrics=_publish(root, "metrics", metrics),
            aggregates=aggregates,
        )
        return _finish(root, manifest)


def _sidecars(
    parts: Sequence[tuple[str | Path, QCManifest]], source: Mapping[str, int]
) -> tuple[pa.Table, pa.Table]:
    """Findings and metrics rows of each episode, from the part its verdict comes from."""
    findings: list[pa.Table] = []
    metrics: list[pa.Table] = []
    for k, (part_root, m) in enumerate(parts):
        mine = pa.array([eid for eid, s in source.items() if s == k], pa.string())
        if len(mine) == 0:
            continue
        f = load_findings(part_root, m)
        findings.append(f.filter(pc.is_in(f.column("episode_id"), value_set=mine)))
        t = load_metrics(part_root, m)
        metrics.append(t.filter(pc.is_in(t.column("episode_id"), value_set=mine)))
    if not findings:  # a dataset without episodes
        root, m = parts[0]
        findings.append(load_findings(root, m).slice(0, 0))
        metrics.append(load_metrics(root, m).select(["episode_id"]).slice(0, 0))
    merged_findings = pa.concat_tables(findings)
    merged_metrics = pa.concat_tables(metrics, promote_options="permissive")
    names = ["episode_id", *sorted(c for c in merged_metrics.column_names if c != "episode_id")]
    return merged_findings, merged_metrics.select(names)


def _failing_rules(findings: pa.Table, episodes: Sequence[EpisodeVerdict]) -> dict[str, list[str]]:
    """Rules with a ``fail`` finding per FAIL episode, plus ``review.<reason>`` for rejects."""
    failed = {e.episode_id: e for e in episodes if e.verdict == "FAIL"}
    out: dict[str, set[str]] = {eid: set() for eid in failed}
    for eid, rule, sev in zip(
        findings.column("episode_id").to_pylist(),
        findings.column("rule").to_pylist(),
        findings.column("severity").to_pylist(),
        strict=True,
    ):
        if sev == "fail" and eid in out:
            out[eid].add(rule)
    for eid, ev in failed.items():
        if ev.review is not None and ev.review.verdict == "reject":
            out[eid].add(f"review.{ev.review.reason}")
    return {k: sorted(v) for k, v in out.items()}
