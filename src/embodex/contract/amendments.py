"""Amending and terminating an agreed contract.

An amendment is a whole new version (``version`` + 1, ``replaces`` = the digest of the
version in force) that takes effect only when both parties have signed it; until then the
previous version stays in force. A termination is a notice signed by one party, with a reason
and an effective date, added to the contract file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from ..canonical import digest_json
from ..errors import ContractError, ContractStateError
from ..trust.documents import sign_model
from ..trust.keys import Identity, Signer
from ..trust.ledger import write_and_record
from .file import ContractFile, verify_contract_document, verify_contract_file
from .lifecycle import Termination
from .sign import ContractAction, refuse_existing, require_party, require_profile, trust_for
from .yamlio import contract_data_from_yaml, contract_from_data

__all__ = ["amend_contract", "terminate_contract"]


def amend_contract(
    path: str | Path,
    changes: str | Path,
    signer: Signer,
    *,
    out: str | Path | None = None,
    trusted: Sequence[Identity] | None = None,
    at: date | None = None,
    record: bool = True,
    ledger: str | Path | None = None,
) -> ContractAction:
    """Offer an amendment: ``changes`` is the full contract YAML of the new version.

    ``version`` and ``replaces`` are filled in when the YAML leaves them out (or still has
    the old version number). The new file (default ``<contract_id>-v<N>.signed.json``) holds
    the new version signed by ``signer`` and every earlier version; the other party signs
    it with :func:`sign_contract`. Raises :class:`ContractStateError` (not agreed, expired,
    terminated, an amendment already pending) or :class:`ContractError`.

    Example::

        amend_contract("contract.signed.json", "contract-v2.yaml", load_signer("hubei-centre"))
    """
    src = Path(path)
    trust = trust_for(signer, trusted)
    current = verify_contract_file(src, trust, at=at)
    if current.pending_amendment or len(current.latest_signers) < 2:
        raise ContractStateError(
            f"version {current.latest.version} of {current.latest.contract_id} still awaits a "
            "signature",
            hint="Sign (or abandon) that version before proposing another.",
        )
    current.require_in_force()
    old = current.contract
    changes_path = Path(changes)
    data = contract_data_from_yaml(changes_path.read_text(encoding="utf-8"), str(changes_path))
    if data.get("version") in (None, old.version):
        data["version"] = old.version + 1
    if data.get("replaces") is None:
        data["replaces"] = old.digest
    new = contract_from_data(data, str(changes_path))
    if new.version != old.version + 1 or new.replaces != old.digest:
        raise ContractError(
            f"{changes_path}: an amendment of version {old.version} must be version "
            f"{old.version + 1} and replace {old.digest}",
            hint="Remove `version` and `replaces`; embodex fills them in.",
        )
    if new.contract_id != old.contract_id:
        raise ContractError(f"{changes_path}: contract_id must stay {old.contract_id!r}")
    old_keys = (old.parties.centre.key_id, old.parties.buyer.key_id)
    if (new.parties.centre.key_id, new.parties.buyer.key_id) != old_keys:
        raise ContractError(
            f"{changes_path}: an amendment cannot change the centre's or the buyer's key",
            hint="Draft a new contract between the new keys instead.",
        )
    if new.model_dump(exclude={"version", "replaces"}) == old.model_dump(
        exclude={"version", "replaces"}
    ):
        raise ContractError(f"{changes_path} changes nothing in version {old.version}")
    require_party(new, signer)
    require_profile(new, changes_path)
    target = Path(out) if out else src.with_name(f"{new.contract_id}-v{new.version}.signed.json")
    refuse_existing(target)
    document = ContractFile(
        envelope=sign_model("contract", new, signer),
        previous=[*current.document.previous, current.document.envelope],
    )
    verified = verify_contract_document(document, trust, at=at, path=target)
    entry = write_and_record(
        target,
        document.to_json_bytes(),
        signer,
        (
            "amendment-offered",
            new.digest,
            f"{new.contract_id} v{new.version} replaces v{old.version}",
        ),
        ledger,
        record,
    )
    return ContractAction(
        path=target, event="amendment-offered", verified=verified, ledger_entry=entry
    )


def terminate_contract(
    path: str | Path,
    signer: Signer,
    reason: str,
    *,
    effective: date | None = None,
    out: str | Path | None = None,
    trusted: Sequence[Identity] | None = None,
    at: date | None = None,
    record: bool = True,
    ledger: str | Path | None = None,
) -> ContractAction:
    """Terminate an agreed contract with a signed notice (effective today unless given).

    The file is updated in place unless ``out`` is given. Raises :class:`ContractStateError`
    (already terminated, expired, never agreed) or :class:`ContractError` (no reason, a date
    in the past or after the end, signer not a party).

    Example::

        terminate_contract("contract.signed.json", load_signer("agibot"),
                           "repeated late deliveries (periods 3-5)")
    """
    src = Path(path)
    trust = trust_for(signer, trusted)
    current = verify_contract_file(src, trust, at=at)
    if current.termination is not None:
        raise ContractStateError(
            f"contract {current.contract.contract_id} is already terminated (effective "
            f"{current.termination.effective_date}): {current.termination.reason}",
            hint="Nothing to do.",
        )
    current.require_in_force()
    contract = current.contract
    require_party(contract, signer)
    if not reason.strip():
        raise ContractError("a termination needs a reason", hint="Pass the reason (`reason=`).")
    when = effective or current.at
    if when < current.at or when > contract.schedule.end_date:
        raise ContractError(
            f"effective date {when} must lie between today ({current.at}) and the contract's "
            f"end ({contract.schedule.end_date})"
        )
    notice = Termination(
        contract_id=contract.contract_id,
        contract_digest=contract.digest,
        reason=reason.strip(),
        effective_date=when,
        issued_at=datetime.now(UTC).replace(microsecond=0),
        issued_by=signer.key_id,
    )
    document = current.document.model_copy(
        update={"termination": sign_model("termination", notice, signer)}
    )
    target = Path(out) if out else src
    verified = verify_contract_document(document, trust, at=at, path=target)
    event = (
        "contract-terminated",
        digest_json(notice.model_dump(mode="json")),
        f"{contract.contract_id}: {notice.reason}",
    )
    entry = write_and_record(target, document.to_json_bytes(), signer, event, ledger, record)
    return ContractAction(
        path=target, event="contract-terminated", verified=verified, ledger_entry=entry
    )
