"""Build a centre's signed catalogue from its datasets, and open one as a buyer (verified).

A catalogue is a folder (or, once published, a channel prefix) holding::

    listing.json                 DSSE envelope (type listing) of the Listing, signed by the centre
    identity.json                the centre's public identity (import it after checking its key id)
    provenance/<digest16>.json   one provenance chain per dataset (collection, processing, qc)

Everything is aggregates and metadata: no frame ever leaves the centre through a catalogue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..canonical import digest_json
from ..contract.file import default_trusted
from ..errors import CatalogError, ProvenanceError, QCManifestError, SignatureError
from ..format import Dataset, open_dataset
from ..fsutil import UnsafePathError, atomic_write_bytes, safe_join
from ..parsing import read_bounded
from ..qc.manifest import QCManifest, load_qc_manifest
from ..trust.documents import model_from_payload
from ..trust.envelope import PAYLOAD_TYPES, Envelope, sign_payload, verify_signatures
from ..trust.keys import Identity, Signer
from ..trust.payload import parse_payload
from .capacity import Capacity
from .listing import (
    DELIVERABLE,
    CameraOffer,
    CentreInfo,
    DatasetEntry,
    Holding,
    Listing,
    ProfileRef,
    ProvenanceRef,
    QCRef,
    SceneOffer,
)
from .prices import PriceSheet
from .provenance import (
    ProvenanceChain,
    ensure_dataset_provenance,
    iso_ns,
    parse_chain_file,
    verify_chain,
    write_chain_file,
)

__all__ = [
    "IDENTITY_FILE",
    "LISTING_FILE",
    "Catalog",
    "build_catalog",
    "open_catalog",
    "read_catalog",
]

LISTING_FILE = "listing.json"
IDENTITY_FILE = "identity.json"
DEFAULT_VALID_DAYS = 90

#: Reads one file of a catalogue by its relative key (a folder, later a channel).
Reader = Callable[[str], bytes]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _dataset_entry(ds: Dataset, manifest: QCManifest, prov_path: str, head: str) -> DatasetEntry:
    cols = ds.episodes.select(["start_time_ns", "end_time_ns", "robot_model"]).to_pydict()
    robots = sorted({r for r in cols["robot_model"] if r})
    return DatasetEntry(
        name=ds.meta.name,
        digest=ds.digest,
        licence=ds.meta.licence,
        fps=Decimal(repr(float(ds.meta.fps))),
        episodes=len(ds),
        hours=sum((Decimal(e.hours) for e in manifest.episodes), Decimal(0)),
        recorded_from=iso_ns(min(cols["start_time_ns"])) if len(ds) else None,
        recorded_to=iso_ns(max(cols["end_time_ns"])) if len(ds) else None,
        robot_models=robots,
        cameras=[
            CameraOffer(
                name=c.name,
                kind=c.kind,
                width=c.width,
                height=c.height,
                encoding=c.encoding,
                rate_hz=Decimal(repr(float(ds.meta.fps))),
                calibrated=c.intrinsics is not None,
            )
            for c in ds.meta.cameras
        ],
        qc=QCRef(
            manifest_digest=digest_json(manifest.model_dump(mode="json")),
            profile_id=manifest.profile.id,
            profile_version=manifest.profile.version,
            profile_digest=manifest.profile.digest,
        ),
        provenance=ProvenanceRef(path=prov_path, head=head),
    )


def _holdings(index: int, ds: Dataset, manifest: QCManifest) -> list[Holding]:
    scene_of = dict(
        zip(
            ds.episodes.column("episode_id").to_pylist(),
            ds.episodes.column("scene_id").to_pylist(),
            strict=True,
        )
    )
    cells: dict[tuple[Any, ...], list[Decimal]] = defaultdict(list)
    for e in manifest.episodes:
        key = (e.skill, e.scene_type, scene_of.get(e.episode_id), e.robot_model, e.verdict)
        cells[key].append(Decimal(e.hours))
    return [
        Holding(
            dataset=index,
            skill=k[0],
            scene_type=k[1],
            scene_id=k[2],
            robot_model=k[3],
            verdict=k[4],
            episodes=len(hours),
            hours=sum(hours, Decimal(0)),
        )
        for k, hours in sorted(cells.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    ]


def _scenes(capacity: Capacity, holdings: list[Holding]) -> list[SceneOffer]:
    stock: dict[str, Decimal] = defaultdict(Decimal)
    for h in holdings:
        if h.scene_id is not None and h.verdict in DELIVERABLE:
            stock[h.scene_id] += h.hours
    catalogue = capacity.scene_catalogue()
    known = {s.scene_id for s in catalogue}
    missing = sorted(set(stock) - known)
    if missing:
        raise CatalogError(
            f"the datasets hold scenes the scene catalogue does not describe: {', '.join(missing)}",
            hint="Describe them under `scenes:` in the capacity file (`capacity=`).",
        )
    return [
        SceneOffer(
            scene=s,
            capacity_hours_per_week=capacity.weekly(s.scene_id),
            stock_hours=stock.get(s.scene_id, Decimal(0)),
        )
        for s in catalogue
    ]


def _next_sequence(out: Path, centre: Identity) -> int:
    """One more than the listing already in ``out`` (if it is this centre's), else 1."""
    path = out / LISTING_FILE
    if not path.exists():
        return 1
    try:
        return read_catalog(_folder_reader(out), [centre], allow_expired=True).listing.sequence + 1
    except (CatalogError, SignatureError, ProvenanceError, OSError):
        return 1


def build_catalog(
    datasets: Sequence[str | Path],
    out: str | Path,
    signer: Signer,
    *,
    capacity: Capacity | None = None,
    prices: PriceSheet,
    valid_days: int = DEFAULT_VALID_DAYS,
    on_dataset: Callable[[str], None] | None = None,
) -> Listing:
    """Build and sign the catalogue of ``datasets`` into the folder ``out``.

    Each dataset needs a current QC manifest (``embodex qc run``). Its provenance chain is
    taken from (or written to) ``DATASET/provenance/chain.json`` and copied into the
    catalogue. Files are written in order — provenance chains, identity, then the listing
    (atomically), so a crash leaves the previous listing valid. Raises
    :class:`CatalogError` (no datasets, two centres, unknown scenes), ``QCManifestError``
    (no or stale QC manifest), :class:`ProvenanceError` (not a centre key).

    Example::

        listing = build_catalog(["datasets/week01"], "catalog", load_signer("hubei-centre"),
                                capacity=load_capacity("capacity.yaml"),
                                prices=load_price_sheet(None))
        print(listing.totals()["overall"]["hours"])
    """
    if not datasets:
        raise CatalogError("no datasets given", hint="Name at least one dataset directory.")
    if signer.identity.role != "centre":
        raise CatalogError(
            f"catalogues are signed by the collection centre; {signer.name!r} is a "
            f"{signer.identity.role} key",
            hint="Sign with the centre's key (`signer=`).",
            key_name=signer.name,
        )
    capacity = capacity or Capacity()
    root = Path(out)
    entries: list[DatasetEntry] = []
    holdings: list[Holding] = []
    chains: dict[str, list[Envelope]] = {}
    first: Dataset | None = None
    for i, path in enumerate(datasets):
        ds = open_dataset(path)
        manifest = load_qc_manifest(path)
        if manifest.dataset_digest != ds.digest:
            raise QCManifestError(
                f"the QC manifest of {path} is stale (dataset changed since QC ran)",
                hint="Run `run_qc(dataset)` again.",
                path=path,
            )
        if first is None:
            first = ds
        elif ds.meta.provenance.centre_id != first.meta.provenance.centre_id:
            raise CatalogError(
                f"{path} comes from centre {ds.meta.provenance.centre_id}, the others from "
                f"{first.meta.provenance.centre_id}",
                hint="A catalogue lists one centre's data: build one per centre.",
                path=path,
            )
        chain = ensure_dataset_provenance(path, signer)
        rel = f"provenance/{ds.digest.removeprefix('sha256:')[:16]}.json"
        chains[rel] = chain.envelopes
        entries.append(_dataset_entry(ds, manifest, rel, chain.head))
        holdings.extend(_holdings(i, ds, manifest))
        if on_dataset is not None:
            on_dataset(str(path))
    assert first is not None
    profiles = {
        e.qc.profile_digest: ProfileRef(
            id=e.qc.profile_id, version=e.qc.profile_version, digest=e.qc.profile_digest
        )
        for e in entries
    }
    now = _now()
    p = first.meta.provenance
    listing = Listing(
        sequence=_next_sequence(root, signer.identity),
        issued_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        valid_until=now.date() + timedelta(days=valid_days),
        centre=CentreInfo(
            centre_id=p.centre_id,
            centre_name=p.centre_name,
            site=p.site,
            contact=p.contact,
            identity=signer.identity,
        ),
        datasets=entries,
        holdings=holdings,
        scenes=_scenes(capacity, holdings),
        capacity_available_from=capacity.available_from,
        prices=prices,
        qc_profiles=sorted(profiles.values(), key=lambda r: r.digest),
    )
    envelope = sign_payload(PAYLOAD_TYPES["listing"], listing.payload(), signer)
    for rel, envelopes in chains.items():
        write_chain_file(root / rel, envelopes)
    atomic_write_bytes(root / IDENTITY_FILE, signer.identity.to_json_bytes(), mode=0o644)
    atomic_write_bytes(root / LISTING_FILE, envelope.to_json_bytes(), mode=0o644)
    return listing


@dataclass(frozen=True)
class Catalog:
    """A catalogue whose listing and provenance chains all verified."""

    listing: Listing
    envelope: Envelope
    centre: Identity
    chains: dict[str, ProvenanceChain]  # dataset digest -> chain
    source: str

    @property
    def digest(self) -> str:
        return self.listing.digest


def _folder_reader(root: Path) -> Reader:
    def read(key: str) -> bytes:
        try:
            path = safe_join(root, key, what="catalogue file")
            return read_bounded(path, error=CatalogError, follow_symlinks=False)
        except UnsafePathError as exc:
            raise CatalogError(exc.message, hint=exc.hint) from None
        except FileNotFoundError:
            raise CatalogError(f"{root / key} is missing") from None

    return read


def read_catalog(
    read: Reader,
    trusted: Sequence[Identity] | None = None,
    *,
    today: date | None = None,
    allow_expired: bool = False,
    source: str = "catalogue",
) -> Catalog:
    """Verify and open a catalogue through ``read`` (relative key -> bytes).

    The listing's signature is checked against ``trusted`` (default: the key store) before
    anything is parsed; the signer must be the centre the listing names. Then each dataset's
    provenance chain is verified and must end at the head the listing records. Raises
    :class:`SignatureError` (tampered, untrusted signer), :class:`CatalogError` (expired,
    malformed, inconsistent), :class:`ProvenanceError`.
    """
    identities = list(trusted) if trusted is not None else default_trusted()
    envelope = Envelope.parse(read(LISTING_FILE))
    try:
        verified = verify_signatures(envelope, identities, payload_type=PAYLOAD_TYPES["listing"])
    except SignatureError as exc:
        if "no signature by a trusted key" in exc.message:
            raise SignatureError(
                f"{source}: the listing is signed by a key you do not trust "
                f"({', '.join(envelope.keyids)})",
                hint=f"Check the key id with the centre, then import {source}/{IDENTITY_FILE} "
                "(`import_identity(path)`), or pass it in `trusted=`.",
            ) from None
        raise
    listing = model_from_payload(Listing, parse_payload(verified.payload), "listing")
    centre = listing.centre.identity
    if centre.key_id not in {s.key_id for s in verified.signers}:
        raise SignatureError(
            f"{source}: the listing names centre key {centre.key_id} but is not signed by it"
        )
    trusted_centre = next(i for i in verified.signers if i.key_id == centre.key_id)
    if trusted_centre.role != "centre":
        raise SignatureError(f"{source}: the listing is signed by a {trusted_centre.role} key")
    day = today or datetime.now(UTC).date()
    if day > listing.valid_until and not allow_expired:
        raise CatalogError(
            f"{source}: the listing expired on {listing.valid_until} (stale catalogue)",
            hint="Ask the centre for a fresh catalogue (`build_catalog(...)`).",
        )
    chains: dict[str, ProvenanceChain] = {}
    for entry in listing.datasets:
        # a safe relative key: ProvenanceRef.path is ``provenance/<name>.json`` (no ``..``)
        data = read(entry.provenance.path)
        chain = verify_chain(parse_chain_file(data, f"{source}/{entry.provenance.path}"), centre)
        qc = chain.statement("qc").qc
        if (
            chain.head != entry.provenance.head
            or chain.dataset.digest != entry.digest
            or qc is None
            or qc.manifest_digest != entry.qc.manifest_digest
        ):
            raise ProvenanceError(
                f"{source}/{entry.provenance.path} is not the chain the listing names for "
                f"dataset {entry.name}"
            )
        chains[entry.digest] = chain
    return Catalog(listing=listing, envelope=envelope, centre=centre, chains=chains, source=source)


def open_catalog(
    path: str | Path,
    trusted: Sequence[Identity] | None = None,
    *,
    today: date | None = None,
    allow_expired: bool = False,
) -> Catalog:
    """:func:`read_catalog` of a catalogue folder.

    Example::

        catalog = open_catalog("catalog/")           # the centre's identity must be trusted
        print(catalog.listing.totals()["by_skill"])
    """
    root = Path(path)
    if not (root / LISTING_FILE).is_file():
        raise CatalogError(
            f"{root} is not a catalogue (no {LISTING_FILE})",
            hint="Point at the folder `build_catalog(...)` wrote.",
            path=root,
        )
    return read_catalog(
        _folder_reader(root), trusted, today=today, allow_expired=allow_expired, source=str(root)
    )
