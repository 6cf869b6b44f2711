"""Review decisions signed with the reviewer's key.

The review log (``reviews/log.jsonl``, :mod:`embodex.qc.reviewlog`) is hash-chained; a
signature adds *who* decided: each line may carry ``signature: {keyid, sig}``, Ed25519 over
the DSSE pre-authentication encoding of ``application/vnd.embodex.review+json`` and the
entry's canonical JSON without its signature (its ``seq`` and ``prev`` included, so a signed
decision cannot be replayed at another place in the chain). The signature is made inside the
log's lock, once the entry's place is known, so any number of reviewers may append at once.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ReviewError, SignatureError, TrustError
from ..qc.manifest import QCManifest
from ..qc.review import ReviewRecorded, list_reviews, record_review, set_review
from ..qc.reviewlog import ReviewEntry, ReviewSignature, SignFn, signed_bytes
from ..units import count, plural
from .envelope import PAYLOAD_TYPES, pae
from .keys import Identity, Signer, list_keys

__all__ = [
    "REVIEW_PAYLOAD_TYPE",
    "CheckedReview",
    "ReviewLogCheck",
    "check_review_log",
    "check_reviews",
    "record_signed_review",
    "review_signer",
    "set_signed_review",
    "verify_review",
]

REVIEW_PAYLOAD_TYPE = PAYLOAD_TYPES["review"]
#: Key roles that may sign review decisions (a buyer reviews with its own QC, not this log).
SIGNING_ROLES = ("reviewer", "centre")


def review_signer(signer: Signer) -> SignFn:
    """The function :func:`embodex.qc.reviewlog.append_review` calls to sign an entry."""
    if signer.identity.role not in SIGNING_ROLES:
        raise TrustError(
            f"review decisions are signed by a reviewer (or centre) key; {signer.name!r} is a "
            f"{signer.identity.role} key",
            hint="Make one with `generate_key(name, 'reviewer')`.",
            key_name=signer.name,
        )

    def sign(data: bytes) -> ReviewSignature:
        sig = signer.sign(pae(REVIEW_PAYLOAD_TYPE, data))
        return ReviewSignature(keyid=signer.key_id, sig=base64.b64encode(sig).decode("ascii"))

    return sign


def record_signed_review(
    dataset: str | Path,
    episode_id: str,
    *,
    verdict: Literal["accept", "reject", "flag"],
    reason: str,
    signer: Signer,
    note: str | None = None,
) -> tuple[ReviewEntry, QCManifest]:
    """:func:`embodex.qc.review.record_review` with the decision signed by ``signer``; the
    reviewer id is the key's name.

    Raises ``TrustError`` for a key that may not sign reviews, and whatever
    ``record_review`` raises (``ReviewError``, ``QCManifestError``).

    Example::

        entry, manifest = record_signed_review(
            "datasets/week01", "centre:0042", verdict="reject", reason="operator_error",
            signer=load_signer("rev-007"), note="regrasps twice")
    """
    return record_review(
        dataset,
        episode_id,
        verdict=verdict,
        reason=reason,
        reviewer=signer.name,
        note=note,
        sign=review_signer(signer),
    )


def verify_review(entry: ReviewEntry, trusted: list[Identity]) -> Identity | None:
    """The trusted identity whose signature ``entry`` carries, or None when the entry is
    unsigned or signed by a key outside ``trusted``.

    Raises :class:`SignatureError` when a trusted key's signature does not verify (the line
    was altered after signing)."""
    if entry.signature is None:
        return None
    ident = next((i for i in trusted if i.key_id == entry.signature.keyid), None)
    if ident is None:
        return None
    sig = base64.b64decode(entry.signature.sig, validate=True)
    if not ident.verifies(sig, pae(REVIEW_PAYLOAD_TYPE, signed_bytes(entry))):
        raise SignatureError(
            f"review #{entry.seq} ({entry.episode_id}) carries a signature of {ident.name} "
            f"({ident.key_id}) that does not verify: the line was altered after signing",
            hint="The log is append-only: restore it from a backup.",
        )
    return ident


@dataclass(frozen=True)
class CheckedReview:
    """One log entry and what its signature established."""

    entry: ReviewEntry
    signer: Identity | None  # None: unsigned, or signed by a key not trusted here
    status: Literal["signed", "unsigned", "untrusted"]


def check_review_log(
    dataset: str | Path, trusted: list[Identity] | None = None
) -> list[CheckedReview]:
    """Every entry of the dataset's review log (chain and recorded head checked) with the
    trusted signer of each (``trusted`` default: every identity in the key store). Raises
    ``ReviewError`` (broken chain) or ``SignatureError`` (a trusted key's signature that does
    not verify).

    Example::

        for c in check_review_log("datasets/week01", [load_identity("rev-007")]):
            print(c.entry.seq, c.entry.episode_id, c.entry.verdict, c.status)
    """
    if trusted is None:
        trusted = [k.identity for k in list_keys()]
    out = []
    for entry in list_reviews(dataset):
        ident = verify_review(entry, trusted)
        status: Literal["signed", "unsigned", "untrusted"] = (
            "signed" if ident else "unsigned" if entry.signature is None else "untrusted"
        )
        out.append(CheckedReview(entry, ident, status))
    return out


def set_signed_review(
    dataset: str | Path,
    episode_id: str,
    *,
    verdict: Literal["accept", "reject", "flag"],
    reason: str,
    signer: Signer,
    note: str | None = None,
) -> ReviewRecorded:
    """:func:`record_signed_review` as a typed result (``embodex review set --key``)."""
    return set_review(
        dataset,
        episode_id,
        verdict=verdict,
        reason=reason,
        reviewer=signer.name,
        note=note,
        sign=review_signer(signer),
    )


@dataclass(frozen=True)
class ReviewLogCheck:
    """The review log checked (``embodex review verify``): each decision and its signer."""

    reviews: list[CheckedReview]

    @property
    def signed(self) -> int:
        """Decisions signed by a trusted key."""
        return sum(c.status == "signed" for c in self.reviews)

    @property
    def not_signed(self) -> int:
        """Decisions unsigned or signed by a key not trusted here."""
        return len(self.reviews) - self.signed

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "seq": c.entry.seq,
                "episode_id": c.entry.episode_id,
                "verdict": c.entry.verdict,
                "reviewer": c.entry.reviewer,
                "status": c.status,
                "signer": c.signer.name if c.signer else None,
                "keyid": c.entry.signature.keyid if c.entry.signature else None,
            }
            for c in self.reviews
        ]

    def require_signed(self) -> None:
        """Raise ``ReviewError`` unless every decision is signed by a trusted key."""
        if self.not_signed:
            raise ReviewError(
                f"{count(self.not_signed, 'decision')} {plural('is', self.not_signed)} not "
                "signed by a trusted key",
                hint="Trust the reviewers' identities (`trusted=`), or have them sign their "
                "decisions (`set_signed_review(...)`).",
            )


def check_reviews(dataset: str | Path, trusted: list[Identity] | None = None) -> ReviewLogCheck:
    """:func:`check_review_log` as a typed result."""
    return ReviewLogCheck(check_review_log(dataset, trusted))
