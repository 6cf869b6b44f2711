"""Consent on record (specs/privacy.md §4d): a signed statement per operator pseudonym.

The centre keeps, in its embodex home, one signed statement per consent an operator gave
(``privacy/consent/<consent_id>.json``, a DSSE envelope of type ``consent``): the operator's
pseudonym (never the real id), what the consent covers (``scope``), when it was given, when
it expires, and that it may be withdrawn. A withdrawal is a second signed document beside it
(``<consent_id>.withdrawal.json``, type ``consent-withdrawal``) naming the statement by id
and digest. Nothing is ever edited in place: the register is the set of files, each verified
with the key store's identities before it is parsed, so an edited file shows as ``invalid``.

Episodes link to the statement that covers them: :func:`link_consent` writes
``extra.consent = {consent_id, digest, expires_on}`` into each episode whose operator has a
statement in force, and ``publish`` under a contract with ``privacy.consent: required``
refuses episodes without a link to a statement in force (:func:`episode_consent_problems`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from ..canonical import digest_json
from ..config import home_dir
from ..errors import ConsentError, EmbodexError
from ..format import DatasetWriter, open_dataset
from ..fsutil import atomic_write_bytes
from ..parsing import describe_validation_error
from ..qc import load_qc_manifest
from ..qc.merge import combine_qc
from .documents import open_model, sign_model
from .keys import KEY_ID_PATTERN, Identity, Signer, list_keys
from .ledger import Ledger, ledger_path
from .types import Digest, Identifier, IsoDate, NonEmpty, Timestamp, TrustModel

__all__ = [
    "CONSENT_DIR",
    "CONSENT_KEY",
    "ConsentLink",
    "ConsentRecord",
    "ConsentStatement",
    "ConsentWithdrawal",
    "episode_consent_problems",
    "link_consent",
    "list_consents",
    "record_consent",
    "withdraw_consent",
    "withdrawn_in_ledger",
]

#: Where the register lives, below the embodex home (beside the pseudonym key).
CONSENT_DIR = "privacy/consent"
#: The episode ``extra`` key that links an episode to its consent statement.
CONSENT_KEY = "consent"
_ID_PATTERN = r"^cs-[0-9a-f]{16}$"

ConsentState = Literal["valid", "expired", "withdrawn", "not-yet", "invalid"]


class ConsentStatement(TrustModel):
    """One operator's consent, signed by the centre (type ``consent``)."""

    kind: Literal["embodex.consent"] = "embodex.consent"
    consent_id: str = Field(pattern=_ID_PATTERN, description="cs- + 16 hex, random.")
    operator: Identifier = Field(description="The operator's pseudonym (never the real id).")
    scope: list[NonEmpty] = Field(
        min_length=1, description="What the operator agreed to, e.g. training, transfer."
    )
    given_on: IsoDate
    expires_on: IsoDate | None = Field(default=None, description="Last day in force; null: none.")
    revocable: Literal[True] = Field(
        default=True,
        description="Always true: the individual may withdraw consent at any time (PIPL art. 15).",
    )
    evidence: str | None = Field(
        default=None,
        description="Where the centre keeps the signed form (a reference, no personal data).",
    )
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)


class ConsentWithdrawal(TrustModel):
    """The operator withdrew a consent (type ``consent-withdrawal``), signed by the centre."""

    kind: Literal["embodex.consent-withdrawal"] = "embodex.consent-withdrawal"
    consent_id: str = Field(pattern=_ID_PATTERN)
    consent_digest: Digest
    operator: Identifier
    withdrawn_on: IsoDate
    reason: NonEmpty
    issued_at: Timestamp
    issued_by: str = Field(pattern=KEY_ID_PATTERN)


@dataclass
class ConsentRecord:
    """A statement of the register as verified on one day, with its withdrawal if any."""

    path: Path
    state: ConsentState
    statement: ConsentStatement | None = None
    digest: str | None = None
    withdrawal: ConsentWithdrawal | None = None
    problem: str | None = None

    @property
    def consent_id(self) -> str:
        return self.statement.consent_id if self.statement else self.path.stem

    def to_json(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "state": self.state,
            "digest": self.digest,
            "statement": self.statement.model_dump(mode="json") if self.statement else None,
            "withdrawal": self.withdrawal.model_dump(mode="json") if self.withdrawal else None,
            "problem": self.problem,
            "path": str(self.path),
        }


def _dir(home: Path | None) -> Path:
    return (home or home_dir()) / CONSENT_DIR


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _identities(trusted: Sequence[Identity] | None) -> list[Identity]:
    return list(trusted) if trusted is not None else [k.identity for k in list_keys()]


def record_consent(
    operator: str,
    signer: Signer,
    *,
    scope: Sequence[str],
    given_on: date | None = None,
    expires_on: date | None = None,
    evidence: str | None = None,
    now: datetime | None = None,
    home: Path | None = None,
    record: bool = True,
) -> ConsentRecord:
    """Sign and store a consent statement for ``operator`` (a pseudonym); return it. The
    signer's ledger gets ``consent-recorded`` (ref: the statement's digest) unless
    ``record`` is false.

    Raises :class:`ConsentError` for an empty scope or an expiry before the day it was given.

    Example::

        record_consent("op-3f9a0c1d2e4b5a68", load_signer("hubei-centre"),
                       scope=["training", "transfer"], expires_on=date(2027, 12, 31))
    """
    at = _now(now)
    given = given_on or at.date()
    scopes = [s.strip() for s in scope if s.strip()]
    if not scopes:
        raise ConsentError(
            "a consent statement needs a scope", hint="Pass what was agreed (`scope=[...]`)."
        )
    if expires_on is not None and expires_on < given:
        raise ConsentError(
            f"consent for {operator} would expire ({expires_on}) before it was given ({given})",
            hint="Pass an expiry on or after the day it was given.",
        )
    try:
        statement = ConsentStatement(
            consent_id="cs-" + secrets.token_hex(8), operator=operator, scope=scopes,
            given_on=given, expires_on=expires_on, evidence=evidence, issued_at=at,
            issued_by=signer.key_id,
        )  # fmt: skip
    except ValidationError as exc:
        raise ConsentError(
            f"invalid consent statement for {operator!r}: {describe_validation_error(exc)}",
            hint="Give the operator's pseudonym (letters, digits, ._:/@+-) and a scope.",
        ) from None
    path = _dir(home) / f"{statement.consent_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, sign_model("consent", statement, signer).to_json_bytes(), mode=0o600)
    digest = digest_json(statement.model_dump(mode="json"))
    if record:
        Ledger(ledger_path(signer.name)).append(
            signer, "consent-recorded", digest, note=f"{statement.consent_id} {operator}"
        )
    return ConsentRecord(
        path=path, state=_state(statement, None, given), statement=statement, digest=digest
    )


def _state(s: ConsentStatement, w: ConsentWithdrawal | None, on: date) -> ConsentState:
    if w is not None and w.withdrawn_on <= on:
        return "withdrawn"
    if on < s.given_on:
        return "not-yet"
    if s.expires_on is not None and on > s.expires_on:
        return "expired"
    return "valid"


def _open(kind: str, model: type[Any], path: Path, keys: list[Identity]) -> Any:
    """Verify the envelope at ``path`` with ``keys`` (before parsing), then parse it; the
    signer must be the key the document names as its issuer."""
    data = path.read_bytes()
    doc = open_model(kind, model, data, keys)
    # the issuer it names must be a trusted key that signed it (not just any trusted key)
    return open_model(kind, model, data, keys, required_keyids=[doc.issued_by])


def list_consents(
    *,
    operator: str | None = None,
    on: date | None = None,
    trusted: Sequence[Identity] | None = None,
    home: Path | None = None,
) -> list[ConsentRecord]:
    """Every statement of the register (of ``operator`` only, if given), verified, with its
    state on ``on`` (default today): valid, expired, withdrawn, not-yet or invalid (a file
    that does not verify with the key store's identities or ``trusted``: edited, or signed
    by an unknown key — ``problem`` says why; listed only without ``operator``, since whose
    it is cannot be trusted). Sorted by operator, then date given."""
    keys = _identities(trusted)
    day = on or datetime.now(UTC).date()
    base = _dir(home)
    out: list[ConsentRecord] = []
    ledgers: dict[str, set[str]] = {}  # issuer key id -> consent ids withdrawn on record
    paths = sorted(base.glob("cs-*.json")) if base.is_dir() else []
    for path in paths:
        if path.name.endswith(".withdrawal.json"):
            continue
        try:
            st: ConsentStatement = _open("consent", ConsentStatement, path, keys)
        except EmbodexError as exc:
            if operator is None:  # whose it is cannot be known: listed in the full view
                out.append(ConsentRecord(path=path, state="invalid", problem=exc.message))
            continue
        if operator is not None and st.operator != operator:
            continue
        digest = digest_json(st.model_dump(mode="json"))
        rec = ConsentRecord(path=path, state="valid", statement=st, digest=digest)
        wpath = path.with_name(f"{st.consent_id}.withdrawal.json")
        if wpath.exists():
            try:
                w: ConsentWithdrawal = _open("consent-withdrawal", ConsentWithdrawal, wpath, keys)
                if w.consent_id != st.consent_id or w.consent_digest != digest:
                    raise ConsentError(f"{wpath} names another statement")
                rec.withdrawal = w
            except EmbodexError as exc:
                rec.state, rec.problem = "invalid", f"withdrawal: {exc.message}"
                out.append(rec)
                continue
        elif st.consent_id in _withdrawn_on_record(ledgers, st.issued_by, keys):
            # a withdrawal on record whose file is gone: deleting it must not revive consent
            rec.state = "invalid"
            rec.problem = "its withdrawal is in the centre's ledger but the file is missing"
            out.append(rec)
            continue
        rec.state = _state(st, rec.withdrawal, day)
        out.append(rec)
    return sorted(
        out,
        key=lambda r: (r.statement.operator, r.statement.given_on) if r.statement else ("", day),
    )


def _withdrawn_on_record(
    cache: dict[str, set[str]], key_id: str, keys: Sequence[Identity]
) -> set[str]:
    if key_id not in cache:
        cache[key_id] = withdrawn_in_ledger(key_id, keys)
    return cache[key_id]


def withdrawn_in_ledger(key_id: str, keys: Sequence[Identity]) -> set[str]:
    """Consent ids whose withdrawal the ledger of the key ``key_id`` records (empty when the
    key is not in the key store by name or has no ledger)."""
    names = {k.key_id: k.name for k in keys}
    name = names.get(key_id)
    if name is None:
        return set()
    path = ledger_path(name)
    if not path.exists():
        return set()
    entries = Ledger(path).entries()
    return {(e.note or "").split(" ", 1)[0] for e in entries if e.kind == "consent-withdrawn"}


def withdraw_consent(
    operator: str,
    signer: Signer,
    *,
    reason: str = "consent withdrawn by the operator",
    on: date | None = None,
    now: datetime | None = None,
    trusted: Sequence[Identity] | None = None,
    home: Path | None = None,
    record: bool = True,
) -> list[ConsentRecord]:
    """Withdraw every statement of ``operator`` in force (or not yet in force) on ``on``:
    a signed withdrawal beside each; the signer's ledger gets ``consent-withdrawn`` (ref:
    the withdrawal's digest) unless ``record`` is false — so a withdrawal file deleted later
    shows the statement as invalid, not in force again. Returns the records withdrawn.
    Raises :class:`ConsentError` when the operator has none to withdraw.

    Example::

        withdraw_consent("op-3f9a0c1d2e4b5a68", load_signer("hubei-centre"))
    """
    at = _now(now)
    day = on or at.date()
    live = [
        r
        for r in list_consents(operator=operator, on=day, trusted=trusted, home=home)
        if r.state in ("valid", "not-yet", "expired") and r.statement is not None
    ]
    if not live:
        raise ConsentError(
            f"operator {operator} has no consent on record to withdraw",
            hint="`list_consents()` shows the register.",
        )
    for rec in live:
        assert rec.statement is not None and rec.digest is not None
        w = ConsentWithdrawal(
            consent_id=rec.statement.consent_id, consent_digest=rec.digest, operator=operator,
            withdrawn_on=day, reason=reason.strip() or "consent withdrawn", issued_at=at,
            issued_by=signer.key_id,
        )  # fmt: skip
        wpath = rec.path.with_name(f"{rec.statement.consent_id}.withdrawal.json")
        atomic_write_bytes(wpath, sign_model("consent-withdrawal", w, signer).to_json_bytes())
        if record:
            Ledger(ledger_path(signer.name)).append(
                signer,
                "consent-withdrawn",
                digest_json(w.model_dump(mode="json")),
                note=f"{w.consent_id} {operator}",
            )
        rec.withdrawal, rec.state = w, "withdrawn"
    return live


def _in_force(records: Iterable[ConsentRecord]) -> dict[str, ConsentRecord]:
    """operator -> the newest statement in force."""
    out: dict[str, ConsentRecord] = {}
    for r in records:
        if r.state == "valid" and r.statement is not None:
            out[r.statement.operator] = r  # sorted by date given: the newest wins
    return out


@dataclass
class ConsentLink:
    """What :func:`link_consent` did: episodes linked, and the operators without consent."""

    dataset: Path
    linked: dict[str, str] = field(default_factory=dict)  # episode -> consent id
    missing: dict[str, list[str]] = field(default_factory=dict)  # operator ("" none) -> eps

    def to_json(self) -> dict[str, Any]:
        return {"dataset": str(self.dataset), "linked": self.linked, "missing": self.missing}


def link_consent(
    dataset: str | Path,
    *,
    on: date | None = None,
    trusted: Sequence[Identity] | None = None,
    home: Path | None = None,
) -> ConsentLink:
    """Write ``extra.consent = {consent_id, digest, expires_on}`` into every episode of
    ``dataset`` whose operator has a statement in force on ``on`` (default today), and
    ``extra.consent = null`` into the others (a link to a withdrawn statement is removed).
    Frames are not touched; a QC manifest of the dataset is rebuilt for the new digest.
    Returns the episodes linked and the operators without consent.

    Example::

        link = link_consent("outbox/week01")
        print(link.missing)   # operators whose episodes cannot be published under consent
    """
    root = Path(dataset)
    ds = open_dataset(root)
    day = on or datetime.now(UTC).date()
    force = _in_force(list_consents(on=day, trusted=trusted, home=home))
    result = ConsentLink(dataset=root)
    updates: dict[str, dict[str, Any]] = {}
    for eid, op in _operators(ds):
        rec = force.get(op or "")
        if rec is None or rec.statement is None:
            result.missing.setdefault(op or "", []).append(eid)
            updates[eid] = {"extra": {CONSENT_KEY: None}}
            continue
        st = rec.statement
        link = {
            "consent_id": st.consent_id,
            "digest": rec.digest,
            "expires_on": st.expires_on.isoformat() if st.expires_on else None,
        }
        updates[eid] = {"extra": {CONSENT_KEY: link}}
        result.linked[eid] = st.consent_id
    with DatasetWriter(root, append=True) as writer:
        writer.update_episodes(updates)
    if (root / "qc" / "manifest.json").exists():
        # the dataset's digest changed: its QC manifest is rebuilt for it (no rule runs
        # again, reviews kept), so the dataset stays loadable with a QC filter
        combine_qc(root, [(root, load_qc_manifest(root))])
    return result


def _operators(ds: Any) -> list[tuple[str, str | None]]:
    table = ds.episodes.select(["episode_id", "operator_id"]).to_pylist()
    return [(r["episode_id"], r["operator_id"]) for r in table]


def episode_consent_problems(
    episodes: Iterable[tuple[str, str | None, dict[str, Any]]],
    *,
    on: date,
    scope: Sequence[str] = (),
    trusted: Sequence[Identity] | None = None,
    home: Path | None = None,
) -> dict[str, str]:
    """episode id -> why it lacks valid consent on ``on``, for ``(episode_id, operator_id,
    extra)`` rows: no operator, no link (``extra.consent``), a link to a statement not in the
    register, for another operator, not in force (withdrawn, expired, not yet given), or
    not covering every item of ``scope``."""
    records = {
        r.statement.consent_id: r
        for r in list_consents(on=on, trusted=trusted, home=home)
        if r.statement is not None
    }
    out: dict[str, str] = {}
    for eid, op, extra in episodes:
        link = extra.get(CONSENT_KEY)
        if not op:
            out[eid] = "no operator id"
            continue
        if not isinstance(link, dict):
            out[eid] = f"operator {op}: no consent linked"
            continue
        rec = records.get(str(link.get("consent_id")))
        if rec is None or rec.statement is None or rec.digest != link.get("digest"):
            out[eid] = f"operator {op}: linked consent {link.get('consent_id')} not on record"
        elif rec.statement.operator != op:
            out[eid] = f"linked consent {rec.consent_id} is another operator's"
        elif rec.state != "valid":
            out[eid] = f"operator {op}: consent {rec.consent_id} is {rec.state}"
        elif set(scope) - set(rec.statement.scope):
            lacking = ", ".join(sorted(set(scope) - set(rec.statement.scope)))
            out[eid] = f"operator {op}: consent {rec.consent_id} does not cover {lacking}"
    return out
