"""Settings read from the environment in one place.

Read through functions, not module constants, so tests (and long-lived processes) that
change the environment see the change.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "cache_dir",
    "debug_enabled",
    "home_dir",
    "key_passphrase",
    "keys_dir",
    "ledger_dir",
    "outbox_dir",
    "region",
]


def home_dir() -> Path:
    """``EMBODEX_HOME`` (default ``~/.embodex``): keys, ledgers, caches."""
    env = os.environ.get("EMBODEX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".embodex"


def keys_dir() -> Path:
    """Where private keys and identity files live."""
    return home_dir() / "keys"


def cache_dir() -> Path:
    """``EMBODEX_CACHE`` (default ``$EMBODEX_HOME/cache``): downloaded shards."""
    env = os.environ.get("EMBODEX_CACHE")
    return Path(env).expanduser() if env else home_dir() / "cache"


def debug_enabled() -> bool:
    """``EMBODEX_DEBUG=1`` makes the CLI show tracebacks."""
    return os.environ.get("EMBODEX_DEBUG", "") not in ("", "0", "false", "no")


# --- trust (issue 4) ---


def key_passphrase() -> str | None:
    """``EMBODEX_KEY_PASSPHRASE``: the passphrase of encrypted private keys (None when unset)."""
    value = os.environ.get("EMBODEX_KEY_PASSPHRASE")
    return value if value else None


def ledger_dir() -> Path:
    """``EMBODEX_LEDGER_DIR`` (default ``$EMBODEX_HOME/ledger``): one ledger file per party."""
    env = os.environ.get("EMBODEX_LEDGER_DIR")
    return Path(env).expanduser() if env else home_dir() / "ledger"


# --- delivery (issue 5) ---


def outbox_dir() -> Path:
    """``$EMBODEX_HOME/outbox``: a centre's staged batches and publish state, per channel."""
    return home_dir() / "outbox"


# --- privacy (issue 17) ---


def region() -> str | None:
    """``EMBODEX_REGION``: the ISO 3166 region where this machine processes data (``CN``,
    ``CN-HB``, ``DE``), the buyer's default for ``pull`` (None when unset)."""
    value = os.environ.get("EMBODEX_REGION", "").strip()
    return value or None
