"""Errors of the contract layer (``embodex.contract``): the contract file, its rules and its
lifecycle. A contract error is a trust error too (the contract is a signed document)."""

from __future__ import annotations

from .trust import TrustError

__all__ = ["ContractError", "ContractStateError"]


class ContractError(TrustError):
    """A contract is invalid (unknown field, inconsistent dates, a float for money...);
    ``field`` names the field at fault where there is one."""

    default_hint = "Fix the contract file; specs/contract.md lists every field and rule."


class ContractStateError(ContractError):
    """The contract is not in a state that allows this (expired, terminated, not agreed)."""

    default_hint = "`verify_contract_file(path)` shows its state and who signed it."
