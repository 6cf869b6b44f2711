"""Operator pseudonyms (specs/privacy.md §6): operator ids replaced by a keyed HMAC.

The key is a 32-byte secret held by the centre in its embodex home
(``privacy/pseudonym.key``, created on first use, mode 0600); the re-identification table
(``privacy/reidentify.jsonl``: pseudonym → operator id) stays beside it. Neither ever enters
a dataset, a channel or a log. A pseudonym is stable for one key and scope, so scorecards
keep working; ``scope`` (e.g. a contract id) gives each buyer unlinkable pseudonyms.

The pseudonymised dataset says so in ``embodex.json`` ``extra.privacy.pseudonyms``:
``{"scheme": "hmac-sha256", "scope": "c-2026-001" | null, "key_id": …}`` (``key_id`` names
the key without revealing it), so ``publish`` can check the scope a contract requires.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import home_dir
from ..errors import DatasetExistsError, PrivacyError
from ..fsutil import atomic_write_bytes
from . import layout
from .copy import copy_episodes
from .episode import Episode
from .models import DatasetMeta
from .reader import Dataset, open_dataset

__all__ = [
    "PSEUDONYM_PATTERN",
    "centre_secret",
    "key_id",
    "pseudonym",
    "pseudonym_record",
    "pseudonymise_operators",
]

KEY_FILE = "privacy/pseudonym.key"
TABLE_FILE = "privacy/reidentify.jsonl"
#: What every pseudonym looks like (``publish`` checks the operator ids it delivers).
PSEUDONYM_PATTERN = r"^op-[0-9a-f]{16}$"


def centre_secret(home: Path | None = None) -> bytes:
    """The centre's pseudonym key, created (32 random bytes, 0600) on first use."""
    path = (home or home_dir()) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(path, secrets.token_bytes(32), mode=0o600)
    return path.read_bytes()


def pseudonym(operator_id: str, secret: bytes, scope: str = "") -> str:
    """``op-`` and 16 hex digits of HMAC-SHA256(secret, scope NUL operator id)."""
    mac = hmac.new(secret, f"{scope}\0{operator_id}".encode(), hashlib.sha256)
    return "op-" + mac.hexdigest()[:16]


def key_id(secret: bytes) -> str:
    """A name for the key that does not reveal it: 16 hex digits of HMAC(key, a fixed label)."""
    return hmac.new(secret, b"embodex pseudonym key id", hashlib.sha256).hexdigest()[:16]


def pseudonym_record(meta: DatasetMeta) -> dict[str, Any] | None:
    """The dataset's ``extra.privacy.pseudonyms`` record, or None when it has none."""
    record = (meta.extra.get("privacy") or {}).get("pseudonyms")
    return dict(record) if isinstance(record, dict) else None


def pseudonymise_operators(
    source: Dataset | str | Path,
    dest: str | Path,
    *,
    scope: str = "",
    home: Path | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> Dataset:
    """Write ``source`` to the new dataset ``dest`` with every episode's ``operator_id``
    replaced by its pseudonym; the pseudonym → id pairs are appended to the centre's
    re-identification table (never to ``dest``). ``dest``'s ``embodex.json`` records the
    scheme, ``scope`` and key id (``extra.privacy.pseudonyms``). Raises
    ``DatasetExistsError`` (``dest`` holds a dataset) and ``PrivacyError`` (``source`` is
    pseudonymised already: pseudonymise the original again for another scope).

    Example::

        pseudonymise_operators("datasets/week01", "outbox/week01", scope="c-2026-001")
    """
    src = source if isinstance(source, Dataset) else open_dataset(source)
    if layout.resolve(Path(dest), layout.META_FILE).exists():
        raise DatasetExistsError(f"{dest} already holds a dataset", hint="Choose a new folder.")
    done = pseudonym_record(src.meta)
    if done is not None:
        raise PrivacyError(
            f"{src.root} is pseudonymised already (scope {done.get('scope')!r})",
            hint="Pseudonymise the dataset with the real operator ids (the centre's original) "
            "for another scope.",
        )
    secret = centre_secret(home)
    privacy = dict(src.meta.extra.get("privacy") or {})
    privacy["pseudonyms"] = {
        "scheme": "hmac-sha256",
        "scope": scope or None,
        "key_id": key_id(secret),
        "tool": f"embodex {__version__}",
    }
    meta = src.meta.model_copy(update={"extra": {**src.meta.extra, "privacy": privacy}})
    table: dict[str, str] = {}

    def convert(ep: Episode) -> Episode:
        real = ep.meta.operator_id
        if real is None:
            return ep
        alias = pseudonym(real, secret, scope)
        table[alias] = real
        return dataclasses.replace(ep, meta=ep.meta.model_copy(update={"operator_id": alias}))

    out = copy_episodes(src, dest, meta=meta, transform=convert, on_episode=on_episode)
    path = (home or home_dir()) / TABLE_FILE
    known = path.read_bytes() if path.exists() else b""
    lines = [
        json.dumps({"pseudonym": a, "operator_id": r, "scope": scope}, sort_keys=True)
        for a, r in sorted(table.items())
    ]
    new = "".join(f"{line}\n" for line in lines if line.encode() not in known)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, known + new.encode(), mode=0o600)
    return out
