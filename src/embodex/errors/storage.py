"""Errors of the storage layer (``embodex.storage``: file, S3 and Hugging Face stores)."""

from __future__ import annotations

from .base import EmbodexError

__all__ = [
    "ObjectNotFoundError",
    "StorageAccessError",
    "StorageError",
    "StorageIntegrityError",
    "UnsafeKeyError",
]


class StorageError(EmbodexError):
    """A storage backend (local folder, S3, the Hub) failed or refused a request."""

    default_hint = (
        "Check the URL, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_ENDPOINT_URL for non-AWS stores) and the network; run again to resume."
    )


class ObjectNotFoundError(StorageError):
    """The key does not exist in the store; ``url`` names the object."""

    default_hint = "Check the URL and key; list the prefix to see what is there."

    def __init__(self, url: str, *, detail: str | None = None, hint: str | None = None) -> None:
        text = f"{url}: {detail}" if detail else f"{url} does not exist"
        super().__init__(text, hint=hint, url=url)


class UnsafeKeyError(StorageError):
    """A storage key that could escape its root (``..``, absolute, empty segments)."""

    default_hint = "Use relative keys with '/' separators and no '.' or '..' segments."


class StorageIntegrityError(StorageError):
    """A downloaded object does not have the size or sha256 it was promised to have."""

    default_hint = (
        "The stored copy is damaged or was replaced: ask the sender to upload it again; "
        "nothing was kept from the bad download."
    )


class StorageAccessError(StorageError):
    """The store refused these credentials (401/403), or the object's repository is private
    or gated for this account; retrying the same request cannot help."""

    default_hint = "Check the token or credentials and the access rights to the store."
