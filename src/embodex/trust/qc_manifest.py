"""Signing the QC manifest with the centre's key (the QC layer writes it as plain JSON).

The envelope signs the whole manifest object, so it must hold no floats (rates as decimal
strings). Store the envelope beside the manifest; a manifest never carries its own
signatures.
"""

from __future__ import annotations

from typing import Any

from ..errors import TrustError
from .envelope import PAYLOAD_TYPES, Envelope, open_envelope, sign_payload
from .keys import Identity, Signer

__all__ = ["sign_qc_manifest", "verify_qc_manifest"]


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
            hint="Sign with the centre's key (--key CENTRE).",
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
