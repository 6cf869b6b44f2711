"""Catalogues on a channel: publish a catalogue folder and its sample pack through storage,
browse it and pull the sample pack back, verified (specs/catalog.md §8).

Layout below the channel URL (a folder, ``file://`` or ``s3://bucket/prefix``)::

    catalog/listing.json             the signed listing (written last: the head)
    catalog/identity.json            the centre's public identity
    catalog/provenance/<16 hex>.json the datasets' provenance chains
    catalog/sample.json              DSSE envelope (sample-manifest) naming every sample file
    catalog/sample/...               the sample pack's files (dataset, qc/, provenance/)

Publishing writes the sample files first, then the sample manifest, the chains, the
identity, and the listing last, then removes sample files no manifest names any more; a
reader verifies the listing and the manifest before it trusts a byte, and every file's size
and sha256 before it uses it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..canonical import sha256_bytes, sha256_file
from ..contract.file import default_trusted
from ..errors import (
    CatalogError,
    ObjectNotFoundError,
    SamplePackError,
    UnsafeKeyError,
)
from ..format import FileEntry
from ..fsutil import fsync_dir
from ..storage.stores import Storage, join_key, open_storage, validate_key
from ..trust.documents import open_model, sign_model
from ..trust.envelope import Envelope
from ..trust.keys import Identity, Signer
from ..trust.types import Digest, TrustModel
from .catalog import IDENTITY_FILE, LISTING_FILE, Catalog, open_catalog, read_catalog
from .provenance import (
    CHAIN_FILE,
    DatasetRef,
    ProvenanceChain,
    SampleEpisode,
    parse_chain_file,
    verify_chain,
)
from .sample import SamplePack, verify_sample_pack

__all__ = [
    "CHANNEL_PREFIX",
    "PublishReport",
    "SampleManifest",
    "find_sample_offer",
    "open_catalog_url",
    "publish_catalog",
    "pull_sample",
]

CHANNEL_PREFIX = "catalog"
SAMPLE_DIR = "sample"
SAMPLE_MANIFEST = "sample.json"
#: Files of a local sample pack that are not content (writer and QC locks, journals).
_SKIP = (".embodex/", "qc/.lock")


class SampleManifest(TrustModel):
    """Every file of a published sample pack with its size and sha256, signed by the centre."""

    kind: Literal["embodex.sample-manifest"] = "embodex.sample-manifest"
    version: Literal[1] = 1
    dataset: DatasetRef
    qc_manifest_digest: Digest
    provenance_head: Digest
    issued_at: str
    files: list[FileEntry] = Field(min_length=1)


@dataclass(frozen=True)
class PublishReport:
    url: str
    files: int
    bytes: int
    removed: int
    sample: bool


def _pack_files(pack: Path) -> list[FileEntry]:
    entries = []
    for path in sorted(p for p in pack.rglob("*") if p.is_file()):
        rel = path.relative_to(pack).as_posix()
        if rel.startswith(_SKIP) or rel in _SKIP or path.name.endswith(".tmp"):
            continue
        entries.append(FileEntry(path=rel, size=path.stat().st_size, sha256=sha256_file(path)))
    return entries


def publish_catalog(
    catalog: str | Path,
    url: str,
    signer: Signer,
    *,
    on_file: Callable[[str], None] | None = None,
) -> PublishReport:
    """Publish the catalogue folder ``catalog`` (and its ``sample/`` pack) at ``url``.

    The catalogue is verified first with ``signer``'s identity (it must be the listing's
    centre), the sample pack byte for byte. Raises :class:`CatalogError`,
    ``SignatureError``, ``SamplePackError`` and the storage errors.

    Example::

        publish_catalog("catalog", "s3://hubei-data/offers", load_signer("hubei-centre"))
    """
    root = Path(catalog)
    local = open_catalog(root, [signer.identity])
    if local.centre.key_id != signer.key_id:
        raise CatalogError(f"{root} is the catalogue of another centre key", path=root)
    store = open_storage(url)
    uploads: list[tuple[str, Path]] = []
    sample_env: Envelope | None = None
    pack_dir = root / SAMPLE_DIR
    if (pack_dir / "embodex.json").exists():
        pack = verify_sample_pack(pack_dir, [signer.identity])
        files = _pack_files(pack_dir)
        manifest = SampleManifest(
            dataset=DatasetRef(name=pack.provenance.statements[-1].dataset.name,
                               digest=pack.dataset_digest),
            qc_manifest_digest=pack.qc_manifest_digest,
            provenance_head=pack.provenance.head,
            issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            files=files,
        )  # fmt: skip
        sample_env = sign_model("sample-manifest", manifest, signer)
        uploads += [(f"{SAMPLE_DIR}/{f.path}", pack_dir / f.path) for f in files]
    # data first, then what names it; the listing (the head) last
    for rel, src in uploads:
        store.upload_file(join_key(CHANNEL_PREFIX, rel), src)
        if on_file is not None:
            on_file(rel)
    if sample_env is not None:
        store.put_bytes(join_key(CHANNEL_PREFIX, SAMPLE_MANIFEST), sample_env.to_json_bytes())
    docs = [e.provenance.path for e in local.listing.datasets] + [IDENTITY_FILE, LISTING_FILE]
    for rel in docs:
        store.put_bytes(join_key(CHANNEL_PREFIX, rel), (root / rel).read_bytes())
        if on_file is not None:
            on_file(rel)
    keep = {join_key(CHANNEL_PREFIX, rel) for rel, _ in uploads}
    removed = 0
    for obj in store.list(join_key(CHANNEL_PREFIX, SAMPLE_DIR) + "/"):
        if obj.key not in keep:
            store.delete(obj.key)  # a file of an earlier sample pack
            removed += 1
    if sample_env is None and store.exists(join_key(CHANNEL_PREFIX, SAMPLE_MANIFEST)):
        store.delete(join_key(CHANNEL_PREFIX, SAMPLE_MANIFEST))
    size = sum(src.stat().st_size for _, src in uploads) + sum(
        (root / rel).stat().st_size for rel in docs
    )
    return PublishReport(
        url=store.url,
        files=len(uploads) + len(docs) + (sample_env is not None),
        bytes=size,
        removed=removed,
        sample=sample_env is not None,
    )


def _reader(store: Storage) -> Callable[[str], bytes]:
    def read(key: str) -> bytes:
        try:
            return store.get_document(join_key(CHANNEL_PREFIX, validate_key(key)))
        except ObjectNotFoundError:
            raise CatalogError(
                f"{store.url}: {CHANNEL_PREFIX}/{key} is missing",
                hint="Check the URL; the centre publishes with "
                "`publish_catalog(catalog, url, signer)`.",
                url=store.url,
            ) from None
        except UnsafeKeyError as exc:
            raise CatalogError(f"the listing names an unsafe path: {exc.message}") from None

    return read


def _sample_manifest(read: Callable[[str], bytes], catalog: Catalog) -> SampleManifest | None:
    """The channel's sample manifest, signed by the listing's centre (None: none published).
    Raises ``SignatureError``."""
    try:
        raw = read(SAMPLE_MANIFEST)
    except CatalogError:
        return None
    return open_model(
        "sample-manifest", SampleManifest, raw, [catalog.centre],
        required_keyids=[catalog.centre.key_id],
    )  # fmt: skip


def _is_local(source: str | Path) -> Path | None:
    text = str(source)
    if "://" in text and not text.startswith("file://"):
        return None
    path = Path(text.removeprefix("file://"))
    return path if (path / LISTING_FILE).is_file() else None


def open_catalog_url(source: str | Path, trusted: Sequence[Identity] | None = None) -> Catalog:
    """Open a catalogue folder, or one published at a channel URL (verified either way).

    Example::

        catalog = open_catalog_url("s3://hubei-data/offers")
    """
    local = _is_local(source)
    if local is not None:
        return open_catalog(local, trusted)
    store = open_storage(str(source))
    return read_catalog(_reader(store), trusted, source=f"{store.url}/{CHANNEL_PREFIX}")


def pull_sample(
    source: str, dest: str | Path, trusted: Sequence[Identity] | None = None
) -> SamplePack:
    """Download the sample pack published at ``source`` into the new folder ``dest``.

    The listing is verified first; the sample manifest must be signed by the listing's
    centre and name the pack its files make up; each file is checked (size, sha256) as it
    arrives; the pack is verified whole (:func:`verify_sample_pack`) before it is moved to
    ``dest``. Raises :class:`SamplePackError`, ``SignatureError``,
    ``StorageIntegrityError``, :class:`CatalogError`.

    Example::

        pack = pull_sample("s3://hubei-data/offers", "samples/hubei")
    """
    target = Path(dest)
    if target.exists():
        raise SamplePackError(f"{target} already exists", hint="Choose a new folder.", path=target)
    identities = list(trusted) if trusted is not None else default_trusted()
    catalog = open_catalog_url(source, identities)
    store = open_storage(str(source))
    manifest = _sample_manifest(_reader(store), catalog)
    if manifest is None:
        raise SamplePackError(
            f"{source} publishes no sample pack",
            hint="Check the URL; a centre publishes one with `build_sample_pack(...)` then "
            "`publish_catalog(catalog, url, signer)`.",
        )
    staging = target.parent / f".{target.name}.incomplete"
    if staging.exists():
        shutil.rmtree(staging)
    for entry in manifest.files:
        try:
            rel = validate_key(entry.path)
        except UnsafeKeyError as exc:
            msg = f"the sample manifest names an unsafe path: {exc.message}"
            raise SamplePackError(msg) from None
        store.download_file(
            join_key(CHANNEL_PREFIX, SAMPLE_DIR, rel), staging / rel,
            size=entry.size, sha256=entry.sha256,
        )  # fmt: skip
    for lock in staging.rglob("*.lock"):
        lock.unlink()  # download locks, not content
    pack = verify_sample_pack(staging, [catalog.centre])
    if pack.dataset_digest != manifest.dataset.digest or (
        pack.provenance.head != manifest.provenance_head
    ):
        raise SamplePackError(f"{source}: the sample files are not the pack the manifest names")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    fsync_dir(target.parent)
    return replace(pack, path=target)


@dataclass(frozen=True)
class SampleOffer:
    """The sample pack published with a catalogue, as its signed provenance describes it.

    ``where`` is the folder or channel URL it lies at; ``command`` is what to run there
    (pull it from a channel, check a folder's pack), ``action`` says which in words.
    """

    where: str
    action: str
    command: str
    dataset_name: str
    dataset_digest: str
    source_name: str
    source_digest: str
    licence: str
    watermark: str
    episodes: list[SampleEpisode]


def _offer(chain: ProvenanceChain, where: str, action: str, command: str) -> SampleOffer:
    statement = chain.statements[-1]
    sample = statement.sample
    if statement.statement != "sample" or sample is None:
        raise SamplePackError(f"{where}: the sample's provenance chain has no sample statement")
    return SampleOffer(
        where=where,
        action=action,
        command=command,
        dataset_name=statement.dataset.name,
        dataset_digest=statement.dataset.digest,
        source_name=sample.source.name,
        source_digest=sample.source.digest,
        licence=sample.licence,
        watermark=sample.watermark,
        episodes=list(sample.episodes),
    )


def find_sample_offer(source: str | Path, catalog: Catalog) -> SampleOffer | None:
    """The sample pack published with the catalogue at ``source`` (None if there is none).

    Only the pack's signed description is read and verified (its provenance chain, signed
    by the listing's centre; on a channel also the signed sample manifest, and the chain's
    size and sha256): what it holds, its watermark, where to pull it. Its frames are
    verified when pulled (:func:`pull_sample`). Raises ``SignatureError``,
    ``ProvenanceError``, :class:`SamplePackError` and the storage errors.

    Example::

        catalog = open_catalog_url("s3://hubei-data/offers")
        offer = find_sample_offer("s3://hubei-data/offers", catalog)
    """
    local = _is_local(source)
    if local is not None:
        pack = local / SAMPLE_DIR
        if not (pack / "embodex.json").is_file():
            return None
        try:
            data = (pack / CHAIN_FILE).read_bytes()
        except FileNotFoundError:
            raise SamplePackError(f"{pack} has no provenance chain ({CHAIN_FILE})") from None
        chain = verify_chain(parse_chain_file(data, str(pack / CHAIN_FILE)), catalog.centre)
        return _offer(chain, str(pack), "check it with", f"embodex catalog provenance {pack}")
    store = open_storage(str(source))
    read = _reader(store)
    manifest = _sample_manifest(read, catalog)
    if manifest is None:
        return None
    entry = next((f for f in manifest.files if f.path == CHAIN_FILE), None)
    if entry is None:
        raise SamplePackError(
            f"{store.url}: the sample manifest names no {CHAIN_FILE}", url=store.url
        )
    data = read(f"{SAMPLE_DIR}/{CHAIN_FILE}")
    if len(data) != entry.size or sha256_bytes(data) != entry.sha256:
        raise SamplePackError(
            f"{store.url}: {CHANNEL_PREFIX}/{SAMPLE_DIR}/{CHAIN_FILE} is not the file the "
            "signed sample manifest names (altered on the channel)",
            url=store.url,
        )
    where = f"{store.url}/{CHANNEL_PREFIX}/{SAMPLE_DIR}/{CHAIN_FILE}"
    chain = verify_chain(parse_chain_file(data, where), catalog.centre)
    if chain.head != manifest.provenance_head:
        raise SamplePackError(
            f"{store.url}: the sample's chain is not the one its manifest names", url=store.url
        )
    command = f"embodex catalog pull {store.url} -o DEST"
    return _offer(chain, store.url, "pull it (every byte verified) with", command)
