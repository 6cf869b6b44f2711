"""Errors of the trust layer (``embodex.trust``): keys, signed payloads and envelopes, the
ledger."""

from __future__ import annotations

from .base import EmbodexError

__all__ = [
    "ConsentError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyPermissionError",
    "LedgerError",
    "PassphraseError",
    "PayloadError",
    "SignatureError",
    "TrustError",
]


class TrustError(EmbodexError):
    """Keys, signatures, contracts or the ledger: something cannot be trusted or used."""


class KeyNotFoundError(TrustError):
    """No key or identity file of that name (``key_name``, or ``path`` for a file)."""

    default_hint = "`list_keys()` shows the keys; `generate_key(name, role)` makes one."


class KeyExistsError(TrustError):
    """Generating or importing a key under a name (``key_name``) that is already taken."""

    default_hint = "Choose another name; embodex never overwrites a key."


class KeyPermissionError(TrustError):
    """A private key file (``path``) is readable by other users (``mode``)."""

    def __init__(self, path: str, mode: int) -> None:
        self.mode = mode
        super().__init__(
            f"private key {path} is accessible by other users (mode {mode:04o})",
            hint=f"Run `chmod 600 {path}` and try again.",
            path=path,
        )


class PassphraseError(TrustError):
    """The key (``key_name``) is encrypted and the passphrase is missing or wrong."""

    default_hint = "Set EMBODEX_KEY_PASSPHRASE to the key's passphrase (or `passphrase=`)."


class SignatureError(TrustError):
    """A signed document does not verify: tampered, wrong key (``key_id``), wrong type,
    missing signer."""

    default_hint = (
        "Do not use this document; ask its sender for a fresh copy and check you trust the "
        "right public keys (`list_keys()`)."
    )


class PayloadError(TrustError):
    """A payload breaks the signing rules (floats, non-canonical JSON, unknown type)."""

    default_hint = (
        'Write money and other fractional numbers as decimal strings ("12.50") and times as '
        "ISO 8601 strings; see specs/signing.md."
    )


class LedgerError(TrustError):
    """A ledger (``path``) cannot be read or appended to safely (tampered, locked,
    malformed)."""

    default_hint = "`verify_ledger(path, identities)` shows which entry is wrong."


class ConsentError(TrustError):
    """Consent on record is missing, invalid or withdrawn (specs/privacy.md §4d): no statement
    for an operator (``operator``), a statement that does not verify, one withdrawn twice, or
    episodes published without the consent the contract requires."""

    default_hint = (
        "`record_consent(operator, signer, scope=[...])` records a statement; "
        "`list_consents()` shows the register (specs/privacy.md §4d)."
    )
