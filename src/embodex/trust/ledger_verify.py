"""Verifying a ledger: every signature, every link, and the signed head.

Each problem names the entry (its seq) and the line it sits on, and says what happened:
``edited`` (a signature no longer verifies), ``deleted`` (a gap in seq), ``reordered``,
``inserted``, ``replaced`` (a validly signed entry that the next one does not chain to),
``truncated`` (the signed head names a later entry), ``malformed``, ``unknown-actor``.

What a local check cannot see: a copy of the ledger *and* its head rolled back together to
an earlier consistent state. The counterparty's ledger and the channel heads the parties
exchange are the defence against that (specs/ledger.md).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import LedgerError, PayloadError, SignatureError
from .envelope import PAYLOAD_TYPES, open_envelope
from .keys import Identity
from .ledger import GENESIS, Ledger, LedgerEntry, LedgerHead, line_digest, parse_entry

__all__ = ["LedgerProblem", "LedgerReport", "verify_ledger"]


@dataclass(frozen=True)
class LedgerProblem:
    kind: str
    message: str
    line: int | None = None
    seq: int | None = None


@dataclass
class LedgerReport:
    """What :func:`verify_ledger` found. ``ok`` when there is no problem."""

    path: str
    entries: int
    head_seq: int | None
    problems: list[LedgerProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "problems": [asdict(p) for p in self.problems],
            "notes": self.notes,
        }

    def raise_for_problems(self) -> None:
        if self.problems:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise LedgerError(
                f"ledger {self.path}: {first.message}{more}",
                hint="Each problem is listed above. Restore the ledger from a backup, or compare "
                "it with the other party's ledger (specs/ledger.md §6).",
                path=self.path,
            )


def _sig_ok(entry: LedgerEntry, ident: Identity) -> bool:
    try:
        sig = base64.b64decode(entry.sig, validate=True)
    except (binascii.Error, ValueError):
        return False
    return ident.verifies(sig, entry.signed_bytes())


def verify_ledger(path: str | Path, identities: Iterable[Identity]) -> LedgerReport:
    """Check every entry's signature and link, and the signed head; never raises for tampering.

    ``identities``: the keys allowed to write this ledger (actors and head signers).
    Call ``report.raise_for_problems()`` to turn problems into a :class:`LedgerError`.

    Example::

        report = verify_ledger(ledger_path("hubei-centre"), [centre, buyer])
        for p in report.problems:
            print(p.seq, p.kind, p.message)
    """
    ledger = Ledger(path)
    trusted = {i.key_id: i for i in identities}
    lines, tail = ledger.lines()
    report = LedgerReport(path=str(ledger.path), entries=len(lines), head_seq=None)
    if not ledger.path.exists():
        report.problems.append(LedgerProblem("missing", f"{ledger.path} does not exist"))
        return report
    if tail:
        report.problems.append(
            LedgerProblem(
                "incomplete",
                f"line {len(lines) + 1} is unterminated (an append was cut short, or the "
                "file was cut)",
                line=len(lines) + 1,
            )
        )
    digests = [line_digest(line) for line in lines]
    where: dict[str, int] = {}
    for i, d in enumerate(digests):
        where.setdefault(d, i)
    entries: list[LedgerEntry | None] = []
    edited: set[int] = set()
    for i, line in enumerate(lines):
        n = i + 1
        try:
            entry = parse_entry(line)
        except PayloadError as exc:
            report.problems.append(
                LedgerProblem("malformed", f"line {n} is not a ledger entry: {exc.message}", n)
            )
            entries.append(None)
            edited.add(i)
            continue
        entries.append(entry)
        ident = trusted.get(entry.actor)
        if ident is None:
            report.problems.append(
                LedgerProblem(
                    "unknown-actor",
                    f"entry {entry.seq} (line {n}) is signed by {entry.actor}, not a known key",
                    n,
                    entry.seq,
                )
            )
            edited.add(i)
        elif not _sig_ok(entry, ident):
            report.problems.append(
                LedgerProblem(
                    "edited",
                    f"entry {entry.seq} (line {n}) was changed after it was signed",
                    n,
                    entry.seq,
                )
            )
            edited.add(i)
    _check_links(entries, digests, where, edited, report)
    _check_head(ledger, lines, entries, trusted, report)
    return report


def _check_links(
    entries: list[LedgerEntry | None],
    digests: list[str],
    where: dict[str, int],
    edited: set[int],
    report: LedgerReport,
) -> None:
    referenced = {e.prev for e in entries if e is not None}
    prev_seq = 0
    for i, entry in enumerate(entries):
        if entry is None:
            prev_seq += 1
            continue
        n, seq = i + 1, entry.seq
        if where[digests[i]] != i:
            report.problems.append(
                LedgerProblem(
                    "duplicated", f"line {n} repeats line {where[digests[i]] + 1}", n, seq
                )
            )
            edited.add(i)
            continue
        expected = GENESIS if i == 0 else digests[i - 1]
        if entry.prev == expected and seq == prev_seq + 1:
            prev_seq = seq
            continue
        if i - 1 in edited and seq == prev_seq + 1:
            pass  # the previous line's edit is already reported; this link broke with it
        elif entry.prev == expected and seq != prev_seq + 1:
            report.problems.append(
                LedgerProblem(
                    "renumbered",
                    f"entry at line {n} has seq {seq}, expected {prev_seq + 1}",
                    n,
                    seq,
                )
            )
        elif where.get(entry.prev) == i - 2 and digests[i - 1] not in referenced:
            # the line before follows our predecessor and nothing follows it: it was slipped in
            report.problems.append(
                LedgerProblem(
                    "inserted",
                    f"line {i} was inserted: entry {seq} (line {n}) follows line {i - 1}",
                    i,
                    seq,
                )
            )
        elif entry.prev in where or (entry.prev == GENESIS and i > 0):
            after = where.get(entry.prev)
            follows = "the start" if after is None else f"line {after + 1}"
            report.problems.append(
                LedgerProblem(
                    "reordered",
                    f"entry {seq} (line {n}) is out of order: it follows {follows}",
                    n,
                    seq,
                )
            )
        elif seq > prev_seq + 1:
            missing = (
                f"entry {prev_seq + 1}"
                if seq == prev_seq + 2
                else f"entries {prev_seq + 1}..{seq - 1}"
            )
            report.problems.append(
                LedgerProblem("deleted", f"{missing} deleted before line {n}", n, seq)
            )
        else:
            report.problems.append(
                LedgerProblem(
                    "replaced",
                    f"entry {seq} (line {n}) does not chain to line {i}: the entry at line {i} "
                    "was replaced by another signed entry",
                    i,
                    seq - 1,
                )
            )
        prev_seq = seq


def _check_head(
    ledger: Ledger,
    lines: list[bytes],
    entries: list[LedgerEntry | None],
    trusted: dict[str, Identity],
    report: LedgerReport,
) -> None:
    try:
        env = ledger.read_head()
    except LedgerError as exc:
        report.problems.append(LedgerProblem("head", exc.message))
        return
    if env is None:
        if lines:
            report.problems.append(
                LedgerProblem(
                    "head",
                    f"the signed head {ledger.head_path.name} is missing: entries cut off the "
                    "end cannot be ruled out",
                )
            )
        return
    try:
        payload = open_envelope(
            env, list(trusted.values()), payload_type=PAYLOAD_TYPES["ledger-head"]
        )
        head = LedgerHead.model_validate(payload)
    except (SignatureError, PayloadError) as exc:
        report.problems.append(LedgerProblem("head", f"the signed head: {exc.message}"))
        return
    except ValidationError:
        report.problems.append(LedgerProblem("head", "the signed head is malformed"))
        return
    report.head_seq = head.seq
    last_seq = max((e.seq for e in entries if e is not None), default=0)
    if head.seq > last_seq:
        report.problems.append(
            LedgerProblem(
                "truncated",
                f"the signed head names entry {head.seq} but the ledger ends at entry "
                f"{last_seq}: entries {last_seq + 1}..{head.seq} were cut off",
                seq=head.seq,
            )
        )
        return
    at = next((i for i, e in enumerate(entries) if e is not None and e.seq == head.seq), None)
    if head.seq and (at is None or line_digest(lines[at]) != head.entry):
        report.problems.append(
            LedgerProblem(
                "edited",
                f"entry {head.seq} is not the one the signed head names",
                None if at is None else at + 1,
                head.seq,
            )
        )
    if last_seq == head.seq + 1:
        report.notes.append(
            f"entry {last_seq} was appended after the head was last signed (an interrupted "
            "append); the next append re-signs the head"
        )
    elif last_seq > head.seq + 1:
        report.problems.append(
            LedgerProblem(
                "head",
                f"entries {head.seq + 1}..{last_seq} were added without updating the signed head",
                seq=head.seq + 1,
            )
        )
