"""The ledger detects every kind of tampering and says which entry; appends are serialised."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from embodex.canonical import digest_json
from embodex.errors import LedgerError
from embodex.trust import (
    Ledger,
    Signer,
    generate_key,
    ledger_path,
    load_signer,
    verify_ledger,
)
from embodex.trust.ledger import GENESIS, LedgerEntry, line_digest

CENTRE = Signer.ephemeral("hubei-centre", "centre")
BUYER = Signer.ephemeral("agibot", "buyer")
KINDS = ["contract-offered", "contract-agreed", "batch-published", "receipt-issued", "notice-sent"]


def _ledger(tmp_path: Path, n: int = 5) -> Ledger:
    ledger = Ledger(tmp_path / "centre.jsonl")
    for i in range(n):
        ledger.append(CENTRE, KINDS[i % len(KINDS)], digest_json({"doc": i}), note=f"event {i}")
    return ledger


def _lines(ledger: Ledger) -> list[bytes]:
    return ledger.path.read_bytes().splitlines()


def _write(ledger: Ledger, lines: list[bytes]) -> None:
    ledger.path.write_bytes(b"".join(line + b"\n" for line in lines))


def _forge(previous: bytes, seq: int) -> bytes:
    """A validly signed entry by a trusted key that chains to ``previous``."""
    entry = LedgerEntry(
        seq=seq,
        prev=line_digest(previous),
        time=datetime.now(UTC),
        actor=CENTRE.key_id,
        kind="notice-sent",
        ref=digest_json({"forged": seq}),
        sig="",
    )
    sig = base64.b64encode(CENTRE.sign(entry.signed_bytes())).decode()
    return entry.model_copy(update={"sig": sig}).line()


def _problems(ledger: Ledger) -> list[tuple[str, int | None]]:
    report = verify_ledger(ledger.path, [CENTRE.identity])
    return [(p.kind, p.seq) for p in report.problems]


def test_a_clean_ledger_verifies(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    report = verify_ledger(ledger.path, [CENTRE.identity, BUYER.identity])
    assert report.ok and report.entries == 5 and report.head_seq == 5
    entries = ledger.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev == GENESIS
    lines = _lines(ledger)
    assert all(entries[i + 1].prev == line_digest(lines[i]) for i in range(4))
    assert {json.loads(line)["actor"] for line in lines} == {CENTRE.key_id}
    first = json.loads(lines[0])
    assert set(first) == {"seq", "prev", "time", "actor", "kind", "ref", "note", "sig"}


def test_edited_entry_is_named(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    lines = _lines(ledger)
    lines[2] = lines[2].replace(b"event 2", b"event X")
    _write(ledger, lines)
    assert _problems(ledger) == [("edited", 3)]


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    lines = _lines(ledger)
    del lines[1]
    _write(ledger, lines)
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert [(p.kind, p.seq) for p in report.problems] == [("deleted", 3)]
    assert "entry 2 deleted" in report.problems[0].message


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    lines = _lines(ledger)
    lines[2], lines[3] = lines[3], lines[2]
    _write(ledger, lines)
    kinds = _problems(ledger)
    assert kinds and all(k == "reordered" for k, _ in kinds)
    assert {s for _, s in kinds} >= {3, 4}


def test_inserted_entry_is_named(tmp_path: Path) -> None:
    """A forged entry signed by a trusted key, slipped in with a valid link to its predecessor."""
    ledger = _ledger(tmp_path, 4)
    lines = _lines(ledger)
    lines.insert(2, _forge(lines[1], 3))
    _write(ledger, lines)
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert [p.kind for p in report.problems][:1] == ["inserted"]
    assert "line 3 was inserted" in report.problems[0].message


def test_replaced_entry_is_named(tmp_path: Path) -> None:
    """An entry rewritten and re-signed by the key holder: its successor no longer chains."""
    ledger = _ledger(tmp_path, 4)
    lines = _lines(ledger)
    lines[1] = _forge(lines[0], 2)
    _write(ledger, lines)
    assert _problems(ledger) == [("replaced", 2)]


def test_truncated_tail_is_caught_by_the_signed_head(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    _write(ledger, _lines(ledger)[:3])
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 5)]
    assert "entries 4..5 were cut off" in report.problems[0].message
    with pytest.raises(LedgerError, match="cut off"):
        ledger.append(CENTRE, "notice-sent", digest_json({}))
    assert len(_lines(ledger)) == 3  # nothing appended


def test_missing_or_forged_head_is_reported(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    head = ledger.head_path.read_bytes()
    ledger.head_path.unlink()
    assert _problems(ledger) == [("head", None)]
    with pytest.raises(LedgerError, match="head .* is missing"):
        ledger.append(CENTRE, "notice-sent", digest_json({}))
    ledger.head_path.write_bytes(head.replace(b'"sig": "', b'"sig": "AA'))
    assert [k for k, _ in _problems(ledger)] == ["head"]


def test_unknown_actor_is_reported(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, 2)
    Ledger(ledger.path).append(BUYER, "receipt-issued", digest_json({"r": 1}))
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert ("unknown-actor", 3) in [(p.kind, p.seq) for p in report.problems]
    assert verify_ledger(ledger.path, [CENTRE.identity, BUYER.identity]).ok


def test_malformed_line_and_torn_tail(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, 3)
    with open(ledger.path, "ab") as f:
        f.write(b'{"seq":4,"prev":"sha')  # a write cut short by a crash
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert [p.kind for p in report.problems] == ["incomplete"]
    entry = ledger.append(CENTRE, "notice-sent", digest_json({"after": "crash"}))
    assert entry.seq == 4
    assert verify_ledger(ledger.path, [CENTRE.identity]).ok
    lines = _lines(ledger)
    lines[1] = b"not json"
    _write(ledger, lines)
    assert ("malformed", None) in _problems(ledger)


def test_head_one_behind_after_a_crash_is_a_note_not_a_problem(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, 3)
    head = ledger.head_path.read_bytes()
    ledger.append(CENTRE, "notice-sent", digest_json({"x": 1}))
    ledger.head_path.write_bytes(head)  # as if the process died before replacing the head
    report = verify_ledger(ledger.path, [CENTRE.identity])
    assert report.ok and report.notes
    assert ledger.append(CENTRE, "notice-sent", digest_json({"x": 2})).seq == 5
    assert verify_ledger(ledger.path, [CENTRE.identity]).ok


def test_bad_events_are_refused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl")
    with pytest.raises(LedgerError, match="unknown ledger event"):
        ledger.append(CENTRE, "coffee-break", digest_json({}))
    with pytest.raises(LedgerError, match="ref"):
        ledger.append(CENTRE, "notice-sent", "not-a-digest")
    assert not ledger.path.exists()
    with pytest.raises(LedgerError, match="not a party name"):
        ledger_path("../etc/passwd")


def _append_many(name: str, count: int) -> None:
    signer = load_signer(name)
    ledger = Ledger(ledger_path(name))
    for i in range(count):
        ledger.append(signer, "notice-sent", digest_json({"pid": os.getpid(), "i": i}))


def test_concurrent_appends_from_many_processes_stay_one_chain() -> None:
    ident = generate_key("hubei-centre", "centre")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=("hubei-centre", 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = verify_ledger(ledger_path("hubei-centre"), [ident])
    assert report.ok, report.problems
    assert report.entries == 60 and report.head_seq == 60


def test_duplicated_and_moved_entries_are_named(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    lines = _lines(ledger)
    _write(ledger, [*lines[:3], lines[1], *lines[3:]])
    assert _problems(ledger) == [("duplicated", 2)]
    _write(ledger, [*lines[1:], lines[0]])  # first entry moved to the end
    kinds = _problems(ledger)
    assert kinds == [("reordered", 2), ("reordered", 1)]


def test_append_reads_only_the_tail(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl")
    for i in range(12):
        ledger.append(CENTRE, "notice-sent", digest_json({"i": i}), note="n" * (50 * i))
    lines = _lines(ledger)
    for chunk in (7, 100, 1000, 1 << 20):
        assert ledger._tail(chunk) == (lines[-1], 0)
    with open(ledger.path, "ab") as f:
        f.write(b'{"seq":13')
    assert ledger._tail(64) == (lines[-1], len(b'{"seq":13'))
