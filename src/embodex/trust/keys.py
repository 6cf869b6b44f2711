"""Ed25519 identities and keys: generate, store, load, list.

A key named ``NAME`` lives in :func:`embodex.config.keys_dir` as two files:

* ``NAME.key`` — the private key, PKCS#8 PEM, mode 0600, encrypted with the passphrase when
  one is given (PBES2, the best ``cryptography`` offers). embodex refuses to load it when
  other users can read it.
* ``NAME.pub.json`` — the public identity: ``{name, role, public_key, key_id}``, where
  ``public_key`` is base64 of the raw 32 bytes and ``key_id`` is ``"ed25519:"`` + the first
  32 hex characters (128 bits) of sha256 of those bytes. Anyone may hold this file.

The private key never leaves :class:`Signer`: it is not in its repr, cannot be pickled, and no
error message quotes key bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import IDENTITY_SUFFIX, key_passphrase, keys_dir
from ..errors import (
    KeyExistsError,
    KeyNotFoundError,
    KeyPermissionError,
    PassphraseError,
    TrustError,
)
from ..fsutil import FileLock, atomic_write_bytes
from ..parsing import MAX_INPUT_BYTES, read_bounded

__all__ = [
    "ROLES",
    "Identity",
    "KeyDetails",
    "KeyInfo",
    "NewKey",
    "Role",
    "Signer",
    "create_key",
    "describe_key",
    "export_identity",
    "generate_key",
    "import_identity",
    "key_id_for",
    "key_is_encrypted",
    "list_keys",
    "load_identity",
    "load_signer",
    "trusted_identities",
]

Role = Literal["centre", "buyer", "reviewer"]
ROLES: tuple[str, ...] = ("centre", "buyer", "reviewer")
_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME_RE = re.compile(_NAME_PATTERN)
KeyName = Annotated[str, Field(pattern=_NAME_PATTERN)]
KEY_ID_PATTERN = r"^ed25519:[0-9a-f]{32}$"
_PRIVATE_SUFFIX = ".key"
_IDENTITY_SUFFIX = IDENTITY_SUFFIX  # embodex.config: completion lists names without us
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def key_id_for(raw_public_key: bytes) -> str:
    """``ed25519:`` + the first 32 hex characters of sha256(raw 32-byte public key)."""
    return "ed25519:" + hashlib.sha256(raw_public_key).hexdigest()[:32]


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None


class Identity(BaseModel):
    """A party's public identity: who they are and the public key their signatures verify with.

    Example::

        alice = load_identity("hubei-centre")
        alice.key_id       # 'ed25519:3f7a…' (32 hex)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: KeyName = Field(description="Short name of the key (also its file name).")
    role: Role = Field(description="centre, buyer or reviewer.")
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key.")
    key_id: str = Field(
        pattern=KEY_ID_PATTERN,
        description='"ed25519:" + first 32 hex chars of sha256(raw public key).',
    )

    @model_validator(mode="after")
    def _check_key(self) -> Identity:
        raw = _b64decode(self.public_key, "public_key")
        if len(raw) != 32:
            raise ValueError(f"public_key must be 32 bytes, got {len(raw)}")
        if key_id_for(raw) != self.key_id:
            raise ValueError(f"key_id {self.key_id} does not match public_key")
        return self

    def raw_public_key(self) -> bytes:
        return base64.b64decode(self.public_key)

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``data``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw_public_key()).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_public_key(cls, name: str, role: str, public: Ed25519PublicKey) -> Identity:
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls.model_validate(
            {
                "name": name,
                "role": role,
                "public_key": base64.b64encode(raw).decode(),
                "key_id": key_id_for(raw),
            }
        )


class Signer:
    """Signs bytes with a private key. Holds the key; shows only the name and key id.

    Get one with :func:`load_signer` (from the key store) or :meth:`ephemeral` (in memory).
    """

    __slots__ = ("_key", "identity")

    def __init__(self, private_key: Ed25519PrivateKey, identity: Identity) -> None:
        derived = Identity.from_public_key(identity.name, identity.role, private_key.public_key())
        if derived.key_id != identity.key_id:
            raise TrustError(
                f"the private key of {identity.name!r} does not match its identity "
                f"({identity.key_id})",
                hint="Restore the matching NAME.pub.json, or generate a new key.",
            )
        self._key = private_key
        self.identity = identity

    @classmethod
    def ephemeral(cls, name: str, role: str) -> Signer:
        """A fresh key that lives only in memory (tests, one-off tools)."""
        key = Ed25519PrivateKey.generate()
        return cls(key, Identity.from_public_key(name, role, key.public_key()))

    @property
    def key_id(self) -> str:
        return self.identity.key_id

    @property
    def name(self) -> str:
        return self.identity.name

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data``."""
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, role={self.identity.role!r}, key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the private key into whatever stores the pickle.
        raise TypeError("a Signer holds a private key and cannot be pickled")


@dataclass(frozen=True)
class KeyInfo:
    """One entry of :func:`list_keys`."""

    identity: Identity
    identity_path: Path
    private_key_path: Path | None  # None: only the public identity is stored here
    encrypted: bool
    permissions_ok: bool

    @property
    def has_private_key(self) -> bool:
        return self.private_key_path is not None

    def to_json(self) -> dict[str, Any]:
        """One row of ``embodex keys list --json``."""
        return {
            **self.identity.model_dump(mode="json"),
            "private_key": self.has_private_key,
            "encrypted": self.encrypted,
            "permissions_ok": self.permissions_ok,
        }


@dataclass(frozen=True)
class KeyDetails:
    """One identity and where its files are (``embodex keys show``); the file paths are None
    for an identity given by path rather than stored in the key store."""

    identity: Identity
    identity_file: Path | None
    private_key_file: Path | None
    encrypted: bool

    def to_json(self) -> dict[str, Any]:
        return {
            **self.identity.model_dump(mode="json"),
            "identity_file": None if self.identity_file is None else str(self.identity_file),
            "private_key_file": None
            if self.private_key_file is None
            else str(self.private_key_file),
            "encrypted": self.encrypted,
        }


@dataclass(frozen=True)
class NewKey:
    """A key just generated: its public identity and whether the private key is encrypted."""

    identity: Identity
    encrypted: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.identity.model_dump(mode="json"), "encrypted": self.encrypted}


def _check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise KeyNotFoundError(
            f"{name!r} is not a valid key name",
            key_name=name,
            hint="Use letters, digits, '.', '_' or '-' (at most 64 characters).",
        )
    return name


def _paths(name: str) -> tuple[Path, Path]:
    base = keys_dir()
    return base / f"{name}{_PRIVATE_SUFFIX}", base / f"{name}{_IDENTITY_SUFFIX}"


def generate_key(name: str, role: str, passphrase: str | None = None) -> Identity:
    """Create a new Ed25519 key ``name`` and return its public identity.

    The private key is written with mode 0600 (encrypted when ``passphrase`` is given), the
    identity next to it. Raises :class:`KeyExistsError` when the name is taken,
    :class:`TrustError` for an unknown role.

    Example::

        ident = generate_key("hubei-centre", "centre")
        print(ident.key_id)
    """
    _check_name(name)
    if role not in ROLES:
        raise TrustError(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
    if passphrase == "":
        raise PassphraseError("the passphrase is empty", hint="Use a non-empty passphrase.")
    private_path, identity_path = _paths(name)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(private_path.parent, 0o700)
    with FileLock(private_path.parent / ".lock").held():
        if private_path.exists() or identity_path.exists():
            raise KeyExistsError(
                f"a key named {name!r} already exists in {private_path.parent}", key_name=name
            )
        key = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        identity = Identity.from_public_key(name, role, key.public_key())
        atomic_write_bytes(private_path, pem, mode=0o600)
        atomic_write_bytes(identity_path, identity.to_json_bytes(), mode=0o644)
    return identity


def _permissions_ok(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def _read_private(name: str) -> tuple[Path, bytes]:
    _check_name(name)
    private_path, _ = _paths(name)
    if not private_path.is_file():
        raise KeyNotFoundError(
            f"no private key named {name!r} in {private_path.parent}", key_name=name
        )
    if not _permissions_ok(private_path):
        mode = stat.S_IMODE(private_path.stat().st_mode)
        raise KeyPermissionError(str(private_path), mode)
    return private_path, private_path.read_bytes()


def key_is_encrypted(name: str) -> bool:
    """True when the private key ``name`` is stored encrypted (needs a passphrase)."""
    return _read_private(name)[1].lstrip().startswith(_ENCRYPTED_PEM)


def load_signer(name: str, passphrase: str | None = None) -> Signer:
    """Load the private key ``name`` for signing.

    ``passphrase`` defaults to ``EMBODEX_KEY_PASSPHRASE``; it is ignored for unencrypted keys.
    Raises :class:`KeyNotFoundError`, :class:`KeyPermissionError` (file readable by others),
    :class:`PassphraseError` (missing or wrong passphrase).

    Example::

        signer = load_signer("hubei-centre")
        envelope = sign_payload(PAYLOAD_TYPES["contract"], payload, signer)
    """
    path, pem = _read_private(name)
    encrypted = pem.lstrip().startswith(_ENCRYPTED_PEM)
    password: bytes | None = None
    if encrypted:
        secret = passphrase if passphrase is not None else key_passphrase()
        if not secret:
            raise PassphraseError(f"key {name!r} is encrypted and no passphrase was given")
        password = secret.encode()
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # cryptography says "Bad decrypt" for a wrong passphrase; never echo its details,
        # which could include parsing context of the key bytes.
        if encrypted:
            raise PassphraseError(f"wrong passphrase for key {name!r}") from None
        raise TrustError(
            f"private key file {path} is damaged or not a PKCS#8 PEM key",
            hint="Restore it from your backup; a lost key cannot be recovered.",
            path=path,
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustError(
            f"private key file {path} is not an Ed25519 key",
            hint="embodex signs with Ed25519 only: make a key with `generate_key(name, role)`.",
            path=path,
        )
    return Signer(key, _stored_identity(name))


def _identity_from_file(path: Path) -> Identity:
    try:
        data: Any = json.loads(read_bounded(path, limit=MAX_INPUT_BYTES, error=TrustError))
        return Identity.model_validate(data)
    except RecursionError:
        raise TrustError(f"identity file {path} nests too deeply", path=path) from None
    except (ValueError, ValidationError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise TrustError(
            f"identity file {path} is not a valid embodex identity: {first}",
            hint="Ask its owner for a fresh copy (`export_identity(name)`).",
            path=path,
        ) from None


def _is_path(name_or_path: str | Path) -> bool:
    """A ``Path``, or text naming a file: with a ``/`` (``./hub``) or ending in ``.json``.
    Anything else is a key name, whatever files the current directory holds — so a file
    called like a key can neither shadow nor impersonate it."""
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or "/" in text or os.sep in text or text.endswith(".json")


def load_identity(name_or_path: str | Path) -> Identity:
    """A public identity by key name (from the key store) or by the path of an identity file
    (a ``Path``, or text with a ``/`` or ending in ``.json``: ``./hub`` for a file called
    ``hub``).

    Raises :class:`KeyNotFoundError` or :class:`TrustError` (malformed file).
    """
    if _is_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise KeyNotFoundError(f"identity file {path} does not exist", path=path)
        return _identity_from_file(path)
    return _stored_identity(str(name_or_path))


def _stored_identity(name: str) -> Identity:
    _check_name(name)
    _, identity_path = _paths(name)
    if not identity_path.is_file():
        raise KeyNotFoundError(
            f"no identity named {name!r} in {identity_path.parent}", key_name=name
        )
    return _identity_from_file(identity_path)


def import_identity(path: str | Path) -> Identity:
    """Store another party's identity file in the key store, so its signatures are trusted.

    Raises :class:`KeyExistsError` when a different key already uses that name (importing
    the same identity again is a no-op), :class:`TrustError` for a malformed file.
    """
    identity = _identity_from_file(Path(path))
    _, identity_path = _paths(identity.name)
    identity_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(identity_path.parent / ".lock").held():
        if identity_path.exists():
            existing = _identity_from_file(identity_path)
            if existing == identity:
                return identity
            raise KeyExistsError(
                f"the key store already holds a different key named {identity.name!r} "
                f"({existing.key_id}, not {identity.key_id})",
                hint="Check the key id with its owner; `load_identity(name).key_id` shows yours.",
                key_name=identity.name,
                key_id=identity.key_id,
            )
        atomic_write_bytes(identity_path, identity.to_json_bytes(), mode=0o644)
    return identity


def export_identity(name: str) -> bytes:
    """The identity file of key ``name`` as pretty JSON bytes (safe to share)."""
    return _stored_identity(name).to_json_bytes()


def create_key(name: str, role: str, passphrase: str | None = None) -> NewKey:
    """:func:`generate_key` as a typed result (``embodex keys generate``)."""
    return NewKey(generate_key(name, role, passphrase), encrypted=bool(passphrase))


def describe_key(name_or_path: str | Path) -> KeyDetails:
    """An identity (a key name, or an identity file) and its files in the key store.

    Raises ``KeyNotFoundError`` (see :func:`load_identity`)."""
    ident = load_identity(name_or_path)
    info = next((i for i in list_keys() if i.identity.name == ident.name), None)
    return KeyDetails(
        identity=ident,
        identity_file=info.identity_path if info else None,
        private_key_file=info.private_key_path if info else None,
        encrypted=bool(info and info.encrypted),
    )


def trusted_identities(extra: Iterable[str | Path] = ()) -> list[Identity] | None:
    """The identities of the key store plus ``extra`` ones (key names, or identity files: a
    path with a ``/`` or ``.json``), or None when no extra is given — the callers that take
    ``trusted`` then use the key store alone. Raises ``KeyNotFoundError``."""
    more = [load_identity(x) for x in extra]
    if not more:
        return None
    return [*(info.identity for info in list_keys()), *more]


def list_keys() -> list[KeyInfo]:
    """Every identity in the key store, sorted by name, with whether its private key is here."""
    base = keys_dir()
    if not base.is_dir():
        return []
    found = []
    for identity_path in sorted(base.glob(f"*{_IDENTITY_SUFFIX}")):
        identity = _identity_from_file(identity_path)
        private_path = base / f"{identity.name}{_PRIVATE_SUFFIX}"
        has_private = private_path.is_file()
        found.append(
            KeyInfo(
                identity=identity,
                identity_path=identity_path,
                private_key_path=private_path if has_private else None,
                encrypted=has_private
                and private_path.read_bytes().lstrip().startswith(_ENCRYPTED_PEM),
                permissions_ok=not has_private or _permissions_ok(private_path),
            )
        )
    return found
