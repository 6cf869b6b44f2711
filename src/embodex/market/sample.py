"""Sample packs: a small, watermarked, representative subset a buyer can try before signing.

A sample pack is an ordinary embodex dataset (it opens with ``open_dataset`` and the
training loader) plus its own QC manifest and report (``qc/``) and a provenance chain
(``provenance/chain.json``) that extends the source dataset's chain with a ``sample``
statement. specs/catalog.md §7 states the rules; in short:

* **Selection** — per skill × scene type of the source, up to ``per_cell`` episodes whose
  final QC verdict is not FAIL (PASS first, then WARN), spread over the cell's durations
  (one episode: the median). With ``max_episodes`` cells are served round-robin, the cells
  with most deliverable hours first, so every cell gets one before any gets two.
* **Watermark** — episode ids become ``sample:<source id>``; ``EpisodeMeta.extra
  ["sample_pack"]`` names the source episode and dataset and says *evaluation only*; the
  dataset is renamed ``<name>-sample`` under the licence ``proprietary:evaluation-only``;
  and a visible mark is burnt into every camera frame (:mod:`.watermark`).
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..canonical import digest_json
from ..contract.file import default_trusted
from ..errors import DatasetExistsError, SamplePackError, SignatureError
from ..format import Dataset, DatasetMeta, Episode, copy_episodes, open_dataset
from ..fsutil import fsync_dir
from ..qc import load_qc_manifest, load_qc_profile, run_qc, write_qc
from ..qc.manifest import QCManifest
from ..reports.qc_page import write_report
from ..trust.envelope import Envelope
from ..trust.keys import Identity, Signer
from .provenance import (
    CHAIN_FILE,
    DatasetRef,
    ProvenanceChain,
    SampleEpisode,
    SampleStatement,
    Statement,
    ensure_dataset_provenance,
    extend_chain,
    read_chain_file,
    verify_chain,
    write_chain_file,
)
from .watermark import MARK_TEXT, has_mark, watermark_episode

__all__ = [
    "EVALUATION_LICENCE",
    "SAMPLE_PREFIX",
    "SamplePack",
    "SampleSelection",
    "build_sample_pack",
    "choose_sample",
    "verify_sample_pack",
]

SAMPLE_PREFIX = "sample:"
EVALUATION_LICENCE = "proprietary:evaluation-only"
TERMS = (
    "Sample pack for evaluation only: it may be loaded and inspected to judge the data, not "
    "used to train models in production, redistributed or sold. Frames carry a visible mark."
)
WATERMARK = (
    f"visible '{MARK_TEXT}' mark burnt into the bottom-right corner of every camera frame "
    "(re-encoded); episode ids prefixed 'sample:'; extra.sample_pack on every episode"
)
UNKNOWN = "(unknown)"
Cell = tuple[str, str]


@dataclass(frozen=True)
class SampleSelection:
    """Which source episodes a pack holds, cell by cell (skill, scene type)."""

    episode_ids: list[str]
    cells: dict[Cell, list[str]]
    no_deliverable: list[Cell]  # cells whose episodes all FAIL: nothing shown
    left_out: list[Cell]  # cells dropped by max_episodes


def _spread(candidates: list[tuple[float, str]], k: int) -> list[str]:
    """``k`` of the (duration, id) pairs spread evenly over their order (k=1: the median)."""
    ordered = sorted(candidates)
    n = len(ordered)
    if k >= n:
        return [eid for _, eid in ordered]
    picks = sorted({min(n - 1, (2 * j + 1) * n // (2 * k)) for j in range(k)})
    return [ordered[i][1] for i in picks]


def choose_sample(
    ds: Dataset, manifest: QCManifest, *, per_cell: int = 2, max_episodes: int | None = None
) -> SampleSelection:
    """Pick the episodes of a sample pack (rules in the module docstring)."""
    if per_cell < 1:
        raise SamplePackError("per_cell must be at least 1", hint="Pass a positive number.")
    if max_episodes is not None and max_episodes < 1:
        raise SamplePackError("max_episodes must be at least 1", hint="Pass a positive number.")
    rows = ds.episodes.select(["episode_id", "skill", "scene_type", "duration_s"]).to_pylist()
    verdict = {e.episode_id: e.verdict for e in manifest.episodes}
    by_cell: dict[Cell, dict[str, list[tuple[float, str]]]] = defaultdict(
        lambda: {"PASS": [], "WARN": [], "FAIL": []}
    )
    hours: dict[Cell, Decimal] = defaultdict(Decimal)
    for r in rows:
        cell = (r["skill"] or UNKNOWN, r["scene_type"] or UNKNOWN)
        v = verdict.get(r["episode_id"], "FAIL")
        by_cell[cell][v].append((r["duration_s"], r["episode_id"]))
        if v != "FAIL":
            hours[cell] += Decimal(repr(r["duration_s"]))
    ranked: dict[Cell, list[str]] = {}
    no_deliverable = []
    for cell, groups in sorted(by_cell.items()):
        picks = _spread(groups["PASS"], per_cell)
        if len(picks) < per_cell:
            picks += _spread(groups["WARN"], per_cell - len(picks))
        if picks:
            ranked[cell] = picks
        else:
            no_deliverable.append(cell)
    order = sorted(ranked, key=lambda c: (-hours[c], c))
    chosen: dict[Cell, list[str]] = {c: [] for c in order}
    total = 0
    for round_ in range(per_cell):
        for cell in order:
            if round_ < len(ranked[cell]) and (max_episodes is None or total < max_episodes):
                chosen[cell].append(ranked[cell][round_])
                total += 1
    cells = {c: ids for c, ids in chosen.items() if ids}
    position = {eid: i for i, eid in enumerate(ds.episode_ids)}
    ids = sorted((eid for picked in cells.values() for eid in picked), key=position.__getitem__)
    return SampleSelection(
        episode_ids=ids,
        cells=dict(sorted(cells.items())),
        no_deliverable=no_deliverable,
        left_out=sorted(c for c in order if c not in cells),
    )


@dataclass(frozen=True)
class SamplePack:
    """A built (or verified) sample pack."""

    path: Path
    dataset_digest: str
    qc_manifest_digest: str
    provenance: ProvenanceChain
    episodes: list[SampleEpisode]
    selection: SampleSelection | None = None

    def to_json(self) -> dict[str, Any]:
        return self.describe()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": str(self.path),
            "dataset_digest": self.dataset_digest,
            "qc_manifest_digest": self.qc_manifest_digest,
            "episodes": [
                {
                    **e.model_dump(mode="json"),
                    "origin": self.provenance.origin(e.source_episode_id).model_dump(mode="json"),
                }
                for e in self.episodes
            ],
            "provenance": self.provenance.describe(),
        }
        if self.selection is not None:
            out["cells"] = {f"{s} × {t}": ids for (s, t), ids in self.selection.cells.items()}
            out["cells_without_deliverable_episodes"] = [
                f"{s} × {t}" for s, t in self.selection.no_deliverable
            ]
            out["cells_left_out"] = [f"{s} × {t}" for s, t in self.selection.left_out]
        return out


def _pack_meta(src: Dataset) -> DatasetMeta:
    data = src.meta.model_dump(mode="json")
    data.update(
        name=f"{src.meta.name}-sample",
        licence=EVALUATION_LICENCE,
        description=f"SAMPLE PACK of {src.meta.name}. {TERMS}",
        extra={
            **src.meta.extra,
            "sample_pack": {
                "evaluation_only": True,
                "terms": TERMS,
                "watermark": WATERMARK,
                "source_dataset": src.meta.name,
                "source_dataset_digest": src.digest,
                "source_licence": src.meta.licence,
            },
        },
    )
    return DatasetMeta.model_validate(data)


def _transform(src: Dataset) -> Callable[[Episode], Episode]:
    def mark(episode: Episode) -> Episode:
        source_id = episode.meta.episode_id
        extra = {
            **episode.meta.extra,
            "sample_pack": {
                "evaluation_only": True,
                "source_episode_id": source_id,
                "source_dataset": src.meta.name,
                "source_dataset_digest": src.digest,
                "licence": EVALUATION_LICENCE,
            },
        }
        meta = episode.meta.model_copy(
            update={"episode_id": SAMPLE_PREFIX + source_id, "extra": extra}
        )
        marked = watermark_episode(episode, src.meta.cameras)
        return Episode(
            meta=meta,
            timestamp_ns=marked.timestamp_ns,
            features=marked.features,
            images=marked.images,
            image_timestamps_ns=marked.image_timestamps_ns,
        )

    return mark


def build_sample_pack(
    dataset: str | Path,
    out: str | Path,
    signer: Signer,
    *,
    per_cell: int = 2,
    max_episodes: int | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> SamplePack:
    """Build the sample pack of ``dataset`` in the new folder ``out``, signed by ``signer``.

    The pack is built in ``.<out>.incomplete`` beside ``out`` and renamed into place when
    complete (a crash leaves no half pack; the next run starts the staging folder afresh).
    It runs QC on the pack with the source's QC profile and writes ``qc/report.html``.
    Raises ``QCManifestError`` (source without a current QC manifest),
    ``DatasetExistsError`` (``out`` exists), :class:`SamplePackError` (nothing deliverable).

    Example::

        pack = build_sample_pack("datasets/week01", "outbox/sample", load_signer("hubei-centre"))
        print(len(pack.episodes), pack.provenance.head)
    """
    source = Path(dataset)
    target = Path(out)
    if target.exists():
        raise DatasetExistsError(
            f"{target} already exists", hint="Choose a new output folder.", path=target
        )
    src = open_dataset(source)
    manifest = load_qc_manifest(source)
    source_chain = ensure_dataset_provenance(source, signer)
    selection = choose_sample(src, manifest, per_cell=per_cell, max_episodes=max_episodes)
    if not selection.episode_ids:
        raise SamplePackError(
            f"{source} has no episode that passes QC: there is nothing to show",
            hint="Review the QC results (`load_qc_manifest(dataset)`) and fix or replace the data.",
            path=source,
        )
    staging = target.parent / f".{target.name}.incomplete"
    if staging.exists():
        shutil.rmtree(staging)  # left by a run that crashed: start again
    target.parent.mkdir(parents=True, exist_ok=True)
    pack = copy_episodes(
        src,
        staging,
        selection.episode_ids,
        meta=_pack_meta(src),
        transform=_transform(src),
        on_episode=on_episode,
    )
    pack_manifest = write_qc(staging, run_qc(pack, load_qc_profile(source, manifest)))
    write_report(staging, staging / "qc" / "report.html")
    mapping = [
        SampleEpisode(episode_id=SAMPLE_PREFIX + e, source_episode_id=e)
        for e in selection.episode_ids
    ]
    first = source_chain.statements[0]
    statement = Statement(
        statement="sample",
        previous=source_chain.head,
        centre=first.centre,
        dataset=DatasetRef(name=pack.meta.name, digest=pack.digest),
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        sample=SampleStatement(
            source=first.dataset,
            qc_manifest_digest=digest_json(pack_manifest.model_dump(mode="json")),
            licence=EVALUATION_LICENCE,
            watermark=WATERMARK,
            episodes=mapping,
        ),
    )
    chain = extend_chain(source_chain.envelopes, statement, signer)
    write_chain_file(staging / CHAIN_FILE, chain)
    os.replace(staging, target)
    fsync_dir(target.parent)
    return SamplePack(
        path=target,
        dataset_digest=pack.digest,
        qc_manifest_digest=statement.sample.qc_manifest_digest,  # type: ignore[union-attr]
        provenance=verify_chain(chain, signer.identity),
        episodes=mapping,
        selection=selection,
    )


def _centre_of(chain: Sequence[Envelope], trusted: Sequence[Identity]) -> Identity:
    keyids = chain[0].keyids
    for ident in trusted:
        if ident.key_id in keyids and ident.role == "centre":
            return ident
    raise SignatureError(
        f"the sample pack's provenance is signed by a key you do not trust ({', '.join(keyids)})",
        hint="Import the centre's identity (CATALOG/identity.json, `import_identity(path)`) "
        "after checking its key id, or pass it in `trusted=`.",
    )


def verify_sample_pack(
    pack: str | Path, trusted: Sequence[Identity] | None = None, *, check_watermark: bool = True
) -> SamplePack:
    """Check a sample pack as a buyer: every hash, the provenance chain, the watermark.

    The dataset is verified byte for byte; the chain must be signed by a trusted centre key,
    end with a ``sample`` statement naming this very dataset and its QC manifest, and map
    every episode of the pack to a recorded source episode; with ``check_watermark`` the
    first frame of every camera of every episode must show the mark. Raises
    ``VerificationError``, :class:`SignatureError`, ``ProvenanceError``,
    :class:`SamplePackError`.

    Example::

        pack = verify_sample_pack("sample/")
        pack.provenance.origin(pack.episodes[0].source_episode_id).operator_level
    """
    root = Path(pack)
    ds = open_dataset(root)
    ds.verify()
    envelopes = read_chain_file(root / CHAIN_FILE)
    identities = list(trusted) if trusted is not None else default_trusted()
    chain = verify_chain(envelopes, _centre_of(envelopes, identities))
    statement = chain.statements[-1]
    sample = statement.sample
    if sample is None:  # a dataset's chain (qc last) or a batch's (delivery last)
        raise SamplePackError(f"{root}: the provenance chain has no sample statement", path=root)
    if statement.dataset.digest != ds.digest:
        raise SamplePackError(
            f"{root}: the provenance names another dataset than this pack", path=root
        )
    qc_digest = digest_json(load_qc_manifest(root).model_dump(mode="json"))
    if qc_digest != sample.qc_manifest_digest:
        raise SamplePackError(
            f"{root}: qc/manifest.json is not the one the provenance names", path=root
        )
    mapping = {e.episode_id: e.source_episode_id for e in sample.episodes}
    if sorted(mapping) != sorted(ds.episode_ids):
        raise SamplePackError(
            f"{root}: the pack's episodes differ from the provenance's list", path=root
        )
    for view in ds:
        mark = view.meta.extra.get("sample_pack", {})
        if (
            not mark.get("evaluation_only")
            or mark.get("source_episode_id") != mapping[view.episode_id]
        ):
            raise SamplePackError(
                f"{root}: episode {view.episode_id} lacks its sample marking", path=root
            )
        if check_watermark:
            for cam in ds.meta.cameras:
                if not has_mark(view.images(cam.name)[0]):
                    raise SamplePackError(
                        f"{root}: camera {cam.name} of episode {view.episode_id} shows no mark",
                        path=root,
                    )
    return SamplePack(
        path=root,
        dataset_digest=ds.digest,
        qc_manifest_digest=qc_digest,
        provenance=chain,
        episodes=list(sample.episodes),
    )
