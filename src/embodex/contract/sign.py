"""Signing a contract: a YAML draft becomes an offer; a countersignature makes it agreed.

Every action verifies what it starts from, checks the signer is a party and the contract is
still open, checks the signer's ledger will take the event, writes the new file atomically,
and then records the event in the ledger (putting the file back if that fails). On any
error nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ContractError, ContractStateError, SignatureError
from ..trust.documents import sign_model
from ..trust.envelope import add_signature
from ..trust.keys import Identity, Signer
from ..trust.ledger import LedgerEntry, write_and_record
from .file import (
    ContractFile,
    VerifiedContract,
    contract_today,
    default_trusted,
    is_signed_contract_file,
    read_contract_file,
    verify_contract_document,
)
from .lifecycle import ContractState
from .model import Contract
from .templates import UNSET_DIGEST
from .yamlio import load_contract_yaml

__all__ = [
    "ContractAction",
    "refuse_existing",
    "require_party",
    "require_profile",
    "sign_contract",
    "trust_for",
]


@dataclass(frozen=True)
class ContractAction:
    """What a contract action did: the file written, the event, the verified result."""

    path: Path
    event: str
    verified: VerifiedContract
    ledger_entry: LedgerEntry | None

    def to_json(self) -> dict[str, Any]:
        """The action and the contract's summary (``embodex contract sign … --json``)."""
        from .summary import describe_contract

        return {
            "path": str(self.path),
            "event": self.event,
            "ledger_seq": self.ledger_entry.seq if self.ledger_entry else None,
            "contract": describe_contract(self.verified),
        }


def require_party(contract: Contract, signer: Signer) -> None:
    """Raise :class:`ContractError` unless ``signer`` is the contract's centre or buyer."""
    parties = contract.parties
    if signer.key_id not in (parties.centre.key_id, parties.buyer.key_id):
        raise ContractError(
            f"key {signer.name!r} ({signer.key_id}) is not a party to contract "
            f"{contract.contract_id}: it names centre {parties.centre.name!r} "
            f"({parties.centre.key_id}) and buyer {parties.buyer.name!r} ({parties.buyer.key_id})",
            hint="Sign with the centre's or the buyer's key (`signer=`).",
            key_name=signer.name,
            key_id=signer.key_id,
        )


def require_profile(contract: Contract, where: Path) -> None:
    """Raise :class:`ContractError` when the contract names the all-zero QC profile digest
    (the "fill me in" of older templates): nobody can have agreed to that profile."""
    if contract.acceptance.qc_profile_digest == UNSET_DIGEST:
        raise ContractError(
            f"{where}: acceptance.qc_profile_digest is the placeholder {UNSET_DIGEST[:15]}…, "
            "not the digest of a QC profile",
            hint="Set it to the agreed profile's digest (see `default_profile().digest` for the "
            "built-in one's), or draft again with `render_template(centre=..., buyer=...)`.",
            path=where,
            field="acceptance.qc_profile_digest",
        )


def _require_open(contract: Contract, today: date) -> None:
    if today > contract.schedule.end_date:
        raise ContractStateError(
            f"contract {contract.contract_id} ended on {contract.schedule.end_date}; "
            "it can no longer be signed or amended",
            hint="Draft a new contract with new dates (`render_template(centre=..., buyer=...)`).",
        )


def trust_for(signer: Signer, trusted: Sequence[Identity] | None) -> list[Identity]:
    """The keys a signer's action trusts: its own, plus ``trusted`` (default: the key store)."""
    return [signer.identity, *(trusted if trusted is not None else default_trusted())]


def refuse_existing(out: Path) -> None:
    if out.exists():
        raise ContractError(
            f"{out} already exists", hint="Pass a new file name (`out=`), or remove it.", path=out
        )


def sign_contract(
    source: str | Path,
    signer: Signer,
    *,
    out: str | Path | None = None,
    trusted: Sequence[Identity] | None = None,
    at: date | None = None,
    record: bool = True,
    ledger: str | Path | None = None,
) -> ContractAction:
    """Sign a YAML draft (makes an offer) or countersign a signed contract file.

    A draft ``x.yaml`` is written to ``out`` (default ``x.signed.json``, never overwritten); a
    signed file is updated in place unless ``out`` is given. Raises :class:`ContractError`
    (invalid contract, signer not a party), :class:`ContractStateError` (expired, terminated,
    already agreed) or :class:`SignatureError` (the file does not verify, key already signed).

    Example::

        sign_contract("contract.yaml", load_signer("hubei-centre"))        # OFFERED
        sign_contract("contract.signed.json", load_signer("agibot"))       # AGREED
    """
    src = Path(source)
    trust = trust_for(signer, trusted)
    if not is_signed_contract_file(src):
        contract = load_contract_yaml(src)
        if contract.version != 1:
            raise ContractError(
                f"{src} is version {contract.version}, an amendment",
                hint="Amend the signed contract instead: `amend_contract(path, changes, signer)`.",
                path=src,
            )
        require_party(contract, signer)
        require_profile(contract, src)
        _require_open(contract, at or contract_today(contract))
        target = Path(out) if out else src.with_name(f"{src.stem}.signed.json")
        refuse_existing(target)
        document = ContractFile(envelope=sign_model("contract", contract, signer))
        verified = verify_contract_document(document, trust, at=at, path=target)
        event = "contract-offered"
    else:
        current = verify_contract_document(read_contract_file(src), trust, at=at, path=src)
        latest = current.latest
        require_party(latest, signer)
        require_profile(latest, src)
        signers = {p.key_id for p in current.latest_signers}
        if signer.key_id in signers:
            both = len(signers) >= 2
            raise SignatureError(
                f"{signer.name} has already signed version {latest.version} of "
                f"{latest.contract_id}" + (" (both parties have)" if both else ""),
                hint=(
                    "Nothing to do: the contract is signed by both parties."
                    if both
                    else "Nothing to do; the other party signs next."
                ),
            )
        if current.state is ContractState.TERMINATED:
            current.require_in_force()
        _require_open(latest, current.at)
        target = Path(out) if out else src
        if target != src:
            refuse_existing(target)
        document = current.document.model_copy(
            update={"envelope": add_signature(current.document.envelope, signer)}
        )
        verified = verify_contract_document(document, trust, at=at, path=target)
        event = "contract-agreed" if latest.version == 1 else "contract-amended"
        if len(verified.latest_signers) < 2:
            event = "contract-offered" if latest.version == 1 else "amendment-offered"
    c = verified.latest
    entry = write_and_record(
        target,
        document.to_json_bytes(),
        signer,
        (event, c.digest, f"{c.contract_id} v{c.version}"),
        ledger,
        record,
    )
    return ContractAction(path=target, event=event, verified=verified, ledger_entry=entry)
