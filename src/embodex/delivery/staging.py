"""Staging a batch on the centre's disk: its dataset, QC, signed QC manifest and file list.

A staged batch is a folder ``<stage>/`` holding ``dataset/`` (the chosen episodes, copied
without re-encoding, with the contract's QC written into ``dataset/qc/``) and ``qc.json``
(the QC manifest signed by the centre). :func:`batch_files` lists what goes on the channel
under ``batches/<n>/``; :func:`build_manifest` signs the batch manifest naming all of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ..canonical import digest_json, sha256_bytes, sha256_file
from ..contract import Contract
from ..contract.checking import BatchSummary, Violation, check_batch
from ..errors import DeliveryError, VerificationError
from ..format import Dataset, copy_episodes, open_dataset
from ..format.layout import MANIFEST_FILE
from ..format.verify import check_files
from ..qc import Profile, QCManifest, load_qc_manifest, run_qc, write_qc
from ..qc.aggregates import hours_of
from ..qc.manifest import profile_path
from ..trust import Signer, sign_model, sign_qc_manifest
from .documents import BatchEpisode, BatchFile, BatchManifest, episode_summaries

__all__ = [
    "StagedBatch",
    "batch_episodes",
    "batch_files",
    "build_manifest",
    "fps_of",
    "load_staged",
    "preview_violations",
    "stage_batch",
]

#: Shard size of a batch's dataset: several shards per batch download in parallel.
SHARD_BYTES = 64 * 1024 * 1024

_EPISODE_COLUMNS = (
    "episode_id",
    "skill",
    "scene_type",
    "scene_id",
    "robot_model",
    "robot_serial",
    "operator_id",
    "success",
    "duration_s",
    "frame_count",
)


def batch_episodes(ds: Dataset, episode_ids: Iterable[str] | None = None) -> list[BatchEpisode]:
    """The batch-manifest entries of ``episode_ids`` (all by default), from the episode table
    alone (no frame is read). Hours are ``duration_s / 3600`` to 6 decimals, as in QC."""
    wanted = None if episode_ids is None else set(episode_ids)
    cameras = [c.name for c in ds.meta.cameras]
    rows = ds.episodes.select(list(_EPISODE_COLUMNS)).to_pylist()
    return [
        BatchEpisode(
            episode_id=r["episode_id"],
            skill=r["skill"],
            scene_type=r["scene_type"],
            scene_id=r["scene_id"],
            robot_model=r["robot_model"],
            robot_serial=r["robot_serial"],
            operator_id=r["operator_id"],
            success=r["success"],
            hours=Decimal(hours_of(r["duration_s"])),
            frames=int(r["frame_count"]),
            cameras=cameras,
        )
        for r in rows
        if wanted is None or r["episode_id"] in wanted
    ]


def fps_of(ds: Dataset) -> Decimal:
    """The dataset's nominal fps as the exact decimal batch manifests carry."""
    return Decimal(repr(float(ds.meta.fps)))


@dataclass(frozen=True)
class StagedBatch:
    """A batch ready to upload (see the module docstring)."""

    root: Path
    dataset: Dataset
    qc: QCManifest
    qc_envelope: bytes

    @property
    def qc_digest(self) -> str:
        return digest_json(self.qc.model_dump(mode="json"))


def stage_batch(
    source: Dataset,
    episode_ids: Sequence[str],
    root: Path,
    *,
    profile: Profile,
    signer: Signer,
    known_episode_ids: Iterable[str] = (),
    on_episode: Callable[[str], None] | None = None,
) -> StagedBatch:
    """Copy ``episode_ids`` of ``source`` into ``root/dataset``, run QC with ``profile``
    (``known_episode_ids``: ids delivered before, for the unique-id rule), and sign the
    QC manifest with the centre's key into ``root/qc.json``. ``root`` is rebuilt from
    scratch. Raises the format, QC and signing errors.
    """
    # the episodes' frames are copied as stored: a damaged source shard would be signed and
    # shipped as the batch's truth, so every shard they come from is checked first
    check_files(source, source.select(list(episode_ids)).episodes.column("shard").to_pylist())
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    dataset = copy_episodes(
        source, root / "dataset", episode_ids, on_episode=on_episode, shard_bytes=SHARD_BYTES
    )
    result = run_qc(dataset, profile, known_episode_ids=known_episode_ids)
    qc = write_qc(dataset.root, result)
    envelope = sign_qc_manifest(qc.model_dump(mode="json"), signer).to_json_bytes()
    (root / "qc.json").write_bytes(envelope)
    return StagedBatch(root=root, dataset=dataset, qc=qc, qc_envelope=envelope)


def load_staged(root: Path) -> StagedBatch:
    """A batch staged earlier (after a crash); raises ``DeliveryError`` if it is incomplete."""
    try:
        dataset = open_dataset(root / "dataset")
        qc = load_qc_manifest(root / "dataset")
        envelope = (root / "qc.json").read_bytes()
    except Exception as exc:
        raise DeliveryError(f"the staged batch in {root} is incomplete ({exc})", path=root) from exc
    if qc.dataset_digest != dataset.digest:
        raise DeliveryError(f"the staged batch in {root} changed after its QC ran", path=root)
    try:
        check_files(dataset, dataset.shard_names)  # every byte a resumed upload sends
    except VerificationError as exc:
        raise DeliveryError(
            f"the staged batch in {root} is damaged ({exc.message})", path=root
        ) from exc
    return StagedBatch(root=root, dataset=dataset, qc=qc, qc_envelope=envelope)


def batch_files(staged: StagedBatch) -> list[tuple[str, Path]]:
    """(path below ``batches/<n>/``, local file) of every data and QC file of the batch.

    The dataset's files with its ``manifest.json``, and the QC sidecars the QC manifest
    names (findings, metrics, profile); ``qc.json`` is listed by :func:`build_manifest`.
    """
    ds_root = staged.dataset.root
    out = [(f"dataset/{f.path}", ds_root / f.path) for f in staged.dataset.manifest.files]
    out.append((f"dataset/{MANIFEST_FILE}", ds_root / MANIFEST_FILE))
    qc = staged.qc
    for rel in (qc.findings.path, qc.metrics.path, profile_path(qc.profile.digest)):
        out.append((rel, ds_root / rel))
    return sorted(out)


def _file_entries(staged: StagedBatch, files: Sequence[tuple[str, Path]]) -> list[BatchFile]:
    known = {f"dataset/{f.path}": f for f in staged.dataset.manifest.files}
    qc = staged.qc
    known.update({qc.findings.path: qc.findings, qc.metrics.path: qc.metrics})  # type: ignore[dict-item]
    out = []
    for rel, path in files:
        entry = known.get(rel)
        if entry is not None:
            out.append(BatchFile(path=rel, size=entry.size, sha256=entry.sha256))
        else:
            out.append(BatchFile(path=rel, size=path.stat().st_size, sha256=sha256_file(path)))
    data = staged.qc_envelope
    out.append(BatchFile(path="qc.json", size=len(data), sha256=sha256_bytes(data)))
    return sorted(out, key=lambda f: f.path)


def build_manifest(
    staged: StagedBatch,
    files: Sequence[tuple[str, Path]],
    *,
    contract: Contract,
    channel_id: str,
    number: int,
    previous: str | None,
    published_at: datetime,
    period: int | None,
    replacement_for: int | None,
    signer: Signer,
) -> tuple[BatchManifest, bytes]:
    """The batch manifest of a staged batch, and its envelope signed by the centre."""
    ds = staged.dataset
    episodes = batch_episodes(ds)
    manifest = BatchManifest(
        channel_id=channel_id,
        contract_id=contract.contract_id,
        contract_digest=contract.digest,
        number=number,
        previous=previous,
        published_at=published_at,
        period=period,
        replacement_for=replacement_for,
        dataset_digest=ds.digest,
        qc_manifest_digest=staged.qc_digest,
        qc_profile_digest=staged.qc.profile.digest,
        fps=fps_of(ds),
        format_version=ds.meta.format_version,
        hours=sum((e.hours for e in episodes), Decimal(0)),
        episodes=episodes,
        files=_file_entries(staged, files),
    )
    return manifest, sign_model("batch-manifest", manifest, signer).to_json_bytes()


def preview_violations(
    contract: Contract,
    staged: StagedBatch,
    *,
    number: int,
    published_at: datetime,
    period: int | None,
    replacement_for: int | None,
) -> list[Violation]:
    """What the buyer's contract checks will find in a staged batch, before anything is
    uploaded (the centre sees them as warnings): the summary its manifest will carry, checked
    with the centre's own QC of the batch."""
    ds = staged.dataset
    summary = BatchSummary(
        batch_number=number,
        delivered_at=published_at,
        period=period,
        replacement_for=replacement_for,
        dataset_digest=ds.digest,
        episodes=episode_summaries(batch_episodes(ds), fps_of(ds)),
    )
    return check_batch(contract, summary, staged.qc.model_dump(mode="json"))
