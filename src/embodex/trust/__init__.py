"""Trust: identities and keys, signed documents, a tamper-evident ledger — signing only.

* keys — Ed25519 identities (:func:`generate_key`, :func:`load_signer`, :func:`load_identity`)
* payload, envelope — DSSE envelopes over RFC 8785 payloads (:func:`sign_payload`,
  :func:`verify_envelope`, :func:`open_envelope`, :data:`PAYLOAD_TYPES`)
* documents — a pydantic model signed or opened in one call (:func:`sign_model`, :func:`open_model`)
* ledger — append-only signed hash chain per party (:class:`Ledger`, :func:`verify_ledger`);
  ledger_files — which ledger a party means, read or checked in one call (:func:`read_ledger`,
  :func:`check_ledger`)
* qc_manifest — a dataset's QC manifest signed by the centre (:func:`sign_dataset_qc`)
* reviews — review decisions signed by the reviewer (:func:`record_signed_review`,
  :func:`check_review_log`)
* types — the shared value types of signed documents (digests, timestamps, decimals)

The data service contract and its rules (periods, checking, receipts, supply) are
:mod:`embodex.contract`, the layer above. Specs: ``specs/signing.md``, ``specs/ledger.md``.
"""

from .documents import open_model, sign_model
from .envelope import (
    PAYLOAD_TYPES,
    Envelope,
    add_signature,
    open_envelope,
    pae,
    sign_payload,
    verify_envelope,
)
from .keys import (
    Identity,
    KeyDetails,
    KeyInfo,
    NewKey,
    Signer,
    create_key,
    describe_key,
    export_identity,
    generate_key,
    import_identity,
    key_id_for,
    key_is_encrypted,
    list_keys,
    load_identity,
    load_signer,
    trusted_identities,
)
from .ledger import LEDGER_KINDS, Ledger, LedgerEntry, ledger_path
from .ledger_files import LedgerView, check_ledger, find_ledger, read_ledger
from .ledger_verify import LedgerProblem, LedgerReport, verify_ledger
from .qc_manifest import SignedQC, sign_dataset_qc, sign_qc_manifest, verify_qc_manifest
from .reviews import (
    CheckedReview,
    ReviewLogCheck,
    check_review_log,
    check_reviews,
    record_signed_review,
    set_signed_review,
    verify_review,
)

__all__ = [
    "LEDGER_KINDS",
    "PAYLOAD_TYPES",
    "CheckedReview",
    "Envelope",
    "Identity",
    "KeyDetails",
    "KeyInfo",
    "Ledger",
    "LedgerEntry",
    "LedgerProblem",
    "LedgerReport",
    "LedgerView",
    "NewKey",
    "ReviewLogCheck",
    "SignedQC",
    "Signer",
    "add_signature",
    "check_ledger",
    "check_review_log",
    "check_reviews",
    "create_key",
    "describe_key",
    "export_identity",
    "find_ledger",
    "generate_key",
    "import_identity",
    "key_id_for",
    "key_is_encrypted",
    "ledger_path",
    "list_keys",
    "load_identity",
    "load_signer",
    "open_envelope",
    "open_model",
    "pae",
    "read_ledger",
    "record_signed_review",
    "set_signed_review",
    "sign_dataset_qc",
    "sign_model",
    "sign_payload",
    "sign_qc_manifest",
    "trusted_identities",
    "verify_envelope",
    "verify_ledger",
    "verify_qc_manifest",
    "verify_review",
]
