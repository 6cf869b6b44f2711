"""Trust: identities and keys, signed documents, data service contracts, a tamper-evident ledger.

* keys — Ed25519 identities (:func:`generate_key`, :func:`load_signer`, :func:`load_identity`)
* envelope — DSSE envelopes over RFC 8785 payloads (:func:`sign_payload`,
  :func:`verify_envelope`, :func:`open_envelope`, :data:`PAYLOAD_TYPES`)
* contracts — model, YAML, lifecycle, signing, amendment, termination, verification
* checking — a batch against its contract (:func:`check_batch`), receipts and supply
* ledger — append-only signed hash chain per party (:class:`Ledger`, :func:`verify_ledger`)

Specs: ``specs/signing.md``, ``specs/contract.md``, ``specs/ledger.md``.
"""

from .amendments import amend_contract, terminate_contract
from .checking import BatchSummary, EpisodeSummary, Violation, check_batch
from .contract_file import (
    ContractFile,
    VerifiedContract,
    read_contract_file,
    verify_contract_file,
)
from .contract_model import Contract
from .contract_sign import ContractAction, sign_contract
from .contract_yaml import contract_from_yaml, load_contract_yaml
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
    KeyInfo,
    Signer,
    export_identity,
    generate_key,
    import_identity,
    key_id_for,
    key_is_encrypted,
    list_keys,
    load_identity,
    load_signer,
)
from .ledger import LEDGER_KINDS, Ledger, LedgerEntry, ledger_path
from .ledger_verify import LedgerProblem, LedgerReport, verify_ledger
from .lifecycle import ContractState, Termination
from .qc_manifest import SignedQC, sign_dataset_qc, sign_qc_manifest, verify_qc_manifest
from .receipts import Receipt, build_receipt, open_receipt, sign_receipt
from .supply import SupplyStatus, supply_status
from .templates import render_template

__all__ = [
    "LEDGER_KINDS",
    "PAYLOAD_TYPES",
    "BatchSummary",
    "Contract",
    "ContractAction",
    "ContractFile",
    "ContractState",
    "Envelope",
    "EpisodeSummary",
    "Identity",
    "KeyInfo",
    "Ledger",
    "LedgerEntry",
    "LedgerProblem",
    "LedgerReport",
    "Receipt",
    "SignedQC",
    "Signer",
    "SupplyStatus",
    "Termination",
    "VerifiedContract",
    "Violation",
    "add_signature",
    "amend_contract",
    "build_receipt",
    "check_batch",
    "contract_from_yaml",
    "export_identity",
    "generate_key",
    "import_identity",
    "key_id_for",
    "key_is_encrypted",
    "ledger_path",
    "list_keys",
    "load_contract_yaml",
    "load_identity",
    "load_signer",
    "open_envelope",
    "open_model",
    "open_receipt",
    "pae",
    "read_contract_file",
    "render_template",
    "sign_contract",
    "sign_dataset_qc",
    "sign_model",
    "sign_payload",
    "sign_qc_manifest",
    "sign_receipt",
    "supply_status",
    "terminate_contract",
    "verify_contract_file",
    "verify_envelope",
    "verify_ledger",
    "verify_qc_manifest",
]
