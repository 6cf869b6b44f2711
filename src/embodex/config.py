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
    "units_setting",
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


# --- units (issue 16) ---


def units_setting() -> str | None:
    """``EMBODEX_UNITS`` (``h``, ``min``, ``s`` or ``auto``): the unit durations and hours are
    shown in (checked by :func:`embodex.units.chosen_unit`); None when unset."""
    value = os.environ.get("EMBODEX_UNITS")
    return value if value else None
