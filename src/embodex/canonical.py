"""Canonical JSON (RFC 8785) and content digests shared by every layer.

Digests over metadata are always taken over canonical JSON, so two programs that agree
on the content agree on the digest, whatever key order or whitespace they write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785

__all__ = ["canonical_json", "digest_json", "sha256_bytes", "sha256_file", "to_pretty_json"]

_CHUNK = 8 * 1024 * 1024


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON bytes."""
    return bytes(rfc8785.dumps(value))


def digest_json(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in large chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def to_pretty_json(value: Any) -> bytes:
    """Human-readable JSON for files people open (sorted keys, stable output)."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
