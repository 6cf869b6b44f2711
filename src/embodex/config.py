"""Settings read from the environment in one place.

Read through functions, not module constants, so tests (and long-lived processes) that
change the environment see the change.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "IDENTITY_SUFFIX",
    "PROJECT_REMOTES",
    "cache_dir",
    "channel_env",
    "contract_env",
    "debug_enabled",
    "home_dir",
    "key_env",
    "key_names",
    "key_passphrase",
    "keys_dir",
    "ledger_dir",
    "outbox_dir",
    "region",
    "remotes_file",
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


# --- privacy (issue 17) ---


def region() -> str | None:
    """``EMBODEX_REGION``: the ISO 3166 region where this machine processes data (``CN``,
    ``CN-HB``, ``DE``), the buyer's default for ``pull`` (None when unset)."""
    value = os.environ.get("EMBODEX_REGION", "").strip()
    return value or None


# --- named channels (issue 16) ---


def remotes_file() -> Path:
    """``$EMBODEX_HOME/remotes.yaml``: the user's named channels (``embodex remote add``)."""
    return home_dir() / "remotes.yaml"


#: The project-local remotes file, looked for in the working folder and every folder above it.
PROJECT_REMOTES = Path(".embodex") / "remotes.yaml"


def channel_env() -> str | None:
    """``EMBODEX_CHANNEL``: the channel (a remote's name or a URL) when none is given."""
    return os.environ.get("EMBODEX_CHANNEL") or None


def contract_env() -> Path | None:
    """``EMBODEX_CONTRACT``: the signed contract file when none is given."""
    value = os.environ.get("EMBODEX_CONTRACT")
    return Path(value).expanduser() if value else None


def key_env() -> str | None:
    """``EMBODEX_KEY``: the name of your signing key when none is given."""
    return os.environ.get("EMBODEX_KEY") or None


#: A key store holds ``NAME.pub.json`` (the identity) for every key (embodex.trust.keys).
IDENTITY_SUFFIX = ".pub.json"


def key_names() -> list[str]:
    """The names of the keys in the key store, read from the file names alone (no key is
    opened and the trust layer is not loaded): fast enough for shell completion."""
    base = keys_dir()
    if not base.is_dir():
        return []
    return sorted(p.name.removesuffix(IDENTITY_SUFFIX) for p in base.glob(f"*{IDENTITY_SUFFIX}"))


# --- units (issue 16) ---


def units_setting() -> str | None:
    """``EMBODEX_UNITS`` (``h``, ``min``, ``s`` or ``auto``): the unit durations and hours are
    shown in (checked by :func:`embodex.units.chosen_unit`); None when unset."""
    value = os.environ.get("EMBODEX_UNITS")
    return value if value else None
