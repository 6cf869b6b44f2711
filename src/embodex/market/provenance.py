"""Provenance a buyer can check: a hash chain of statements, each signed by the centre.

A dataset's chain has three links, in order (specs/catalog.md §6):

1. ``collection`` — who recorded it (centre id and key), when and where each episode was
   recorded (site, scene, robot serial), by which operator (pseudonymous id, level);
2. ``processing`` — what was done to the recordings (import from AgiBot World / LeRobot /
   MCAP, synthesis, trimming, packaging) with the tool that did it;
3. ``qc`` — the QC manifest's digest, the profile (id, version, digest) and the verdicts.

A sample pack adds a fourth, ``sample``: which source episodes it holds under which ids,
the watermark, and the pack's own dataset and QC manifest digests. A delivered batch's chain
(:mod:`embodex.market.delivery_chain`) is about the batch's dataset and ends with
``delivery``: the channel, contract, buyer and the digest of the signed batch manifest —
provenance from recording to delivery. Every statement names the
digest of the one before it (``previous``), so the last statement's digest — the chain's
*head*, which the signed listing records — authenticates the whole chain. Each is also a
DSSE envelope of type ``provenance`` signed by the centre, so a link can be checked alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from .._version import __version__
from ..canonical import digest_json, sha256_bytes, to_pretty_json
from ..errors import ProvenanceError, SignatureError
from ..format import Dataset, TrimRecord, open_dataset
from ..format.anonymise import PRIVACY_KEY
from ..format.transcode import TRANSCODE_KEY
from ..format.trim import TRIM_KEY
from ..fsutil import atomic_write_bytes
from ..parsing import parse_document
from ..qc.aggregates import hours_of
from ..qc.manifest import QCManifest, load_qc_manifest
from ..trust.documents import model_from_payload
from ..trust.envelope import PAYLOAD_TYPES, Envelope, sign_payload, verify_envelope
from ..trust.keys import KEY_ID_PATTERN, Identity, Signer
from ..trust.payload import parse_payload
from ..trust.types import Digest, Hours, Identifier, NonEmpty, TrustModel

__all__ = [
    "CHAIN_FILE",
    "ORDER",
    "ChainFile",
    "DeliveryStatement",
    "EpisodeOrigin",
    "ProcessingStep",
    "ProvenanceChain",
    "Statement",
    "chain_file_bytes",
    "dataset_statements",
    "ensure_dataset_provenance",
    "extend_chain",
    "iso_ns",
    "parse_chain_file",
    "processing_steps",
    "qc_body",
    "read_chain_file",
    "sign_chain",
    "verify_chain",
    "write_chain_file",
]

StatementKind = Literal["collection", "processing", "qc", "sample", "delivery"]
#: The order of the links; a sample pack's chain ends with ``sample``, a delivered batch's
#: with ``delivery`` (the last two are alternatives).
ORDER: tuple[StatementKind, ...] = ("collection", "processing", "qc", "sample", "delivery")
_FOURTH: tuple[StatementKind, ...] = ("sample", "delivery")
#: Where a dataset keeps its chain (a sidecar, like ``qc/``; not covered by the digest).
CHAIN_FILE = "provenance/chain.json"
#: Formats whose importers mark the dataset metadata (``DatasetMeta.extra[<key>]``).
IMPORTED_FROM = ("agibot", "lerobot", "mcap")


def iso_ns(ns: int) -> str:
    """Unix nanoseconds as ISO 8601 UTC to the second (``2026-01-05T08:00:00Z``)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CentreRef(TrustModel):
    centre_id: Identifier
    centre_name: NonEmpty
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="The key that signs the chain.")


class DatasetRef(TrustModel):
    name: NonEmpty
    digest: Digest


class EpisodeOrigin(TrustModel):
    """When, where, on what robot and by whom one episode was recorded."""

    episode_id: Identifier
    recorded_from: str = Field(description="Capture time of the first frame, ISO 8601 UTC.")
    recorded_to: str
    hours: Hours
    site: str | None
    scene_id: str | None
    scene_type: str | None
    skill: str | None
    robot_model: str | None
    robot_serial: str | None
    operator_id: str | None = Field(description="Pseudonymous operator id (never a name).")
    operator_level: str | None = Field(description="The operator's certification level.")


class Collection(TrustModel):
    site: str | None
    recorded_from: str | None
    recorded_to: str | None
    episodes: list[EpisodeOrigin]


class ProcessingStep(TrustModel):
    """One processing step applied to the recordings (``details`` values are strings)."""

    step: Literal[
        "synthesise", "import", "package", "trim", "transcode", "anonymise", "select", "watermark"
    ]
    tool: NonEmpty
    episodes: int = Field(ge=0, description="How many episodes the step touched.")
    details: dict[str, str] = Field(default_factory=dict)


class QCStatement(TrustModel):
    manifest_digest: Digest
    profile_id: NonEmpty
    profile_version: int
    profile_digest: Digest
    checked_at: str
    passed: int = Field(ge=0)
    warned: int = Field(ge=0)
    failed: int = Field(ge=0)


class SampleEpisode(TrustModel):
    episode_id: Identifier = Field(description="The id in the sample pack.")
    source_episode_id: Identifier = Field(description="The id in the source dataset.")


class SampleStatement(TrustModel):
    source: DatasetRef
    qc_manifest_digest: Digest = Field(description="The sample pack's own QC manifest.")
    licence: NonEmpty
    watermark: NonEmpty
    episodes: list[SampleEpisode] = Field(min_length=1)


class DeliveryStatement(TrustModel):
    """What was delivered to whom: a published batch, named by its signed manifest's digest."""

    channel_id: NonEmpty
    contract_id: Identifier
    contract_digest: Digest
    buyer_key_id: str = Field(pattern=KEY_ID_PATTERN)
    batch: int = Field(ge=1)
    batch_manifest_digest: Digest
    published_at: str
    episodes: int = Field(ge=1)
    hours: Hours


class Statement(TrustModel):
    """One link of a provenance chain (signed as a ``provenance`` envelope)."""

    kind: Literal["embodex.provenance"] = "embodex.provenance"
    version: Literal[1] = 1
    statement: StatementKind
    previous: Digest | None = Field(description="Digest of the statement before; null first.")
    centre: CentreRef
    dataset: DatasetRef = Field(description="The dataset the statement is about.")
    issued_at: str
    collection: Collection | None = None
    processing: list[ProcessingStep] | None = None
    qc: QCStatement | None = None
    sample: SampleStatement | None = None
    delivery: DeliveryStatement | None = None

    @model_validator(mode="after")
    def _one_body(self) -> Statement:
        bodies = {k: getattr(self, k) for k in ORDER}
        if bodies[self.statement] is None:
            raise ValueError(f"a {self.statement} statement needs its {self.statement!r} field")
        extra = [k for k, v in bodies.items() if v is not None and k != self.statement]
        if extra:
            raise ValueError(f"a {self.statement} statement cannot carry {', '.join(extra)}")
        return self

    @property
    def digest(self) -> str:
        return digest_json(self.model_dump(mode="json"))


class ChainFile(TrustModel):
    """A chain on disk: ``{"kind": "embodex.provenance-chain", "statements": [envelopes]}``."""

    kind: Literal["embodex.provenance-chain"] = "embodex.provenance-chain"
    statements: list[Envelope] = Field(min_length=1)


def _centre_ref(ds: Dataset, signer: Signer) -> CentreRef:
    if signer.identity.role != "centre":
        raise ProvenanceError(
            f"provenance is signed by the collection centre; {signer.name!r} is a "
            f"{signer.identity.role} key",
            hint="Sign with the centre's key (`signer=`).",
            key_name=signer.name,
        )
    p = ds.meta.provenance
    return CentreRef(centre_id=p.centre_id, centre_name=p.centre_name, key_id=signer.key_id)


def _sign(statement: Statement, signer: Signer) -> Envelope:
    return sign_payload(PAYLOAD_TYPES["provenance"], statement.model_dump(mode="json"), signer)


def _origins(ds: Dataset) -> list[EpisodeOrigin]:
    cols = [
        "episode_id",
        "start_time_ns",
        "end_time_ns",
        "duration_s",
        "site",
        "scene_id",
        "scene_type",
        "skill",
        "robot_model",
        "robot_serial",
        "operator_id",
        "operator_level",
    ]
    out = []
    for row in ds.episodes.select(cols).to_pylist():
        out.append(
            EpisodeOrigin(
                episode_id=row["episode_id"],
                recorded_from=iso_ns(row["start_time_ns"]),
                recorded_to=iso_ns(row["end_time_ns"]),
                hours=hours_of(row["duration_s"]),
                site=row["site"] or ds.meta.provenance.site,
                **{k: row[k] for k in cols[5:]},
            )
        )
    return out


def processing_steps(ds: Dataset) -> list[ProcessingStep]:
    """What was done to the recordings, read from the dataset's own metadata."""
    tool = f"embodex {__version__}"
    n = len(ds)
    extras = [json.loads(e or "{}") for e in ds.episodes.column("extra").to_pylist()]
    steps: list[ProcessingStep] = []
    imported = [k for k in IMPORTED_FROM if k in ds.meta.extra]
    if imported:
        details = {"source_format": imported[0]}
        src = ds.meta.extra[imported[0]]
        if isinstance(src, dict) and isinstance(src.get("source_format"), str):
            details["source_format"] = src["source_format"]
        steps.append(ProcessingStep(step="import", tool=tool, episodes=n, details=details))
    elif n and all(e.get("synthetic") is True for e in extras):
        steps.append(
            ProcessingStep(
                step="synthesise",
                tool=tool,
                episodes=n,
                details={"generator": "embodex.demo.synth"},
            )
        )
    ids = ds.episodes.column("episode_id").to_pylist()
    trimmed = [(eid, e[TRIM_KEY]) for eid, e in zip(ids, extras, strict=True)
               if isinstance(e.get(TRIM_KEY), dict)]  # fmt: skip
    if trimmed:
        steps.append(_trim_step(trimmed, tool))
    for rec in ds.meta.extra.get(TRANSCODE_KEY) or []:  # embodex transcode, oldest first
        if isinstance(rec, dict) and isinstance(rec.get("cameras"), dict):
            cams = "; ".join(f"{k}: {v}" for k, v in sorted(rec["cameras"].items()))
            steps.append(
                ProcessingStep(
                    step="transcode",
                    tool=str(rec.get("tool") or tool),
                    episodes=n,
                    details={"cameras": cams or "none", "source": str(rec.get("source_digest"))},
                )
            )
    faces = (ds.meta.extra.get(PRIVACY_KEY) or {}).get("faces")
    if isinstance(faces, dict) and isinstance(faces.get("cameras"), dict):
        steps.append(_anonymise_step(faces, tool, n))
    steps.append(
        ProcessingStep(
            step="package",
            tool=tool,
            episodes=n,
            details={"format_version": ds.meta.format_version, "licence": ds.meta.licence},
        )
    )
    return steps


def _anonymise_step(faces: dict[str, Any], tool: str, n: int) -> ProcessingStep:
    """embodex anonymise (specs/privacy.md §3): the detector and frames masked per camera."""
    found = faces.get("detector")
    det: dict[str, Any] = found if isinstance(found, dict) else {}
    cams = "; ".join(
        f"{name}: {c.get('changed')}/{c.get('frames')} frames, {c.get('boxes')} boxes"
        for name, c in sorted(faces["cameras"].items())
        if isinstance(c, dict)
    )
    return ProcessingStep(
        step="anonymise",
        tool=str(faces.get("tool") or tool),
        episodes=n,
        details={
            "faces": str(faces.get("mode")),
            "detector": f"{det.get('name')} ({det.get('version')})",
            "threshold": str(faces.get("threshold")),
            "cameras": cams or "none",
        },
    )


def _trim_step(trimmed: list[tuple[str, dict[str, Any]]], tool: str) -> ProcessingStep:
    """The trim step: per episode the kept range of the original frames, when ``extra.trim``
    is in embodex's form (:class:`~embodex.format.TrimRecord`); other tools' records are
    only counted."""
    details = {"recorded_in": "episode extra.trim (frames removed per episode)"}
    records: list[tuple[str, TrimRecord]] = []
    for eid, raw in trimmed:
        try:
            records.append((eid, TrimRecord.model_validate(raw)))
        except ValidationError:
            continue
    if records:
        details["frames_removed"] = str(sum(r.removed for _, r in records))
        details["reasons"] = ", ".join(sorted({r.reason for _, r in records}))
        details["kept"] = "; ".join(
            f"{eid} [{r.kept[0]}, {r.kept[1]}) of {r.original_frames}" for eid, r in records
        )
        tools = sorted({r.tool for _, r in records})
        tool = ", ".join(tools) if len(records) == len(trimmed) else tool
    return ProcessingStep(step="trim", tool=tool, episodes=len(trimmed), details=details)


def qc_body(manifest: QCManifest) -> QCStatement:
    verdicts = [e.verdict for e in manifest.episodes]
    return QCStatement(
        manifest_digest=digest_json(manifest.model_dump(mode="json")),
        profile_id=manifest.profile.id,
        profile_version=manifest.profile.version,
        profile_digest=manifest.profile.digest,
        checked_at=manifest.created_at,
        passed=verdicts.count("PASS"),
        warned=verdicts.count("WARN"),
        failed=verdicts.count("FAIL"),
    )


def extend_chain(chain: Sequence[Envelope], statement: Statement, signer: Signer) -> list[Envelope]:
    """``chain`` plus ``statement`` signed by ``signer`` (``previous`` must name the head)."""
    return [*chain, _sign(statement, signer)]


def dataset_statements(
    ds: Dataset, manifest: QCManifest, signer: Signer, *, issued_at: str | None = None
) -> list[Envelope]:
    """The collection, processing and QC statements of a dataset, chained and signed.

    Raises :class:`ProvenanceError` for a non-centre key or a QC manifest of another dataset.
    """
    if manifest.dataset_digest != ds.digest:
        raise ProvenanceError(
            f"the QC manifest of {ds.root} is for another dataset ({manifest.dataset_digest})",
            hint="Run `run_qc(dataset)` again.",
            path=ds.root,
        )
    subject = DatasetRef(name=ds.meta.name, digest=ds.digest)
    return sign_chain(
        ds, signer, subject=subject, steps=processing_steps(ds), qc=qc_body(manifest),
        issued_at=issued_at,
    )  # fmt: skip


def sign_chain(
    ds: Dataset,
    signer: Signer,
    *,
    subject: DatasetRef,
    steps: list[ProcessingStep],
    qc: QCStatement,
    last: dict[str, Any] | None = None,
    issued_at: str | None = None,
) -> list[Envelope]:
    """Sign collection (the episodes of ``ds``), processing (``steps``), qc (``qc``) and,
    when given, a fourth statement (``last``: ``{"statement": kind, kind: body}``), each
    about ``subject`` and linked to the one before."""
    centre = _centre_ref(ds, signer)
    when = issued_at or _now()
    origins = _origins(ds)
    bodies: list[dict[str, Any]] = [
        {
            "statement": "collection",
            "collection": Collection(
                site=ds.meta.provenance.site,
                recorded_from=min((o.recorded_from for o in origins), default=None),
                recorded_to=max((o.recorded_to for o in origins), default=None),
                episodes=origins,
            ),
        },
        {"statement": "processing", "processing": steps},
        {"statement": "qc", "qc": qc},
        *([last] if last is not None else []),
    ]
    chain: list[Envelope] = []
    previous: str | None = None
    for body in bodies:
        st = Statement(previous=previous, centre=centre, dataset=subject, issued_at=when, **body)
        chain.append(_sign(st, signer))
        previous = st.digest
    return chain


def parse_chain_file(data: bytes, where: str) -> list[Envelope]:
    """The envelopes of a chain file's bytes, read from ``where`` (nothing verified yet).
    Raises ``ProvenanceError``."""
    return parse_document(
        data, ChainFile, ProvenanceError, name=f"provenance chain {where}"
    ).statements


def read_chain_file(path: str | Path) -> list[Envelope]:
    """The envelopes of a chain file (nothing verified yet). Raises ``ProvenanceError``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"{p} is missing: no provenance chain") from None
    except OSError as exc:
        raise ProvenanceError(f"{p} cannot be read ({exc})") from None
    return parse_chain_file(data, str(p))


def chain_file_bytes(chain: Sequence[Envelope]) -> bytes:
    """A chain file's bytes (pretty JSON), as :func:`parse_chain_file` reads them."""
    return to_pretty_json(ChainFile(statements=list(chain)).model_dump(mode="json"))


def write_chain_file(path: str | Path, chain: Sequence[Envelope]) -> None:
    """Write a chain file atomically (world-readable: provenance is for buyers to read)."""
    atomic_write_bytes(path, chain_file_bytes(chain), mode=0o644)


def ensure_dataset_provenance(dataset: str | Path, signer: Signer) -> ProvenanceChain:
    """The dataset's verified chain from ``provenance/chain.json``, (re)made when it is
    missing or stale.

    A stored chain is reused when it verifies with ``signer``'s key and names the dataset's
    current digest and QC manifest; otherwise a new one is signed and written atomically.
    Raises ``QCManifestError`` when the dataset has no QC manifest, :class:`ProvenanceError`.
    """
    root = Path(dataset)
    ds = open_dataset(root)
    manifest = load_qc_manifest(root)
    path = root / CHAIN_FILE
    if path.exists():
        try:
            chain = verify_chain(read_chain_file(path), signer.identity)
            qc = chain.statement("qc").qc
            if (
                chain.dataset.digest == ds.digest
                and qc is not None
                and qc.manifest_digest == digest_json(manifest.model_dump(mode="json"))
                and len(chain.statements) == 3
            ):
                return chain
        except (ProvenanceError, SignatureError):
            pass  # stale or from another key: sign a fresh one below
    envelopes = dataset_statements(ds, manifest, signer)
    write_chain_file(path, envelopes)
    return verify_chain(envelopes, signer.identity)


@dataclass(frozen=True)
class ProvenanceChain:
    """A verified chain: its statements in order and the envelopes they came from."""

    statements: list[Statement]
    envelopes: list[Envelope]
    centre: Identity
    digests: list[str]  # of each statement (sha256 of its canonical payload bytes)

    @property
    def head(self) -> str:
        """Digest of the last statement: it authenticates every link before it."""
        return self.digests[-1]

    @property
    def dataset(self) -> DatasetRef:
        """The recorded dataset (the subject of the first statement)."""
        return self.statements[0].dataset

    def statement(self, kind: StatementKind) -> Statement:
        for st in self.statements:
            if st.statement == kind:
                return st
        raise ProvenanceError(f"the chain has no {kind} statement")

    def origin(self, episode_id: str) -> EpisodeOrigin:
        """Where and how a (source) episode was recorded. Raises ``ProvenanceError``."""
        collection = self.statements[0].collection
        assert collection is not None  # checked by verify_chain
        for o in collection.episodes:
            if o.episode_id == episode_id:
                return o
        raise ProvenanceError(
            f"episode {episode_id} is not in the collection statement", episode_id=episode_id
        )

    def _processing(self) -> list[ProcessingStep]:
        return self.statement("processing").processing or []

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary: the links, the steps, the QC and sample facts."""
        collection = self.statements[0].collection
        assert collection is not None
        out: dict[str, Any] = {
            "centre": self.statements[0].centre.model_dump(mode="json"),
            "dataset": self.dataset.model_dump(mode="json"),
            "head": self.head,
            "links": [
                {"statement": s.statement, "digest": d, "issued_at": s.issued_at}
                for s, d in zip(self.statements, self.digests, strict=True)
            ],
            "collected": {
                "site": collection.site,
                "from": collection.recorded_from,
                "to": collection.recorded_to,
                "episodes": len(collection.episodes),
                "robot_serials": sorted({o.robot_serial for o in collection.episodes} - {None}),
                "operators": sorted(
                    {f"{o.operator_id} ({o.operator_level})" for o in collection.episodes}
                ),
            },
            "steps": [s.model_dump(mode="json") for s in self._processing()],
            "qc": self.statement("qc").qc.model_dump(mode="json"),  # type: ignore[union-attr]
        }
        if len(self.statements) == 4:
            last = self.statements[3]
            out[last.statement] = last.model_dump(mode="json")[last.statement]
        return out


def _collection(first: Statement) -> Collection:
    assert first.collection is not None  # the first statement is a collection statement
    return first.collection


def verify_chain(
    envelopes: Sequence[Envelope | dict[str, Any]], centre: Identity
) -> ProvenanceChain:
    """Verify every link's signature (by ``centre``) before parsing it, then the links.

    Checks: each envelope is a ``provenance`` document signed by ``centre``; the statements
    come in the order collection, processing, qc[, sample or delivery]; the first has no
    ``previous`` and each other names the digest of the one before; all name the centre's
    key; the first three (and a delivery statement) are about the same dataset, and a sample
    statement's source is that dataset.
    Raises :class:`SignatureError` or :class:`ProvenanceError`.

    Example::

        chain = verify_chain(read_chain_file("pack/provenance.json"), centre_identity)
        chain.origin("hubei:0001").operator_level
    """
    if not 3 <= len(envelopes) <= 4:
        raise ProvenanceError(f"a provenance chain has 3 or 4 statements, not {len(envelopes)}")
    statements: list[Statement] = []
    parsed: list[Envelope] = []
    digests: list[str] = []
    for i, raw in enumerate(envelopes):
        env = Envelope.parse(raw)
        data = verify_envelope(
            env, [centre], payload_type=PAYLOAD_TYPES["provenance"], required_keyids=[centre.key_id]
        )
        payload = parse_payload(data)  # canonical: its sha256 is the statement's digest
        if not isinstance(payload, dict):
            raise ProvenanceError(f"provenance statement {i + 1} is not a JSON object")
        st = model_from_payload(Statement, payload, f"provenance statement {i + 1}")
        expected = ORDER[i : i + 1] if i < 3 else _FOURTH
        if st.statement not in expected:
            want = " or ".join(repr(k) for k in expected)
            raise ProvenanceError(f"statement {i + 1} is {st.statement!r}, expected {want}")
        want_previous = digests[-1] if digests else None
        if st.previous != want_previous:
            raise ProvenanceError(
                f"the {st.statement} statement does not link to the statement before it "
                "(a link was removed, replaced or reordered)"
            )
        if st.centre.key_id != centre.key_id:
            raise ProvenanceError(f"the {st.statement} statement names another centre key")
        if (
            (i < 3 or st.delivery is not None)
            and statements
            and (st.dataset != statements[0].dataset)
        ):
            raise ProvenanceError(f"the {st.statement} statement is about another dataset")
        if st.sample is not None:
            if st.sample.source != statements[0].dataset:
                raise ProvenanceError("the sample statement's source is not the chain's dataset")
            recorded = {o.episode_id for o in _collection(statements[0]).episodes}
            unknown = [
                e.source_episode_id
                for e in st.sample.episodes
                if e.source_episode_id not in recorded
            ]
            if unknown:
                raise ProvenanceError(
                    f"the sample names episodes the collection statement lacks: {unknown[0]}"
                )
        statements.append(st)
        parsed.append(env)
        digests.append("sha256:" + sha256_bytes(data))
    return ProvenanceChain(statements=statements, envelopes=parsed, centre=centre, digests=digests)
