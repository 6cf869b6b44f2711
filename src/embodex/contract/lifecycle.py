"""The contract lifecycle and the signed termination notice.

DRAFT (YAML, unsigned) → OFFERED (one party signed; the centre, in the usual flow) →
AGREED (both signed, before the start date) → ACTIVE (start..end date) → COMPLETED (after
the end date) or TERMINATED (a signed termination whose effective date has come).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from ..trust.keys import KEY_ID_PATTERN
from ..trust.types import Digest, Identifier, IsoDate, NonEmpty, Timestamp, TrustModel
from .model import Contract

__all__ = ["IN_FORCE", "ContractState", "Termination", "contract_state"]


class ContractState(StrEnum):
    DRAFT = "DRAFT"
    OFFERED = "OFFERED"
    AGREED = "AGREED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


#: States in which a contract binds the parties (deliveries may be checked against it).
IN_FORCE = frozenset({ContractState.AGREED, ContractState.ACTIVE})


class Termination(TrustModel):
    """A signed notice that ends a contract from ``effective_date`` on, with the reason."""

    kind: Literal["embodex.termination"] = "embodex.termination"
    contract_id: Identifier
    contract_digest: Digest = Field(description="Digest of the version in force when issued.")
    reason: NonEmpty
    effective_date: IsoDate
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)


def contract_state(
    contract: Contract,
    signed_by: Collection[str],
    today: date,
    termination: Termination | None = None,
) -> ContractState:
    """The state of ``contract`` on ``today``, given the roles that signed it."""
    if termination is not None and termination.effective_date <= today:
        return ContractState.TERMINATED
    if not signed_by:
        return ContractState.DRAFT
    if not {"centre", "buyer"} <= set(signed_by):
        return ContractState.OFFERED
    if today < contract.schedule.start_date:
        return ContractState.AGREED
    if today > contract.schedule.end_date:
        return ContractState.COMPLETED
    return ContractState.ACTIVE
