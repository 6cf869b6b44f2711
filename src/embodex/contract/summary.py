"""A contract summarised for people and scripts (``embodex contract show`` / ``verify``).

A YAML draft is summarised as DRAFT (validated, but nothing about it is trusted); a signed
file is verified first and its summary says who signed, the state and the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypedDict

from ..errors import EmbodexError
from ..trust.keys import Identity
from ..trust.types import dec_str
from .file import VerifiedContract, is_signed_contract_file, verify_contract_file
from .lifecycle import ContractState
from .model import Contract
from .yamlio import load_contract_yaml

__all__ = [
    "ContractCheck",
    "ContractSummary",
    "check_contract",
    "describe_contract",
    "show_contract",
]


class ContractSummary(TypedDict, total=False):
    """A contract described for people and scripts (``embodex contract show``): its terms,
    then the state as of a day, who signed, the versions before it, a pending amendment,
    the termination; ``path`` names the file read. Every value is JSON-ready."""

    contract_id: str
    version: int
    replaces: str | None
    title: str
    digest: str
    parties: dict[str, dict[str, Any]]
    reviewers: list[str]
    term: dict[str, Any]
    volume: dict[str, str]
    scope: dict[str, Any]
    acceptance: dict[str, Any]
    price: dict[str, Any]
    usage: dict[str, Any]
    origin: dict[str, Any] | None
    state: str
    as_of: str
    signed_by: list[dict[str, str]]
    verified: bool
    history: list[dict[str, Any]]
    pending_amendment: dict[str, Any] | None
    termination: dict[str, Any] | None
    path: str


def _terms(c: Contract) -> ContractSummary:
    periods = c.periods()
    per_period = c.hours_due_per_period()[0][1]
    return {
        "contract_id": c.contract_id,
        "version": c.version,
        "replaces": c.replaces,
        "title": c.title,
        "digest": c.digest,
        "parties": {
            role: {
                "name": p.name,
                "organisation": p.organisation,
                "key_id": p.key_id,
            }
            for role, p in (("centre", c.parties.centre), ("buyer", c.parties.buyer))
        },
        "reviewers": [p.name for p in c.parties.reviewers],
        "term": {
            "start": c.schedule.start_date.isoformat(),
            "end": c.schedule.end_date.isoformat(),
            "cadence": c.schedule.cadence,
            "deliveries": len(periods),
            "delivery_deadline": c.schedule.delivery_deadline,
            "acceptance_window_days": c.schedule.acceptance_window_days,
            "timezone": c.schedule.timezone,
        },
        "volume": {
            "total_hours": dec_str(c.volume.total_hours),
            "min_hours_per_delivery": dec_str(c.volume.min_hours_per_delivery),
            "hours_due_per_period": dec_str(per_period),
        },
        "scope": c.scope.model_dump(mode="json"),
        "acceptance": c.acceptance.model_dump(mode="json"),
        "price": {
            **c.price.model_dump(mode="json"),
            "full_volume_amount": dec_str(c.price.per_accepted_hour * c.volume.total_hours),
        },
        "usage": c.usage.model_dump(mode="json"),
        "origin": None if c.origin is None else c.origin.model_dump(mode="json"),
    }


def describe_contract(verified: VerifiedContract) -> ContractSummary:
    """JSON-safe summary of a verified contract: terms in force, state, signers, history."""
    out = _terms(verified.contract)
    out["state"] = verified.state.value
    out["as_of"] = verified.at.isoformat()
    out["signed_by"] = [
        {"role": p.role, "name": p.name, "key_id": p.key_id} for p in verified.latest_signers
    ]
    out["verified"] = True
    out["history"] = [{"version": c.version, "digest": c.digest} for c in verified.history]
    out["pending_amendment"] = (
        {
            "version": verified.latest.version,
            "digest": verified.latest.digest,
            "signed_by": [p.role for p in verified.latest_signers],
        }
        if verified.pending_amendment
        else None
    )
    t = verified.termination
    out["termination"] = (
        None
        if t is None
        else {
            "effective_date": t.effective_date.isoformat(),
            "reason": t.reason,
            "issued_by": t.issued_by,
            "issued_at": t.issued_at.isoformat(),
        }
    )
    if verified.path is not None:
        out["path"] = str(verified.path)
    return out


def show_contract(
    path: str | Path, trusted: Sequence[Identity] | None = None, *, at: date | None = None
) -> ContractSummary:
    """Summarise a YAML draft (state DRAFT, unverified) or verify and summarise a signed file."""
    p = Path(path)
    if is_signed_contract_file(p):
        return describe_contract(verify_contract_file(p, trusted, at=at))
    draft = _terms(load_contract_yaml(p))
    draft["state"] = ContractState.DRAFT.value
    draft["as_of"] = (at or date.today()).isoformat()
    draft["signed_by"] = []
    draft["verified"] = False
    draft["history"] = []
    draft["pending_amendment"] = None
    draft["termination"] = None
    draft["path"] = str(p)
    return draft


@dataclass(frozen=True)
class ContractCheck:
    """The verdict on a signed contract file (``embodex contract verify``): ``verified`` when
    its signatures verified, ``error`` when it failed or has ended (expired, terminated)."""

    file: Path
    verified: VerifiedContract | None
    error: EmbodexError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """The summary with ``"ok": true``, or ``"ok": false`` with the error (and the state,
        when the signatures verified)."""
        summary: dict[str, Any] = (
            dict(describe_contract(self.verified))
            if self.verified is not None
            else {"file": str(self.file)}
        )
        if self.error is None:
            return {"ok": True, **summary}
        return {"ok": False, "error": self.error.one_line(), **summary}

    def raise_for_status(self) -> None:
        """Raise the error that made the check fail, if any."""
        if self.error is not None:
            raise self.error


def check_contract(
    path: str | Path, trusted: Sequence[Identity] | None = None, *, at: date | None = None
) -> ContractCheck:
    """Verify every signature of a signed contract and that it is in force at ``at``; never
    raises for a failed check (see :meth:`ContractCheck.raise_for_status`)."""
    verified = None
    try:
        verified = verify_contract_file(path, trusted, at=at)
        verified.require_not_ended()
    except EmbodexError as exc:
        return ContractCheck(Path(path), verified, exc)
    return ContractCheck(Path(path), verified, None)
