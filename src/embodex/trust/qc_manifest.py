"""Signing the QC manifest with the centre's key (the QC layer writes it as plain JSON).

The envelope signs the whole manifest object, so it must hold no floats (rates as decimal
strings). Store the envelope beside the manifest; a manifest never carries its own
signatures. Every signing the centre records (``embodex qc sign``, and each batch ``publish``
ships) adds a ``qc-signed`` entry to its ledger, named by the manifest's digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..canonical import digest_json
from ..errors import QCManifestError, TrustError
from ..format import open_dataset
from ..qc import load_qc_manifest
from .envelope import PAYLOAD_TYPES, Envelope, open_envelope, sign_payload
from .keys import Identity, Signer
from .ledger import LedgerEntry, write_and_record

__all__ = [
    "SIGNED_QC_FILE",
    "SignedQC",
    "sign_dataset_qc",
    "sign_qc_manifest",
    "verify_qc_manifest",
]

#: Where ``embodex qc sign`` puts the envelope by default, inside the dataset.
SIGNED_QC_FILE = "qc/manifest.signed.json"


def sign_qc_manifest(manifest: dict[str, Any], signer: Signer) -> Envelope:
    """Sign a QC manifest (a JSON object) with the centre's key.

    Raises :class:`TrustError` when ``signer`` is not a centre key, :class:`PayloadError` when
    the manifest holds floats.

    Example::

        env = sign_qc_manifest(json.loads(Path("ds/qc/manifest.json").read_text()),
                               load_signer("hubei-centre"))
    """
    if signer.identity.role != "centre":
        raise TrustError(
            f"QC manifests are signed by the collection centre; {signer.name!r} is a "
            f"{signer.identity.role} key",
            hint="Sign with the centre's key (`signer=`).",
            key_name=signer.name,
        )
    return sign_payload(PAYLOAD_TYPES["qc-manifest"], manifest, signer)


def verify_qc_manifest(
    envelope: Envelope | dict[str, Any] | bytes, centre: Identity
) -> dict[str, Any]:
    """Verify a QC-manifest envelope against the centre's identity and return the manifest.

    Raises :class:`SignatureError` (not signed by ``centre``, altered) or
    :class:`PayloadError`.
    """
    return open_envelope(
        envelope,
        [centre],
        payload_type=PAYLOAD_TYPES["qc-manifest"],
        required_keyids=[centre.key_id],
    )


@dataclass(frozen=True)
class SignedQC:
    """What :func:`sign_dataset_qc` wrote."""

    path: Path
    digest: str  # of the QC manifest (what the ledger entry and batch manifests name)
    dataset_digest: str
    episodes: int
    ledger_entry: LedgerEntry | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "qc_manifest_digest": self.digest,
            "dataset_digest": self.dataset_digest,
            "episodes": self.episodes,
            "ledger_seq": self.ledger_entry.seq if self.ledger_entry else None,
        }


def sign_dataset_qc(
    dataset: str | Path,
    signer: Signer,
    *,
    out: str | Path | None = None,
    record: bool = True,
    ledger: str | Path | None = None,
) -> SignedQC:
    """Sign the QC manifest of ``dataset`` with the centre's key; write the envelope to
    ``out`` (default ``DATASET/qc/manifest.signed.json``) and record ``qc-signed`` in the
    signer's ledger — both or neither.

    Raises :class:`QCManifestError` (no QC manifest, or one made for another state of the
    dataset: run QC again), :class:`TrustError` (not a centre key), ``LedgerError``.

    Example::

        signed = sign_dataset_qc("datasets/week07", load_signer("hubei-centre"))
        print(signed.path, signed.digest)
    """
    root = Path(dataset)
    ds = open_dataset(root)
    qc = load_qc_manifest(root)
    if qc.dataset_digest != ds.digest:
        raise QCManifestError(
            f"the QC manifest of {root} is for {qc.dataset_digest}, not for the dataset as it "
            f"is now ({ds.digest}): it would sign stale results",
            hint="Run `run_qc(dataset)` again, then sign.",
            path=root,
        )
    doc = qc.model_dump(mode="json")
    envelope = sign_qc_manifest(doc, signer)
    digest = digest_json(doc)
    target = Path(out) if out is not None else root / SIGNED_QC_FILE
    note = f"{qc.profile.id} v{qc.profile.version} on {ds.digest} ({len(qc.episodes)} episodes)"
    entry = write_and_record(
        target, envelope.to_json_bytes(), signer, ("qc-signed", digest, note), ledger, record
    )
    return SignedQC(target, digest, ds.digest, len(qc.episodes), entry)
