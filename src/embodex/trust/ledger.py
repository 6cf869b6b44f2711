"""An append-only, hash-chained, signed log of the trade, one file per party.

``<ledger_dir>/<party>.jsonl`` holds one entry per line, each the RFC 8785 JSON of::

    {seq, prev, time, actor, kind, ref, note?, sig}

``seq`` counts from 1; ``prev`` is ``sha256:`` of the previous line's bytes (64 zeros for
the first); ``actor`` is the key id that signed; ``ref`` is the digest of the document the
event is about; ``sig`` is base64 Ed25519 over the DSSE PAE of the ledger-entry type and the
canonical entry without ``sig``. Beside it, ``<party>.head.json`` is a DSSE envelope signed
at every append naming the last entry's seq and hash, so cutting entries off the tail shows.

Appends hold ``<party>.lock`` (``fcntl.flock``), write the line with ``O_APPEND`` and fsync it,
then replace the head atomically. A crash can leave the head one entry behind (reported as a
note) or an unterminated last line (a write that never completed; the next append drops it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from ..canonical import canonical_json
from ..config import ledger_dir
from ..errors import LedgerError, PayloadError, SignatureError
from ..fsutil import FileLock, atomic_write_bytes, fsync_dir
from ..parsing import describe_validation_error
from .envelope import PAYLOAD_TYPES, Envelope, pae, sign_payload
from .keys import KEY_ID_PATTERN, Signer
from .payload import parse_payload
from .types import REGION_PATTERN, Digest, Timestamp, TrustModel

__all__ = [
    "GENESIS",
    "LEDGER_KINDS",
    "Ledger",
    "LedgerEntry",
    "LedgerHead",
    "ledger_path",
    "line_digest",
    "write_and_record",
]

GENESIS = "sha256:" + "0" * 64

#: The events a ledger records. Later layers add theirs here.
LEDGER_KINDS: tuple[str, ...] = (
    "contract-offered",
    "contract-agreed",
    "amendment-offered",
    "contract-amended",
    "contract-terminated",
    "qc-signed",
    "batch-published",
    "batch-received",
    "receipt-issued",
    "notice-sent",
    "receipt-countersigned",  # delivery: the centre acknowledged a buyer's receipt
    "fork-detected",  # delivery: the channel served another signed batch under a number
    "episodes-deleted",  # delivery: the buyer dropped revoked episodes (a deletion receipt)
    "consent-recorded",  # privacy: the centre recorded an operator's consent statement
    "consent-withdrawn",  # privacy: the centre recorded its withdrawal
)


def line_digest(line: bytes) -> str:
    """``sha256:`` of a ledger line without its newline: what the next entry's ``prev`` holds."""
    return "sha256:" + hashlib.sha256(line).hexdigest()


def ledger_path(party: str) -> Path:
    """The default ledger file of ``party`` (a key name) under ``EMBODEX_LEDGER_DIR``."""
    if not party or "/" in party or party.startswith("."):
        raise LedgerError(f"{party!r} is not a party name", hint="Use the party's key name.")
    return ledger_dir() / f"{party}.jsonl"


class LedgerEntry(TrustModel):
    """One line of a ledger."""

    seq: int = Field(ge=1)
    prev: Digest
    time: Timestamp
    actor: str = Field(pattern=KEY_ID_PATTERN, description="Key id of the signer.")
    kind: str
    ref: Digest = Field(description="Digest of the document the event is about.")
    note: str | None = None
    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="ISO 3166 region where the data the event is about is processed (a "
        "buyer's `batch-received`: the region its store declared); absent otherwise.",
    )
    sig: str = Field(description="Base64 Ed25519 signature (see specs/ledger.md).")

    @model_serializer(mode="wrap")
    def _without_absent_region(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # An entry with no region serialises (and so signs and chains) exactly as before
        # the field existed: older ledgers stay valid.
        data: dict[str, Any] = handler(self)
        if data.get("region") is None:
            data.pop("region", None)
        return data

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in LEDGER_KINDS:
            raise ValueError(f"unknown ledger event {v!r}; one of {', '.join(LEDGER_KINDS)}")
        return v

    def signed_bytes(self) -> bytes:
        """The bytes ``sig`` covers: PAE(ledger-entry type, canonical entry without sig)."""
        body = self.model_dump(mode="json", exclude={"sig"})
        return pae(PAYLOAD_TYPES["ledger-entry"], canonical_json(body))

    def line(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


class LedgerHead(TrustModel):
    """The signed head: the last entry when it was written."""

    kind: Literal["embodex.ledger-head"] = "embodex.ledger-head"
    ledger: str = Field(description="File name of the ledger.")
    seq: int = Field(ge=0)
    entry: Digest = Field(description="line_digest of entry `seq` (GENESIS when empty).")
    time: Timestamp


def parse_entry(line: bytes) -> LedgerEntry:
    """Parse one ledger line strictly. Raises :class:`PayloadError`."""
    value: Any = parse_payload(line)
    if not isinstance(value, dict):
        raise PayloadError("not a JSON object")
    try:
        entry = LedgerEntry.model_validate(value)
    except ValidationError as exc:
        raise PayloadError(describe_validation_error(exc)) from None
    if entry.model_dump(mode="json") != value:
        raise PayloadError("not in normal form")
    return entry


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """A party's ledger file, its signed head and its lock.

    Example::

        ledger = Ledger(ledger_path("hubei-centre"))
        ledger.append(signer, "contract-offered", contract.digest, note="hubei-agibot-2025-001 v1")
        report = verify_ledger(ledger.path, [centre, buyer])
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        stem = self.path.name.removesuffix(".jsonl")
        self.head_path = self.path.with_name(f"{stem}.head.json")
        self.lock_path = self.path.with_name(f".{stem}.lock")

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def lines(self) -> tuple[list[bytes], bytes]:
        """Complete lines (without newline) and the unterminated tail (b"" when none)."""
        if not self.path.exists():
            return [], b""
        data = self.path.read_bytes()
        *complete, tail = data.split(b"\n")
        return complete, tail

    def entries(self) -> list[LedgerEntry]:
        """Every complete entry, parsed (no signature checks; use verify_ledger for those).

        Raises :class:`LedgerError` naming the first line that is not an entry.
        """
        out = []
        for i, line in enumerate(self.lines()[0], start=1):
            try:
                out.append(parse_entry(line))
            except PayloadError as exc:
                raise LedgerError(
                    f"{self.path} line {i} is not a ledger entry: {exc.message}", path=self.path
                ) from None
        return out

    def read_head(self) -> Envelope | None:
        if not self.head_path.exists():
            return None
        try:
            return Envelope.parse(self.head_path.read_bytes())
        except SignatureError as exc:
            raise LedgerError(
                f"ledger head {self.head_path} is unreadable: {exc.message}", path=self.head_path
            ) from None

    def append(
        self,
        signer: Signer,
        kind: str,
        ref: str,
        *,
        note: str | None = None,
        time: datetime | None = None,
        region: str | None = None,
    ) -> LedgerEntry:
        """Append a signed entry (serialised with other appenders by the lock); ``region``
        records where the data it is about is processed.

        Refuses (:class:`LedgerError`) when the file's tail disagrees with the signed head,
        i.e. when entries were cut off or the last one was changed.
        """
        with FileLock(self.lock_path).held():
            return self._append_locked(signer, kind, ref, note=note, time=time, region=region)

    def check(self) -> None:
        """Raise :class:`LedgerError` when an append would be refused now (entries cut off or
        changed, a damaged last entry, a file or folder that cannot be written) — so a caller
        can find out before it changes anything else. Changes nothing."""
        with FileLock(self.lock_path).held():
            self._checked_tail()
            for p in (self.path, self.head_path):
                target = p if p.exists() else p.parent
                if not os.access(target, os.W_OK):
                    raise LedgerError(
                        f"{target} cannot be written",
                        hint="Fix its permissions, then retry.",
                        path=target,
                    )

    def append_missing(
        self,
        signer: Signer,
        events: Sequence[tuple[str, str, str | None]],
        *,
        region: str | None = None,
    ) -> list[LedgerEntry]:
        """Append each ``(kind, ref, note)`` the ledger does not hold yet (same kind and ref),
        in order, under one lock: a step redone after a crash is recorded once. ``region``
        goes into each entry appended. Returns the entries appended. Raises as :meth:`append`.

        Example::

            ledger.append_missing(signer, [("batch-published", digest, "batch 3")])
        """
        with FileLock(self.lock_path).held():
            have = self.events()
            out = []
            for kind, ref, note in events:
                if (kind, ref) not in have:
                    out.append(
                        self._append_locked(signer, kind, ref, note=note, time=None, region=region)
                    )
                    have.add((kind, ref))
            return out

    def events(self) -> set[tuple[str, str]]:
        """(kind, ref) of every complete entry: a light scan, not a verification."""
        out: set[tuple[str, str]] = set()
        for line in self.lines()[0]:
            try:
                doc = json.loads(line)
                out.add((str(doc["kind"]), str(doc["ref"])))
            except (ValueError, KeyError, TypeError):
                continue  # not an entry: the append below refuses a damaged tail
        return out

    def _append_locked(
        self,
        signer: Signer,
        kind: str,
        ref: str,
        *,
        note: str | None,
        time: datetime | None,
        region: str | None = None,
    ) -> LedgerEntry:
        last, last_entry = self._checked_tail(drop_torn=True)
        try:
            entry = LedgerEntry(
                seq=(last_entry.seq + 1) if last_entry else 1,
                prev=line_digest(last) if last is not None else GENESIS,
                time=time or _now(),
                actor=signer.key_id,
                kind=kind,
                ref=ref,
                note=note,
                region=region,
                sig="",
            )
        except ValidationError as exc:
            raise LedgerError(
                f"bad ledger entry: {describe_validation_error(exc)}",
                hint="Pass an event kind from LEDGER_KINDS and a sha256:<hex> digest.",
            ) from None
        sig = base64.b64encode(signer.sign(entry.signed_bytes())).decode()
        entry = entry.model_copy(update={"sig": sig})
        line = entry.line()
        self._write_line(line + b"\n")
        head = LedgerHead(
            ledger=self.path.name, seq=entry.seq, entry=line_digest(line), time=entry.time
        )
        env = sign_payload(PAYLOAD_TYPES["ledger-head"], head.model_dump(mode="json"), signer)
        atomic_write_bytes(self.head_path, env.to_json_bytes())
        return entry

    def _checked_tail(self, *, drop_torn: bool = False) -> tuple[bytes | None, LedgerEntry | None]:
        """The last complete line and its entry, checked against the signed head (lock held);
        ``drop_torn`` removes an unterminated last line first. Raises :class:`LedgerError`."""
        last, torn = self._tail()
        if torn and drop_torn:
            self._drop_torn_tail(torn)
        try:
            last_entry = parse_entry(last) if last is not None else None
        except PayloadError as exc:
            raise LedgerError(
                f"the last entry of {self.path} is not a ledger entry: {exc.message}",
                path=self.path,
            ) from None
        self._check_head(last_entry.seq if last_entry else 0, last)
        return last, last_entry

    def _tail(self, chunk: int = 64 * 1024) -> tuple[bytes | None, int]:
        """The last complete line and the length of an unterminated tail, reading only the
        end of the file (appends stay O(1) however long the ledger grows)."""
        if not self.path.exists():
            return None, 0
        with open(self.path, "rb") as f:
            pos = f.seek(0, os.SEEK_END)
            buf = b""
            while pos > 0:
                step = min(chunk, pos)
                pos -= step
                f.seek(pos)
                buf = f.read(step) + buf
                end = buf.rfind(b"\n")
                if end != -1 and (pos == 0 or buf.rfind(b"\n", 0, end) != -1):
                    break
        end = buf.rfind(b"\n")
        torn = len(buf) - end - 1
        if end == -1:
            return None, len(buf)
        return buf[buf.rfind(b"\n", 0, end) + 1 : end], torn

    def _drop_torn_tail(self, size: int) -> None:
        # An unterminated last line is a write cut short by a crash: the append that made
        # it never returned and the head never named it, so it is not part of the ledger.
        with open(self.path, "r+b") as f:
            f.truncate(f.seek(0, os.SEEK_END) - size)
            f.flush()
            os.fsync(f.fileno())

    def _check_head(self, last_seq: int, last: bytes | None) -> None:
        env = self.read_head()
        if env is None:
            if last_seq > 1:
                raise LedgerError(
                    f"{self.path} ends at entry {last_seq} but its signed head "
                    f"{self.head_path.name} is missing: entries may have been cut off",
                    hint="Check it with `verify_ledger(path, identities)`; restore the head from a "
                    "backup.",
                    path=self.path,
                )
            return
        try:
            head = LedgerHead.model_validate(parse_payload(base64.b64decode(env.payload)))
        except (PayloadError, ValidationError, ValueError):
            raise LedgerError(
                f"ledger head {self.head_path} is malformed", path=self.head_path
            ) from None
        behind_by_one_ok = head.seq == last_seq - 1  # crash between line and head write
        if head.seq > last_seq:
            raise LedgerError(
                f"{self.path} ends at entry {last_seq} but its signed head names entry {head.seq}: "
                "entries were cut off the end",
                hint="Restore the ledger from a backup; check it with "
                "`verify_ledger(path, identities)`.",
                path=self.path,
            )
        if head.seq == last_seq and last is not None and head.entry != line_digest(last):
            raise LedgerError(
                f"the last entry of {self.path} is not the one its signed head names: "
                "it was changed",
                hint="Check it with `verify_ledger(path, identities)`.",
                path=self.path,
            )
        if head.seq < last_seq and not behind_by_one_ok:
            raise LedgerError(
                f"{self.path} has {last_seq - head.seq} entries after its signed head",
                hint="Check it with `verify_ledger(path, identities)`.",
                path=self.path,
            )

    def _write_line(self, data: bytes) -> None:
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)


def write_and_record(
    target: Path,
    data: bytes,
    signer: Signer,
    event: tuple[str, str, str],
    ledger: str | Path | None,
    record: bool,
) -> LedgerEntry | None:
    """Write ``data`` to ``target`` (atomically) and append ``event`` (kind, ref, note) to
    ``ledger`` (default: the signer's own) when ``record`` — both or neither: the ledger is
    checked before the file is written, and the file is put back as it was (or removed) when
    the append fails anyway. Raises :class:`LedgerError` and ``OSError``.

    Example::

        write_and_record(Path("c.signed.json"), data, signer,
                         ("contract-offered", digest, "hubei-agibot-2026-001 v1"), None, True)
    """
    book = Ledger(ledger or ledger_path(signer.name)) if record else None
    if book is not None:
        book.check()
    before = target.read_bytes() if target.exists() else None
    atomic_write_bytes(target, data)
    if book is None:
        return None
    kind, ref, note = event
    try:
        return book.append(signer, kind, ref, note=note)
    except BaseException:
        if before is None:
            target.unlink(missing_ok=True)
        else:
            atomic_write_bytes(target, before)
        raise
