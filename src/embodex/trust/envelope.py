"""DSSE envelopes: the one signing format of every signed embodex document.

An envelope is ``{"payloadType", "payload": base64, "signatures": [{"keyid", "sig"}]}``. Each
signature is Ed25519 over the pre-authentication encoding (PAE)::

    "DSSEv1" SP len(type) SP type SP len(payload) SP payload

(lengths in ASCII decimal bytes), so the type is authenticated with the bytes and a document
of one type can never pass for another. Payloads are RFC 8785 canonical JSON without floats
(:mod:`embodex.trust.payload`). :func:`verify_envelope` checks signatures **before** anything
parses the payload; :func:`open_envelope` verifies and then parses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import PayloadError, SignatureError
from ..fsutil import atomic_write_bytes
from .keys import KEY_ID_PATTERN, Identity, Signer
from .payload import encode_payload, parse_payload

__all__ = [
    "PAYLOAD_TYPES",
    "Envelope",
    "EnvelopeSignature",
    "Verified",
    "add_signature",
    "open_envelope",
    "pae",
    "read_envelope",
    "sign_payload",
    "verify_envelope",
    "verify_signatures",
    "write_envelope",
]

#: Short name -> DSSE payloadType of every document embodex signs. Add new ones here.
PAYLOAD_TYPES: dict[str, str] = {
    "contract": "application/vnd.embodex.contract+json",
    "termination": "application/vnd.embodex.termination+json",
    "qc-manifest": "application/vnd.embodex.qc-manifest+json",
    "batch-manifest": "application/vnd.embodex.batch-manifest+json",
    "receipt": "application/vnd.embodex.receipt+json",
    "notice": "application/vnd.embodex.notice+json",
    "channel-head": "application/vnd.embodex.channel-head+json",
    "ledger-entry": "application/vnd.embodex.ledger-entry+json",
    "ledger-head": "application/vnd.embodex.ledger-head+json",
    # market (issue 8): catalogue listings and provenance statements, signed by the centre
    "listing": "application/vnd.embodex.listing+json",
    "provenance": "application/vnd.embodex.provenance+json",
    "sample-manifest": "application/vnd.embodex.sample-manifest+json",
    # a reviewer's decision, one line of a dataset's review log (issue 18)
    "review": "application/vnd.embodex.review+json",
    # personal information (issue 17): consent on record, and the buyer's deletion record
    "consent": "application/vnd.embodex.consent+json",
    "consent-withdrawal": "application/vnd.embodex.consent-withdrawal+json",
    "deletion-receipt": "application/vnd.embodex.deletion-receipt+json",
}


class EnvelopeSignature(BaseModel):
    """One signature: the signer's key id and base64 of the 64-byte Ed25519 signature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keyid: str = Field(pattern=KEY_ID_PATTERN)
    sig: str


class Envelope(BaseModel):
    """A DSSE envelope. Its payload is untrusted until :func:`verify_envelope` says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payloadType: str = Field(min_length=1)
    payload: str = Field(description="Base64 of the canonical JSON payload bytes.")
    signatures: list[EnvelopeSignature] = Field(default_factory=list)

    @property
    def keyids(self) -> list[str]:
        return [s.keyid for s in self.signatures]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def parse(cls, value: Envelope | dict[str, Any] | bytes | str) -> Envelope:
        """Read the envelope structure (not the payload). Raises :class:`SignatureError`."""
        if isinstance(value, Envelope):
            return value
        try:
            data = json.loads(value) if isinstance(value, bytes | str) else value
            return cls.model_validate(data)
        except (ValueError, ValidationError) as exc:
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise SignatureError(f"not a DSSE envelope: {detail}") from None
        except RecursionError:  # nesting no envelope has: refused, not a crash
            raise SignatureError("not a DSSE envelope: nested too deeply") from None


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding that signatures cover."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Decode standard or URL-safe base64 (padded or not), DSSE allows both; insist on the
    canonical spelling so that no edit of the text leaves the decoded bytes unchanged."""
    urlsafe = "-" in text or "_" in text
    altchars = b"-_" if urlsafe else None
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64") from None
    again = base64.b64encode(data, altchars=altchars).decode("ascii")
    if again != text and again.rstrip("=") != text:
        raise SignatureError(f"{what} is not canonical base64")
    return data


def _check_type(payload_type: str) -> None:
    if payload_type not in PAYLOAD_TYPES.values():
        raise PayloadError(
            f"unknown payload type {payload_type!r}",
            hint="Use a type from embodex.trust.PAYLOAD_TYPES.",
        )


def sign_payload(payload_type: str, value: Any, signer: Signer) -> Envelope:
    """Sign a JSON value (or canonical JSON bytes) as a one-signature envelope.

    ``value`` must follow the payload rules (no floats); bytes must already be canonical.
    Raises :class:`PayloadError`.

    Example::

        env = sign_payload(PAYLOAD_TYPES["receipt"], {"batch": 3, "hours": "12.5"}, signer)
    """
    _check_type(payload_type)
    data = value if isinstance(value, bytes) else encode_payload(value)
    if isinstance(value, bytes):
        parse_payload(data)  # same rules for pre-encoded bytes
    sig = signer.sign(pae(payload_type, data))
    return Envelope(
        payloadType=payload_type,
        payload=_b64(data),
        signatures=[EnvelopeSignature(keyid=signer.key_id, sig=_b64(sig))],
    )


def add_signature(envelope: Envelope, signer: Signer) -> Envelope:
    """A copy of ``envelope`` with ``signer``'s signature added (countersigning).

    It signs the exact payload bytes already in the envelope. Raises :class:`SignatureError`
    when that key has signed already.
    """
    if signer.key_id in envelope.keyids:
        raise SignatureError(
            f"{signer.name} ({signer.key_id}) has already signed this document",
            hint="Nothing to do: each key signs once.",
        )
    data = _unb64(envelope.payload, "payload")
    sig = signer.sign(pae(envelope.payloadType, data))
    return envelope.model_copy(
        update={
            "signatures": [
                *envelope.signatures,
                EnvelopeSignature(keyid=signer.key_id, sig=_b64(sig)),
            ]
        }
    )


@dataclass(frozen=True)
class Verified:
    """What :func:`verify_signatures` established."""

    payload: bytes
    signers: list[Identity]  # trusted keys whose signature verified, in envelope order
    untrusted_keyids: list[str]  # signatures by keys not in the trusted list (not checked)


def verify_signatures(
    envelope: Envelope | dict[str, Any] | bytes | str,
    trusted: Iterable[Identity],
    *,
    payload_type: str,
) -> Verified:
    """Verify every signature made by a trusted key; report the others without checking them.

    Raises :class:`SignatureError` for a wrong payload type, a duplicate key id, a signature
    by a trusted key that does not verify (tampering), or no valid trusted signature at all.
    """
    env = Envelope.parse(envelope)
    if env.payloadType != payload_type:
        raise SignatureError(f"expected a document of type {payload_type}, got {env.payloadType}")
    if not env.signatures:
        raise SignatureError("the document carries no signature")
    keyids = env.keyids
    if len(set(keyids)) != len(keyids):
        raise SignatureError("the document lists the same key's signature twice")
    by_id = {ident.key_id: ident for ident in trusted}
    data = _unb64(env.payload, "payload")
    message = pae(env.payloadType, data)
    signers: list[Identity] = []
    untrusted: list[str] = []
    for entry in env.signatures:
        ident = by_id.get(entry.keyid)
        if ident is None:
            untrusted.append(entry.keyid)
            continue
        sig = _unb64(entry.sig, f"signature of {entry.keyid}")
        if not ident.verifies(sig, message):
            raise SignatureError(
                f"the signature of {ident.name} ({ident.key_id}) does not verify: "
                "the document was altered after signing"
            )
        signers.append(ident)
    if not signers:
        raise SignatureError(
            "no signature by a trusted key (signed by " + ", ".join(keyids) + ")",
            hint="Check that you trust the signer's identity, or ask for a correctly signed copy.",
        )
    return Verified(payload=data, signers=signers, untrusted_keyids=untrusted)


def verify_envelope(
    envelope: Envelope | dict[str, Any] | bytes | str,
    trusted: Sequence[Identity],
    *,
    payload_type: str,
    required_keyids: Iterable[str] | None = None,
) -> bytes:
    """Verify the envelope and return its payload bytes (not parsed).

    Passes when every signature by a trusted key verifies, at least one does, and every key in
    ``required_keyids`` signed. Signatures by keys outside ``trusted`` are ignored, as DSSE
    says. Raises :class:`SignatureError`.

    Example::

        data = verify_envelope(env, [centre], payload_type=PAYLOAD_TYPES["qc-manifest"],
                               required_keyids=[centre.key_id])
    """
    verified = verify_signatures(envelope, trusted, payload_type=payload_type)
    have = {ident.key_id for ident in verified.signers}
    names = {ident.key_id: ident.name for ident in trusted}
    for keyid in required_keyids or ():
        if keyid not in have:
            raise SignatureError(f"missing the signature of {names.get(keyid, keyid)} ({keyid})")
    return verified.payload


def open_envelope(
    envelope: Envelope | dict[str, Any] | bytes | str,
    trusted: Sequence[Identity],
    *,
    payload_type: str,
    required_keyids: Iterable[str] | None = None,
) -> dict[str, Any]:
    """:func:`verify_envelope`, then parse the payload as a JSON object (strictly).

    Raises :class:`SignatureError` or :class:`PayloadError`.
    """
    data = verify_envelope(
        envelope, trusted, payload_type=payload_type, required_keyids=required_keyids
    )
    value = parse_payload(data)
    if not isinstance(value, dict):
        raise PayloadError("the payload is not a JSON object")
    return value


def read_envelope(path: str | Path) -> Envelope:
    """Read an envelope file's structure (nothing verified yet)."""
    return Envelope.parse(Path(path).read_bytes())


def write_envelope(path: str | Path, envelope: Envelope) -> None:
    """Write an envelope file atomically."""
    atomic_write_bytes(path, envelope.to_json_bytes())
