"""The append-only manual review log: ``reviews/log.jsonl`` in the dataset directory.

One line per decision, RFC 8785 canonical JSON, each naming the reviewer and chained to the
previous line by its sha256 (``prev``), so an edited, removed or reordered line is detected.
The chain cannot reveal an edited or deleted *last* line, so the QC manifest records the
log's head (:class:`LogHead`: entry count and sha256 of the last line; signed with the
manifest) and readers given that head refuse a log that is shorter or differs there. Appends
happen under a file lock and are fsynced; a line torn by a crash (no trailing newline) is
ignored on read and cut off by the next append. The latest accept or reject of an episode
is its review (a ``flag`` asks for a second look and decides nothing); earlier lines stay
as history. A line may carry the reviewer's Ed25519 signature (``signature``), made by the
trust layer (``embodex.trust.reviews``) inside the lock through the ``sign`` callback, so this
module holds no keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..canonical import canonical_json, sha256_bytes
from ..errors import ReviewError
from ..fsutil import FileLock, fsync_dir

__all__ = [
    "LOG_FILE",
    "REASONS",
    "REVIEWER_PATTERN",
    "LogHead",
    "ReviewEntry",
    "ReviewSignature",
    "append_review",
    "entry_line",
    "latest_reviews",
    "read_log",
    "read_log_and_head",
    "signed_bytes",
]

LOG_FILE = "reviews/log.jsonl"
LOCK_FILE = "reviews/.lock"
REVIEWER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
MAX_NOTE = 2000

#: accept and reject decide; flag asks for a second look and leaves the verdict as it is.
ReviewVerdict = Literal["accept", "reject", "flag"]
KEY_ID_PATTERN = r"^ed25519:[0-9a-f]{32}$"

#: Reason code -> (verdicts it may go with, what it means). ``other`` needs a note.
REASONS: dict[str, tuple[tuple[ReviewVerdict, ...], str]] = {
    "meets_spec": (("accept",), "Meets the specification; no problem seen."),
    "warning_acceptable": (("accept",), "The automatic warnings were checked and are acceptable."),
    "task_not_completed": (("reject",), "The task was not completed as instructed."),
    "wrong_task": (("reject",), "A different task, scene or object than the labels say."),
    "unsafe_motion": (("reject",), "Collision, dangerous or erratic motion."),
    "operator_error": (("reject",), "Fumbling, retries or hesitation: a poor demonstration."),
    "sensor_fault": (("reject",), "Joint or camera data is faulty (glitches, frozen, dark)."),
    "image_quality": (("reject",), "Blur, occlusion, exposure or framing spoil the images."),
    "idle_or_incomplete": (("reject",), "Too much idle time, or the recording is cut short."),
    "label_error": (("reject",), "Success label, instruction or segments are wrong."),
    "privacy": (("reject",), "A face or personal data is visible."),
    "duplicate": (("reject",), "Repeats another episode."),
    "second_look": (("flag",), "Needs a second look by another reviewer; verdict unchanged."),
    "other": (("accept", "reject"), "Anything else; a note is required."),
}


class ReviewSignature(BaseModel):
    """The reviewer's Ed25519 signature of the entry (made by the trust layer, which holds
    the keys): ``sig`` is base64 of the signature over the DSSE pre-authentication encoding
    of the review payload type and :func:`signed_bytes` of the entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keyid: str = Field(pattern=KEY_ID_PATTERN)
    sig: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$", description="Base64, 64 bytes.")


class ReviewEntry(BaseModel):
    """One manual review decision, as stored in the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["embodex.review"] = "embodex.review"
    version: Literal[1] = 1
    seq: int = Field(ge=1, description="1 for the first line, +1 for each next one.")
    prev: str | None = Field(
        pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the previous line's bytes."
    )
    episode_id: str
    verdict: ReviewVerdict
    reason: str
    note: str | None = None
    reviewer: str = Field(pattern=REVIEWER_PATTERN)
    at: str = Field(description="ISO-8601 UTC time of the decision.")
    dataset_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    auto_verdict: Literal["PASS", "WARN", "FAIL"] = Field(
        description="The automatic verdict the reviewer saw."
    )
    signature: ReviewSignature | None = Field(
        default=None,
        description="The reviewer's signature of every other field (absent when unsigned).",
    )


def signed_bytes(entry: ReviewEntry) -> bytes:
    """What a reviewer's signature covers: the entry's canonical JSON without ``signature``
    (``seq`` and ``prev`` included, so a signed decision cannot be moved in the chain)."""
    return canonical_json(entry.model_dump(mode="json", exclude={"signature"}))


def entry_line(entry: ReviewEntry) -> bytes:
    """The entry as stored: canonical JSON, ``signature`` left out when unsigned (so an
    unsigned line is byte for byte what earlier versions wrote)."""
    exclude = {"signature"} if entry.signature is None else set()
    return canonical_json(entry.model_dump(mode="json", exclude=exclude)) + b"\n"


#: Signs an unsigned entry's :func:`signed_bytes` (called under the log's lock, once the
#: entry's place in the chain is known).
SignFn = Callable[[bytes], ReviewSignature]


class LogHead(BaseModel):
    """Where the review log stood when the QC manifest was written: appending later is fine,
    a shorter log or another line at ``entries`` means entries were deleted or edited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: int = Field(ge=1, description="Entries in the log: the seq of its last line.")
    sha256: str = Field(
        pattern=r"^sha256:[0-9a-f]{64}$", description="sha256 of the last line's bytes."
    )


_TAMPERED_HINT = "The log is append-only: restore it from a backup; never edit it by hand."


def _log(root: Path) -> Path:
    return root / LOG_FILE


def _read_lines(path: Path) -> tuple[list[bytes], int]:
    """Complete lines and the byte length they cover (a torn tail is left out)."""
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return [line for line in data[:end].split(b"\n") if line], end


def _line_hash(line: bytes) -> str:
    return "sha256:" + sha256_bytes(line)


def read_log_and_head(
    dataset: str | Path, *, expect: LogHead | None = None
) -> tuple[list[ReviewEntry], LogHead | None]:
    """Every complete entry, oldest first, and the log's head (None for an empty log).

    Raises ``ReviewError`` when the chain is broken (a line edited, removed or reordered),
    or, given ``expect`` (the head recorded in the QC manifest), when the log has fewer
    entries or another line at that position (the last entries deleted or edited).
    """
    path = _log(Path(dataset))
    lines, _ = _read_lines(path)
    out: list[ReviewEntry] = []
    prev: str | None = None
    for k, line in enumerate(lines, start=1):
        try:
            entry = ReviewEntry.model_validate_json(line)
        except ValidationError as exc:
            raise ReviewError(
                f"{path} line {k} is not a valid review entry ({exc.errors()[0]['msg']})",
                hint=_TAMPERED_HINT,
                path=path,
            ) from None
        if entry.seq != k or entry.prev != prev:
            raise ReviewError(
                f"{path} line {k} does not follow line {k - 1} (edited, removed or reordered)",
                hint=_TAMPERED_HINT,
                path=path,
            )
        prev = _line_hash(line)
        out.append(entry)
    if expect is not None:
        if len(lines) < expect.entries:
            raise ReviewError(
                f"{path} has {len(lines)} entries, the QC manifest recorded {expect.entries} "
                "(entries were deleted)",
                hint=_TAMPERED_HINT,
                path=path,
            )
        if _line_hash(lines[expect.entries - 1]) != expect.sha256:
            raise ReviewError(
                f"{path} line {expect.entries} differs from the entry the QC manifest "
                "recorded (edited or replaced)",
                hint=_TAMPERED_HINT,
                path=path,
            )
    head = LogHead(entries=len(lines), sha256=prev) if prev is not None else None
    return out, head


def read_log(dataset: str | Path, *, expect: LogHead | None = None) -> list[ReviewEntry]:
    """Every complete entry, oldest first; see :func:`read_log_and_head` for the checks."""
    return read_log_and_head(dataset, expect=expect)[0]


def latest_reviews(dataset: str | Path, *, expect: LogHead | None = None) -> dict[str, ReviewEntry]:
    """The current review of each reviewed episode: its latest accept or reject (a flag for
    a second look decides nothing, so it neither counts as a review nor undoes one)."""
    return {e.episode_id: e for e in read_log(dataset, expect=expect) if e.verdict != "flag"}


def validate_decision(verdict: str, reason: str, note: str | None, reviewer: str) -> None:
    """Raise ``ReviewError`` unless the verdict, reason code, note and reviewer id are valid."""
    if verdict not in ("accept", "reject", "flag"):
        raise ReviewError(f"verdict must be accept, reject or flag, not {verdict!r}")
    allowed = REASONS.get(reason)
    if allowed is None:
        raise ReviewError(
            f"unknown reason code {reason!r}",
            hint=f"Use one of: {', '.join(REASONS)}.",
        )
    if verdict not in allowed[0]:
        fitting = [r for r, (v, _) in REASONS.items() if verdict in v]
        raise ReviewError(
            f"reason {reason!r} does not go with {verdict}",
            hint=f"For {verdict} use one of: {', '.join(fitting)}.",
        )
    if reason == "other" and not (note or "").strip():
        raise ReviewError(
            "reason 'other' needs a note saying what is wrong", hint="Pass the note (`note=`)."
        )
    if note is not None and len(note) > MAX_NOTE:
        raise ReviewError(f"the note has {len(note)} characters; at most {MAX_NOTE}")
    if not re.fullmatch(REVIEWER_PATTERN, reviewer or ""):
        raise ReviewError(
            f"reviewer id {reviewer!r} is not valid",
            hint="Use a pseudonymous id of letters, digits and . _ @ - (e.g. rev-007).",
        )


def append_review(
    dataset: str | Path,
    *,
    episode_id: str,
    verdict: ReviewVerdict,
    reason: str,
    reviewer: str,
    dataset_digest: str,
    auto_verdict: Literal["PASS", "WARN", "FAIL"],
    note: str | None = None,
    expect: LogHead | None = None,
    sign: SignFn | None = None,
) -> ReviewEntry:
    """Append one decision to the log (locked, fsynced) and return it.

    ``expect`` is the head the QC manifest recorded: a log cut short or edited there is
    refused (``ReviewError``) rather than appended to. ``sign`` (from
    ``embodex.trust.reviews``) signs the entry once its place in the chain is known, inside
    the lock, so concurrent reviewers each sign the line that is actually stored."""
    validate_decision(verdict, reason, note, reviewer)
    root = Path(dataset)
    path = _log(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(root / LOCK_FILE).held():
        existing = read_log(root, expect=expect)
        lines, covered = _read_lines(path)
        if path.exists() and path.stat().st_size != covered:
            os.truncate(path, covered)  # drop a line torn by a crash
        entry = ReviewEntry(
            seq=len(existing) + 1,
            prev=_line_hash(lines[-1]) if lines else None,
            episode_id=episode_id,
            verdict=verdict,
            reason=reason,
            note=note.strip() if note else None,
            reviewer=reviewer,
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            dataset_digest=dataset_digest,
            auto_verdict=auto_verdict,
        )
        if sign is not None:
            entry = entry.model_copy(update={"signature": sign(signed_bytes(entry))})
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, entry_line(entry))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(path.parent)
    return entry
