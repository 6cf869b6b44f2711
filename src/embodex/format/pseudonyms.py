"""Operator pseudonyms (specs/privacy.md §6): operator ids replaced by a keyed HMAC.

The key is a 32-byte secret held by the centre in its embodex home
(``privacy/pseudonym.key``, created on first use, mode 0600); the re-identification table
(``privacy/reidentify.jsonl``: pseudonym → operator id) stays beside it. Neither ever enters
a dataset, a channel or a log. A pseudonym is stable for one key and scope, so scorecards
keep working; ``scope`` (e.g. a contract id) gives each buyer unlinkable pseudonyms.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from ..config import home_dir
from ..errors import DatasetExistsError
from ..fsutil import atomic_write_bytes
from . import layout
from .copy import copy_episodes
from .episode import Episode
from .reader import Dataset, open_dataset

__all__ = ["centre_secret", "pseudonym", "pseudonymise_operators"]

KEY_FILE = "privacy/pseudonym.key"
TABLE_FILE = "privacy/reidentify.jsonl"


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
    re-identification table (never to ``dest``).

    Example::

        pseudonymise_operators("datasets/week01", "outbox/week01", scope="c-2026-001")
    """
    src = source if isinstance(source, Dataset) else open_dataset(source)
    if layout.resolve(Path(dest), layout.META_FILE).exists():
        raise DatasetExistsError(f"{dest} already holds a dataset", hint="Choose a new folder.")
    secret = centre_secret(home)
    table: dict[str, str] = {}

    def convert(ep: Episode) -> Episode:
        real = ep.meta.operator_id
        if real is None:
            return ep
        alias = pseudonym(real, secret, scope)
        table[alias] = real
        return dataclasses.replace(ep, meta=ep.meta.model_copy(update={"operator_id": alias}))

    out = copy_episodes(src, dest, transform=convert, on_episode=on_episode)
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
