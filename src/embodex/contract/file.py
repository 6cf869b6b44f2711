"""The signed contract file and its verification.

A signed contract file is JSON::

    {"kind": "embodex.contract-file",
     "envelope": <DSSE envelope of the newest version>,
     "previous": [<DSSE envelopes of earlier, agreed versions, oldest first>],
     "termination": <DSSE envelope of the termination notice> | null}

Only signed payloads are trusted; nothing else in the file is. Verification:

1. the newest version's envelope must carry a valid signature by a key the verifier already
   trusts (its own key or an identity it imported) — that authenticates the payload;
2. only then is the payload parsed; every signature on it must be by the contract's centre or
   buyer, and a trusted identity that shares a party's name must have the party's key;
3. each earlier version is authenticated by the hash chain (``replaces`` = its digest) and
   must carry both parties' signatures; version numbers count up by one, parties stay;
4. a termination must be signed by a party and name a version of this contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from ..errors import ContractError, ContractStateError, SignatureError
from ..fsutil import atomic_write_bytes
from ..parsing import MAX_INPUT_BYTES, describe_validation_error, read_bounded
from ..trust.documents import model_from_payload
from ..trust.envelope import PAYLOAD_TYPES, Envelope, verify_signatures
from ..trust.keys import Identity, list_keys
from ..trust.payload import parse_payload
from ..trust.types import TrustModel
from .lifecycle import IN_FORCE, ContractState, Termination, contract_state
from .model import Contract, Party
from .periods import zone

__all__ = [
    "ContractFile",
    "VerifiedContract",
    "contract_today",
    "default_trusted",
    "is_signed_contract_file",
    "read_contract_file",
    "verify_contract_document",
    "verify_contract_file",
    "write_contract_file",
]


class ContractFile(TrustModel):
    """The on-disk form of a signed contract (see the module docstring)."""

    kind: Literal["embodex.contract-file"] = "embodex.contract-file"
    envelope: Envelope
    previous: list[Envelope] = Field(default_factory=list)
    termination: Envelope | None = None

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def is_signed_contract_file(path: str | Path) -> bool:
    """True when ``path`` holds a signed contract file (JSON: a contract file or bare
    envelope) — also a damaged one (a JSON object naming an envelope that does not parse,
    e.g. truncated), so it is reported as such rather than as bad YAML; False for YAML."""
    raw = read_bounded(path, limit=MAX_INPUT_BYTES, error=ContractError)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = raw.lstrip()
        return text.startswith(b"{") and (b'"envelope"' in text or b'"payloadType"' in text)
    return isinstance(data, dict)


def read_contract_file(path: str | Path) -> ContractFile:
    """Read a contract file's structure (nothing verified). A bare DSSE envelope is accepted.

    Raises :class:`ContractError`.
    """
    p = Path(path)
    raw = read_bounded(p, limit=MAX_INPUT_BYTES, error=ContractError)
    not_json = ContractError(
        f"{p} is not a signed contract file (JSON)",
        hint="A YAML draft is signed first: `sign_contract(path, signer)`.",
        path=p,
    )
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        if raw.lstrip().startswith(b"{"):
            raise ContractError(
                f"{p} is a damaged signed contract file: invalid JSON at line {exc.lineno} "
                f"column {exc.colno} ({exc.msg})",
                hint="It may be truncated: get an intact copy from whoever signed it.",
            ) from None
        raise not_json from None
    except (ValueError, UnicodeDecodeError):
        raise not_json from None
    except RecursionError:
        raise ContractError(f"{p} nests too deeply to be a signed contract file", path=p) from None
    if isinstance(data, dict) and "payloadType" in data:
        data = {"envelope": data}
    try:
        return ContractFile.model_validate(data)
    except ValidationError as exc:
        raise ContractError(
            f"{p} is not a signed contract file: {describe_validation_error(exc)}"
        ) from None


def write_contract_file(path: str | Path, document: ContractFile) -> None:
    atomic_write_bytes(path, document.to_json_bytes())


def default_trusted() -> list[Identity]:
    """Every identity in the local key store: the keys this machine already trusts."""
    return [info.identity for info in list_keys()]


def contract_today(contract: Contract) -> date:
    """Today's date in the contract's time zone."""
    return datetime.now(zone(contract.schedule.timezone)).date()


@dataclass(frozen=True)
class VerifiedContract:
    """A contract file whose signatures, chain and termination all verified.

    ``contract`` is the version in force (the newest one both parties signed, or the newest
    one when none is agreed yet); ``latest`` is the newest version in the file, which differs
    from ``contract`` while an amendment awaits its second signature.
    """

    contract: Contract
    latest: Contract
    latest_signers: tuple[Party, ...]
    history: tuple[Contract, ...]
    termination: Termination | None
    state: ContractState
    at: date
    document: ContractFile
    path: Path | None = None

    @property
    def digest(self) -> str:
        return self.contract.digest

    @property
    def digests(self) -> frozenset[str]:
        """The digests of every version in the file: a receipt or channel document may name
        any of them (an amendment does not void what came before it)."""
        return frozenset(c.digest for c in (*self.history, self.latest))

    @property
    def signed_by(self) -> tuple[str, ...]:
        """Roles that signed the newest version."""
        return tuple(p.role for p in self.latest_signers)

    @property
    def pending_amendment(self) -> bool:
        return self.latest is not self.contract

    def require_not_ended(self) -> None:
        """Raise :class:`ContractStateError` when the contract is TERMINATED or COMPLETED."""
        if self.state in (ContractState.TERMINATED, ContractState.COMPLETED):
            self.require_in_force()

    def require_in_force(self) -> None:
        """Raise :class:`ContractStateError` unless the contract is AGREED or ACTIVE."""
        if self.state in IN_FORCE:
            return
        c = self.contract
        if self.state is ContractState.TERMINATED and self.termination is not None:
            t = self.termination
            msg = f"contract {c.contract_id} was terminated on {t.effective_date}: {t.reason}"
        elif self.state is ContractState.COMPLETED:
            msg = f"contract {c.contract_id} expired on {c.schedule.end_date} (COMPLETED)"
        else:
            missing = "buyer" if "centre" in self.signed_by else "centre"
            msg = f"contract {c.contract_id} is {self.state.value}: the {missing} has not signed"
        raise ContractStateError(msg)


def _payload_bytes(env: Envelope) -> bytes:
    try:
        return base64.b64decode(env.payload, validate=True)
    except ValueError:
        raise SignatureError("an earlier version's payload is not valid base64") from None


def _check_names(contract: Contract, trusted: Sequence[Identity]) -> None:
    for party in contract.parties.all():
        for ident in trusted:
            if (ident.name, ident.role) == (party.name, party.role) and (
                ident.key_id != party.key_id
            ):
                raise SignatureError(
                    f"the contract names {party.role} {party.name!r} with key {party.key_id}, "
                    f"but the {party.name!r} you trust has key {ident.key_id}",
                    hint="Someone may be impersonating that party: check the key id with "
                    "them before signing or accepting anything.",
                )


def _party_signers(env: Envelope, contract: Contract) -> tuple[Party, ...]:
    """Verify every signature against the contract's centre and buyer keys only."""
    parties = {p.key_id: p for p in (contract.parties.centre, contract.parties.buyer)}
    verified = verify_signatures(
        env, contract.parties.signing(), payload_type=PAYLOAD_TYPES["contract"]
    )
    if verified.untrusted_keyids:
        raise SignatureError(
            f"contract {contract.contract_id} v{contract.version} carries a signature by "
            f"{verified.untrusted_keyids[0]}, which is not a party to the contract",
            hint="Only the centre and the buyer named in the contract sign it.",
        )
    return tuple(parties[i.key_id] for i in verified.signers)


def _open_contract(env: Envelope, trusted: Sequence[Identity]) -> Contract:
    verified = verify_signatures(env, trusted, payload_type=PAYLOAD_TYPES["contract"])
    contract = model_from_payload(Contract, parse_payload(verified.payload), "contract")
    party_ids = {p.key_id for p in (contract.parties.centre, contract.parties.buyer)}
    for ident in verified.signers:
        if ident.key_id not in party_ids:
            raise SignatureError(
                f"contract {contract.contract_id} is signed by {ident.name} ({ident.key_id}), "
                "which is not a party to it",
                hint="Only the centre and the buyer named in the contract sign it.",
            )
    return contract


def _open_previous(env: Envelope, successor: Contract) -> tuple[Contract, tuple[Party, ...]]:
    data = _payload_bytes(env)
    if "sha256:" + hashlib.sha256(data).hexdigest() != successor.replaces:
        raise SignatureError(
            f"version {successor.version - 1} in the file is not the one version "
            f"{successor.version} replaces"
        )
    # The hash chain authenticates the payload (hashing is not parsing); its signatures must
    # still be both parties'.
    previous = model_from_payload(Contract, parse_payload(data), "contract")
    signers = _party_signers(env, previous)
    if {p.role for p in signers} != {"centre", "buyer"}:
        raise SignatureError(f"earlier version {previous.version} lacks a party's signature")
    same_parties = (previous.parties.centre.key_id, previous.parties.buyer.key_id) == (
        successor.parties.centre.key_id,
        successor.parties.buyer.key_id,
    )
    if (
        previous.contract_id != successor.contract_id
        or previous.version != successor.version - 1
        or not same_parties
    ):
        raise ContractError(
            f"version {successor.version} does not amend version {previous.version} of "
            f"{previous.contract_id}: ids, version numbers or parties differ"
        )
    return previous, signers


def _open_termination(env: Envelope, latest: Contract, digests: set[str]) -> Termination:
    parties = {i.key_id for i in latest.parties.signing()}
    if not parties >= set(env.keyids):
        raise SignatureError("the termination is signed by a key that is not a party")
    verified = verify_signatures(
        env, latest.parties.signing(), payload_type=PAYLOAD_TYPES["termination"]
    )
    term = model_from_payload(Termination, parse_payload(verified.payload), "termination")
    if term.issued_by not in {i.key_id for i in verified.signers}:
        raise SignatureError("the termination is not signed by the party it names as issuer")
    if term.contract_id != latest.contract_id or term.contract_digest not in digests:
        raise ContractError("the termination in the file is for another contract")
    return term


def verify_contract_document(
    document: ContractFile,
    trusted: Sequence[Identity] | None = None,
    *,
    at: date | None = None,
    path: Path | None = None,
) -> VerifiedContract:
    """Verify a contract document (see the module docstring for what is checked).

    ``trusted`` defaults to the local key store. Raises :class:`SignatureError`,
    :class:`ContractError` or :class:`PayloadError`.
    """
    trust = list(trusted) if trusted is not None else default_trusted()
    latest = _open_contract(document.envelope, trust)
    _check_names(latest, trust)
    latest_signers = _party_signers(document.envelope, latest)
    history: list[Contract] = []
    successor = latest
    for env in reversed(document.previous):
        previous, _ = _open_previous(env, successor)
        history.insert(0, previous)
        successor = previous
    if successor.version != 1:
        raise ContractError(
            f"the file starts at version {successor.version}: earlier versions are missing"
        )
    agreed = {p.role for p in latest_signers} >= {"centre", "buyer"}
    in_force = latest if agreed or not history else history[-1]
    termination = None
    if document.termination is not None:
        digests = {c.digest for c in (*history, latest)}
        termination = _open_termination(document.termination, latest, digests)
    day = at or contract_today(in_force)
    roles = [p.role for p in latest_signers] if in_force is latest else ["centre", "buyer"]
    return VerifiedContract(
        contract=in_force,
        latest=latest,
        latest_signers=latest_signers,
        history=tuple(history),
        termination=termination,
        state=contract_state(in_force, roles, day, termination),
        at=day,
        document=document,
        path=path,
    )


def verify_contract_file(
    path: str | Path,
    trusted: Sequence[Identity] | None = None,
    *,
    at: date | None = None,
    reject_ended: bool = False,
) -> VerifiedContract:
    """Read and verify a signed contract file.

    ``trusted`` defaults to every identity in the local key store; ``at`` (default today in
    the contract's time zone) fixes the date the state is computed for. With
    ``reject_ended`` an expired (COMPLETED) or TERMINATED contract raises
    :class:`ContractStateError`; call ``require_in_force()`` on the result to also refuse one
    that is not agreed yet.

    Example::

        vc = verify_contract_file("contract.signed.json")
        print(vc.state, vc.signed_by, vc.digest)
    """
    p = Path(path)
    verified = verify_contract_document(read_contract_file(p), trusted, at=at, path=p)
    if reject_ended:
        verified.require_not_ended()
    return verified
