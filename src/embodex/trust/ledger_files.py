"""Which ledger a party means, and a ledger read for display (``embodex ledger show|verify``).

A machine holds one ledger per party under ``EMBODEX_HOME/ledger``; :func:`find_ledger` picks
one by party name, by file, or the only one there is, and says which exist when it cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ledger_dir
from ..errors import LedgerError
from .keys import Identity, list_keys, load_identity
from .ledger import Ledger, LedgerEntry, ledger_path
from .ledger_verify import LedgerReport, verify_ledger

__all__ = ["LedgerView", "check_ledger", "find_ledger", "read_ledger"]


def find_ledger(party: str | None = None, file: str | Path | None = None) -> Path:
    """The ledger file of ``party``, or ``file``, or the only ledger on this machine.

    Raises ``LedgerError`` naming the ledgers that exist when none of these finds one."""
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise LedgerError(f"there is no ledger file {path}", hint="Check the path.")
        return path
    found = sorted(ledger_dir().glob("*.jsonl")) if ledger_dir().is_dir() else []
    names = ", ".join(p.stem for p in found) or "none yet"
    if party is not None:
        path = ledger_path(party)
        if not path.is_file():
            raise LedgerError(
                f"there is no ledger for {party!r} in {path.parent} (ledgers here: {names})",
                hint="Name a party with a ledger; a party's first signed event starts one.",
            )
        return path
    if len(found) == 1:
        return found[0]
    raise LedgerError(
        f"say which ledger: a party or a file (ledgers here: {names})",
        hint="Name the party whose ledger to read, e.g. hubei-centre.",
    )


@dataclass(frozen=True)
class LedgerView:
    """A ledger's entries, unverified (``check_ledger`` verifies), with the names of the key
    ids this machine knows, to show actors by name."""

    path: Path
    entries: list[LedgerEntry]
    names: dict[str, str]

    def actor(self, entry: LedgerEntry) -> str:
        """The entry's actor by key name when known, else its key id."""
        return self.names.get(entry.actor, entry.actor)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json") for e in self.entries]


def read_ledger(party: str | None = None, file: str | Path | None = None) -> LedgerView:
    """The entries of a party's ledger (see :func:`find_ledger`). Raises ``LedgerError``."""
    path = find_ledger(party, file)
    names = {i.identity.key_id: i.identity.name for i in list_keys()}
    return LedgerView(path, Ledger(path).entries(), names)


def check_ledger(
    party: str | None = None,
    file: str | Path | None = None,
    identities: Iterable[str | Path | Identity] = (),
) -> LedgerReport:
    """Verify a party's ledger (see :func:`find_ledger`) against ``identities`` (key names,
    identity files or identities; default: every identity in the key store). Never raises
    for tampering: call ``raise_for_problems()`` on the report."""
    chosen = [i if isinstance(i, Identity) else load_identity(i) for i in identities]
    trusted = chosen or [info.identity for info in list_keys()]
    return verify_ledger(find_ledger(party, file), trusted)
