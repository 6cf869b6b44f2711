"""Contract: the data service contract both parties sign, and its rules (specs/contract.md).

* model, yamlio — the contract model and its YAML form (:class:`Contract`,
  :func:`load_contract_yaml`, :func:`contract_from_yaml`); templates for new drafts
* sign, file — signing the offer and the acceptance, reading and verifying a signed contract
  (:func:`sign_contract`, :func:`verify_contract_file`)
* lifecycle, amendments — states, amendment and termination
* periods — delivery periods in the contract's time zone
* checking — a batch against its contract (:func:`check_batch`)
* receipts — the buyer's signed receipt per batch (:func:`build_receipt`, :func:`sign_receipt`)
  and the rules every party applies to receipts (which contract, which batches replaceable)
* supply — every supply figure: hours due, delivered, accepted and the amount due per period
  and the periods a view lists (:func:`supply_status`), revocations netted out
  (``supply.net_supply``), the centre's plan (``supply.collection_plan``)
* summary — a contract described in one object for people

It stands on :mod:`embodex.trust` (keys, envelopes, ledger); delivery reads and writes the
documents, this package holds the rules.

Example::

    from embodex.contract import verify_contract_file
    vc = verify_contract_file("contract.signed.json")
    print(vc.contract.contract_id, vc.state)
"""

from .amendments import amend_contract, terminate_contract
from .checking import BatchSummary, EpisodeSummary, Violation, check_batch
from .file import ContractFile, VerifiedContract, read_contract_file, verify_contract_file
from .lifecycle import ContractState, Termination
from .model import Contract
from .receipts import Receipt, build_receipt, open_receipt, sign_receipt
from .sign import ContractAction, sign_contract
from .supply import SupplyStatus, supply_status
from .templates import render_template
from .yamlio import contract_from_yaml, load_contract_yaml

__all__ = [
    "BatchSummary",
    "Contract",
    "ContractAction",
    "ContractFile",
    "ContractState",
    "EpisodeSummary",
    "Receipt",
    "SupplyStatus",
    "Termination",
    "VerifiedContract",
    "Violation",
    "amend_contract",
    "build_receipt",
    "check_batch",
    "contract_from_yaml",
    "load_contract_yaml",
    "open_receipt",
    "read_contract_file",
    "render_template",
    "sign_contract",
    "sign_receipt",
    "supply_status",
    "terminate_contract",
    "verify_contract_file",
]
