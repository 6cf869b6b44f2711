"""The QC manifest (``qc/manifest.json``): verdicts, reviews and aggregates of one dataset.

The manifest is what the trust layer signs, so it holds no floats (ints and decimal
strings only) and refers to its Arrow sidecars (findings, metrics) by path, size and sha256.
Files are published in order — sidecars under content-addressed names first, then the
manifest that names them (atomic rename) — so a crash leaves the previous manifest valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from .._version import __version__
from ..canonical import sha256_bytes, to_pretty_json
from ..errors import QCManifestError
from ..fsutil import FileLock, atomic_write_bytes
from ..parsing import parse_document
from .aggregates import group_stats, grouped, hours_of, top_failures
from .findings import Verdict
from .profile import Profile
from .reviewlog import LogHead, ReviewEntry, read_log_and_head

if TYPE_CHECKING:
    from ..format import Dataset

__all__ = [
    "MANIFEST_FILE",
    "QC_DIR",
    "Aggregates",
    "DatasetNote",
    "EpisodeQC",
    "EpisodeVerdict",
    "FileRef",
    "GroupStats",
    "ProfileRef",
    "QCManifest",
    "ReviewRecord",
    "aggregates_of",
    "apply_reviews",
    "compare_manifests",
    "describe_episode",
    "final_verdict",
    "load_findings",
    "load_metrics",
    "load_qc_manifest",
    "load_qc_profile",
    "preview_qc",
    "profile_path",
    "stale_reason",
    "write_qc",
]

QC_DIR = "qc"
MANIFEST_FILE = f"{QC_DIR}/manifest.json"


def profile_path(digest: str) -> str:
    """Where the profile with this digest is kept: ``qc/profile-<first 16 hex>.json`` (named
    by content, so rewriting never touches the file an older manifest relies on)."""
    return f"{QC_DIR}/profile-{digest.removeprefix('sha256:')[:16]}.json"


LOCK_FILE = f"{QC_DIR}/.lock"

DecimalStr = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$")]
Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileRef(_Model):
    """The profile QC ran with; ``digest`` identifies its exact thresholds."""

    id: str
    version: int
    digest: Digest


class ToolRef(_Model):
    name: Literal["embodex"] = "embodex"
    version: str


class FileRef(_Model):
    """A sidecar file of the QC directory, with its size and sha256 (hex)."""

    path: str = Field(pattern=r"^qc/[A-Za-z0-9][A-Za-z0-9._-]*$")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReviewRecord(_Model):
    """The current manual review of an episode (the latest entry of the review log)."""

    verdict: Literal["accept", "reject"]
    reason: str
    note: str | None = None
    reviewer: str
    at: str


class EpisodeVerdict(_Model):
    """One episode: automatic verdict, manual review, final verdict, and what it counts for."""

    episode_id: str
    auto_verdict: Verdict
    review: ReviewRecord | None
    verdict: Verdict = Field(description="Final: see final_verdict() / specs/qc.md.")
    rules: list[str] = Field(description="Rule ids with findings for this episode.")
    hours: DecimalStr
    scene_type: str | None
    skill: str | None
    operator_id: str | None
    robot_model: str | None
    success: bool | None


class GroupStats(_Model):
    """Counts and hours of a group. ``pass_rate`` = (passed + warned) / episodes;
    ``success_rate`` over the episodes with a success label (null when none has one)."""

    episodes: int
    hours: DecimalStr
    passed: int
    warned: int
    failed: int
    hours_passed: DecimalStr
    hours_warned: DecimalStr
    hours_failed: DecimalStr
    pass_rate: DecimalStr | None
    success_rate: DecimalStr | None


class TopFailure(_Model):
    rule: str = Field(description="A rule id, or review.<reason> for manual rejects.")
    episodes: int


class Aggregates(_Model):
    overall: GroupStats
    by_scene_type: dict[str, GroupStats]
    by_skill: dict[str, GroupStats]
    by_operator: dict[str, GroupStats]
    by_robot: dict[str, GroupStats]
    top_failures: list[TopFailure]


class DatasetNote(_Model):
    """A dataset-level note (specs/qc.md §2): said once, never part of a verdict."""

    rule: str
    subject: str | None = None
    message: str


class QCManifest(_Model):
    """``qc/manifest.json``. Signatures are not part of it: the trust layer signs its
    canonical JSON and stores envelopes under ``qc/signatures/`` (see specs/qc.md)."""

    kind: Literal["embodex.qc-manifest"] = "embodex.qc-manifest"
    version: Literal[1] = 1
    profile: ProfileRef
    dataset_digest: Digest
    created_at: str
    images: Literal["sample", "all", "none"]
    tool: ToolRef
    episodes: list[EpisodeVerdict]
    findings: FileRef
    metrics: FileRef
    aggregates: Aggregates
    review_log: LogHead | None = Field(
        default=None,
        description="The review log's head when this manifest was written (null: no "
        "reviews); a log shorter than this or different at this entry is refused.",
    )
    notes: list[DatasetNote] = Field(
        default_factory=list,
        description="Dataset-level notes: what the recording does not ship, and checks "
        "that could not run for a missing fact. They change no verdict.",
    )

    def episode(self, episode_id: str) -> EpisodeVerdict:
        for ep in self.episodes:
            if ep.episode_id == episode_id:
                return ep
        raise QCManifestError(
            f"episode {episode_id} is not in the QC manifest",
            hint="List the episodes with `dataset.episode_ids`.",
            episode_id=episode_id,
        )

    @property
    def failed(self) -> list[str]:
        return [e.episode_id for e in self.episodes if e.verdict == "FAIL"]

    def to_json_bytes(self) -> bytes:
        return to_pretty_json(self.model_dump(mode="json"))


def final_verdict(auto: Verdict, review: ReviewRecord | ReviewEntry | None) -> Verdict:
    """The final verdict: a manual reject makes FAIL; a manual accept makes a WARN (or PASS)
    PASS; an automatic FAIL stays FAIL whatever the review (hard limits are changed in the
    profile, where the contract sees them, not waived one episode at a time)."""
    if review is None:
        return auto
    if review.verdict == "reject":
        return "FAIL"
    return "FAIL" if auto == "FAIL" else "PASS"


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _ipc_ref(stem: str, data: bytes) -> FileRef:
    """The content-addressed sidecar ``qc/<stem>-<sha256 prefix>.arrow`` holding ``data``."""
    digest = sha256_bytes(data)
    return FileRef(path=f"{QC_DIR}/{stem}-{digest[:16]}.arrow", size=len(data), sha256=digest)


def _publish(root: Path, stem: str, table: pa.Table) -> FileRef:
    data = _ipc_bytes(table)
    ref = _ipc_ref(stem, data)
    target = root / ref.path
    if not (target.exists() and target.stat().st_size == len(data)):
        atomic_write_bytes(target, data, mode=0o644)
    return ref


def aggregates_of(
    episodes: Sequence[EpisodeVerdict], failing: Mapping[str, Sequence[str]]
) -> Aggregates:
    """The manifest's aggregates over ``episodes``; ``failing`` maps each FAIL episode to the
    rules (and ``review.<reason>``) that failed it, for ``top_failures``."""
    return Aggregates.model_validate(
        {
            "overall": group_stats(episodes),
            "by_scene_type": grouped(episodes, [e.scene_type for e in episodes]),
            "by_skill": grouped(episodes, [e.skill for e in episodes]),
            "by_operator": grouped(episodes, [e.operator_id for e in episodes]),
            "by_robot": grouped(episodes, [e.robot_model for e in episodes]),
            "top_failures": top_failures(failing),
        }
    )


def _build(
    *,
    profile: ProfileRef,
    dataset_digest: str,
    images: Literal["sample", "all", "none"],
    entries: Sequence[Mapping[str, object]],
    failing_rules: Mapping[str, Sequence[str]],
    reviews: Sequence[ReviewEntry],
    review_log: LogHead | None,
    findings: FileRef,
    metrics: FileRef,
    notes: Sequence[DatasetNote] = (),
) -> QCManifest:
    # a flag for a second look decides nothing: the latest accept or reject stands
    latest = {r.episode_id: r for r in reviews if r.verdict != "flag"}
    episodes: list[EpisodeVerdict] = []
    fails: dict[str, list[str]] = {}
    for e in entries:
        eid = str(e["episode_id"])
        r = latest.get(eid)
        record = (
            None
            if r is None
            else ReviewRecord(
                verdict="reject" if r.verdict == "reject" else "accept",
                reason=r.reason,
                note=r.note,
                reviewer=r.reviewer,
                at=r.at,
            )
        )
        auto: Verdict = e["auto_verdict"]  # type: ignore[assignment]
        ev = EpisodeVerdict.model_validate(
            {**e, "review": record, "verdict": final_verdict(auto, record)}
        )
        episodes.append(ev)
        if ev.verdict == "FAIL":
            reasons = list(failing_rules.get(eid, []))
            if record is not None and record.verdict == "reject":
                reasons.append(f"review.{record.reason}")
            fails[eid] = reasons
    aggregates = aggregates_of(episodes, fails)
    return QCManifest(
        profile=profile,
        dataset_digest=dataset_digest,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        images=images,
        tool=ToolRef(version=__version__),
        episodes=episodes,
        findings=findings,
        metrics=metrics,
        aggregates=aggregates,
        review_log=review_log,
        notes=list(notes),
    )


def _recorded_head(root: Path) -> LogHead | None:
    """The review log head the current QC manifest recorded (None without a readable one)."""
    try:
        return load_qc_manifest(root).review_log
    except QCManifestError:
        return None


def _finish(root: Path, manifest: QCManifest) -> QCManifest:
    atomic_write_bytes(root / MANIFEST_FILE, manifest.to_json_bytes(), mode=0o644)
    keep = {manifest.findings.path, manifest.metrics.path, profile_path(manifest.profile.digest)}
    for old in (root / QC_DIR).iterdir():
        named = re.fullmatch(
            r"(findings|metrics)-[0-9a-f]{16}\.arrow|profile-[0-9a-f]{16}\.json", old.name
        )
        if named and f"{QC_DIR}/{old.name}" not in keep:
            old.unlink(missing_ok=True)  # superseded; the new manifest no longer names it
    return manifest


def _manifest_of(root: Path, result: object, *, write: bool) -> QCManifest:
    """The QC manifest of ``result`` with the reviews of the log applied; with ``write`` the
    profile and the sidecars are stored first (call under the QC lock)."""
    from ..format import open_dataset
    from .runner import QCResult

    if not isinstance(result, QCResult):
        raise TypeError("write_qc needs the QCResult returned by run_qc")
    current = open_dataset(root).digest
    if current != result.dataset_digest:
        raise QCManifestError(
            f"{root} changed since QC ran (digest {current}, QC saw {result.dataset_digest})",
            hint="Run `run_qc(dataset)` again on the current data.",
            path=root,
        )
    entries = [
        {
            "episode_id": ep.episode_id,
            "auto_verdict": ep.auto_verdict,
            "rules": ep.rules,
            "hours": hours_of(ep.duration_s),
            "scene_type": ep.scene_type,
            "skill": ep.skill,
            "operator_id": ep.operator_id,
            "robot_model": ep.robot_model,
            "success": ep.success,
        }
        for ep in result.episodes
    ]
    failing = {
        ep.episode_id: sorted({f.rule for f in ep.findings if f.severity == "fail"})
        for ep in result.episodes
    }
    reviews, head = read_log_and_head(root, expect=_recorded_head(root))
    tables = {"findings": result.findings_table(), "metrics": result.metrics_table()}
    if write:
        # the exact profile, so reviewers and buyers can re-run with the same thresholds
        atomic_write_bytes(
            root / profile_path(result.profile.digest),
            to_pretty_json(result.profile.content),
            mode=0o644,
        )
        refs = {stem: _publish(root, stem, table) for stem, table in tables.items()}
    else:
        refs = {stem: _ipc_ref(stem, _ipc_bytes(table)) for stem, table in tables.items()}
    return _build(
        profile=ProfileRef(
            id=result.profile.id,
            version=result.profile.version,
            digest=result.profile.digest,
        ),
        dataset_digest=result.dataset_digest,
        images=result.images,
        entries=entries,
        failing_rules=failing,
        reviews=reviews,
        review_log=head,
        findings=refs["findings"],
        metrics=refs["metrics"],
        notes=[DatasetNote.model_validate(n.as_dict()) for n in result.notes],
    )


def write_qc(dataset: str | Path, result: object) -> QCManifest:
    """Store a ``QCResult`` as the dataset's QC manifest and sidecars, applying the reviews
    already in ``reviews/log.jsonl``. Returns the manifest.

    Raises ``QCManifestError`` when the dataset changed since QC ran (digest differs), and
    ``ReviewError`` when the review log was tampered with.

    Example::

        manifest = write_qc("datasets/week01", run_qc("datasets/week01"))
        print(manifest.aggregates.overall.pass_rate)
    """
    root = Path(dataset)
    with FileLock(root / LOCK_FILE).held():
        return _finish(root, _manifest_of(root, result, write=True))


def preview_qc(dataset: str | Path, result: object) -> QCManifest:
    """The manifest :func:`write_qc` would store, reviews applied, without writing anything
    (``embodex qc run --no-write``). Raises as :func:`write_qc` does."""
    return _manifest_of(Path(dataset), result, write=False)


def apply_reviews(dataset: str | Path) -> QCManifest:
    """Rewrite the QC manifest with the current review log (no rule runs again)."""
    root = Path(dataset)
    with FileLock(root / LOCK_FILE).held():
        old = load_qc_manifest(root)
        reviews, head = read_log_and_head(root, expect=old.review_log)
        findings = load_findings(root, old)
        failing: dict[str, set[str]] = {}
        for eid, rule, sev in zip(
            findings.column("episode_id").to_pylist(),
            findings.column("rule").to_pylist(),
            findings.column("severity").to_pylist(),
            strict=True,
        ):
            if sev == "fail":
                failing.setdefault(eid, set()).add(rule)
        entries = [e.model_dump(mode="json", exclude={"review", "verdict"}) for e in old.episodes]
        manifest = _build(
            profile=old.profile,
            dataset_digest=old.dataset_digest,
            images=old.images,
            entries=entries,
            failing_rules={k: sorted(v) for k, v in failing.items()},
            reviews=reviews,
            review_log=head,
            findings=old.findings,
            metrics=old.metrics,
            notes=old.notes,
        )
        return _finish(root, manifest)


def load_qc_manifest(dataset: str | Path) -> QCManifest:
    """The dataset's QC manifest. Raises ``QCManifestError`` when it is missing or invalid."""
    path = Path(dataset) / MANIFEST_FILE
    if not path.exists():
        raise QCManifestError(f"{dataset} has no QC manifest ({MANIFEST_FILE})")
    return parse_document(
        path, QCManifest, QCManifestError, name=f"QC manifest {path}", follow_symlinks=False
    )


def load_qc_profile(dataset: str | Path, manifest: QCManifest | None = None) -> Profile:
    """The profile QC ran with (``qc/profile-*.json``), checked against the manifest's digest."""
    manifest = manifest or load_qc_manifest(dataset)
    path = Path(dataset) / profile_path(manifest.profile.digest)
    try:
        profile = parse_document(path, Profile, QCManifestError, name=f"QC profile {path}")
    except FileNotFoundError:
        raise QCManifestError(f"QC profile {path} is missing", path=path) from None
    if profile.digest != manifest.profile.digest:
        raise QCManifestError(
            f"{path} does not match the profile digest in the QC manifest", path=path
        )
    return profile


def _load_sidecar(dataset: str | Path, ref: FileRef) -> pa.Table:
    path = Path(dataset) / ref.path
    if not path.exists():
        raise QCManifestError(f"{path} named by the QC manifest is missing", path=path)
    data = path.read_bytes()
    if len(data) != ref.size or sha256_bytes(data) != ref.sha256:
        raise QCManifestError(
            f"{path} does not match its size or sha256 in the QC manifest", path=path
        )
    try:
        return pa.ipc.open_file(pa.py_buffer(data)).read_all()
    except pa.ArrowInvalid as exc:
        raise QCManifestError(f"{path} is not a readable Arrow file: {exc}", path=path) from None


def load_findings(dataset: str | Path, manifest: QCManifest | None = None) -> pa.Table:
    """The findings table named by the manifest, checked against its sha256 first."""
    manifest = manifest or load_qc_manifest(dataset)
    return _load_sidecar(dataset, manifest.findings)


def load_metrics(dataset: str | Path, manifest: QCManifest | None = None) -> pa.Table:
    """The per-episode quality metrics table, checked against its sha256 first."""
    manifest = manifest or load_qc_manifest(dataset)
    return _load_sidecar(dataset, manifest.metrics)


def compare_manifests(centre: QCManifest, buyer: QCManifest) -> list[str]:
    """Where the buyer's re-run of QC disagrees with the centre's manifest.

    Compares the automatic verdicts episode by episode (manual reviews are the centre's own
    decisions), after noting a different dataset or profile. An empty list means agreement.
    """
    out: list[str] = []
    if centre.dataset_digest != buyer.dataset_digest:
        out.append(f"dataset differs: centre {centre.dataset_digest}, buyer {buyer.dataset_digest}")
    if centre.profile.digest != buyer.profile.digest:
        out.append(
            f"profile differs: centre {centre.profile.id} v{centre.profile.version} "
            f"({centre.profile.digest}), buyer {buyer.profile.id} v{buyer.profile.version} "
            f"({buyer.profile.digest})"
        )
    if centre.images != buyer.images:
        out.append(f"image checks differ: centre {centre.images}, buyer {buyer.images}")
    theirs = {e.episode_id: e for e in buyer.episodes}
    ours = {e.episode_id: e for e in centre.episodes}
    for eid, c in ours.items():
        b = theirs.get(eid)
        if b is None:
            out.append(f"episode {eid}: in the centre's manifest only")
        elif c.auto_verdict != b.auto_verdict:
            extra = sorted(set(b.rules) - set(c.rules))
            missing = sorted(set(c.rules) - set(b.rules))
            detail = []
            if extra:
                detail.append(f"buyer also found {', '.join(extra)}")
            if missing:
                detail.append(f"buyer did not find {', '.join(missing)}")
            more = f" ({'; '.join(detail)})" if detail else ""
            out.append(f"episode {eid}: centre {c.auto_verdict}, buyer {b.auto_verdict}{more}")
    for eid in theirs:
        if eid not in ours:
            out.append(f"episode {eid}: in the buyer's manifest only")
    return out


def stale_reason(dataset: Dataset | str | Path, manifest: QCManifest | None = None) -> str | None:
    """Why the QC manifest no longer describes the dataset (it changed since QC ran, e.g.
    episodes were appended), or None when it is current. Pass an open ``Dataset`` to spare
    opening it again. Raises ``QCManifestError`` when there is no QC manifest."""
    from ..format import Dataset, open_dataset

    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    manifest = manifest or load_qc_manifest(ds.root)
    if ds.digest == manifest.dataset_digest:
        return None
    known = {e.episode_id for e in manifest.episodes}
    unchecked = sum(1 for eid in ds.episode_ids if eid not in known)
    more = f"; {unchecked} of its {len(ds)} episodes were never checked" if unchecked else ""
    return (
        f"the QC manifest of {ds.root} is stale: the dataset changed since QC ran "
        f"(now {ds.digest[:19]}…, QC saw {manifest.dataset_digest[:19]}…){more}"
    )


class EpisodeQC(EpisodeVerdict):
    """One episode's QC outcome as shown by ``embodex qc show``: its verdicts and review, the
    findings and quality metrics, the profile, and ``stale`` (:func:`stale_reason`: None when
    the manifest describes the current data)."""

    findings: list[dict[str, Any]]
    metrics: dict[str, float]
    profile: ProfileRef
    dataset_digest: str
    stale: str | None

    @property
    def seconds(self) -> float:
        """The episode's recorded length in seconds."""
        return float(self.hours) * 3600


def describe_episode(dataset: str | Path, episode_id: str) -> EpisodeQC:
    """One episode's QC outcome: verdicts, review, findings, metrics and staleness.

    Raises ``QCManifestError`` when QC has not run or the episode is not in its manifest."""
    manifest = load_qc_manifest(dataset)
    ev = manifest.episode(episode_id)
    findings = load_findings(dataset, manifest)
    rows = [f for f in findings.to_pylist() if f["episode_id"] == episode_id]
    metrics = load_metrics(dataset, manifest)
    mrow: dict[str, Any] = next(
        (m for m in metrics.to_pylist() if m["episode_id"] == episode_id), {}
    )
    mrow.pop("episode_id", None)
    return EpisodeQC(
        **dict(ev),
        findings=rows,
        metrics={k: v for k, v in mrow.items() if v is not None and v == v},
        profile=manifest.profile,
        dataset_digest=manifest.dataset_digest,
        stale=stale_reason(dataset, manifest),
    )
