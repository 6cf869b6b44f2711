"""Storage: object stores chosen by URL scheme, the bottom layer (specs/storage.md).

* stores — the :class:`Storage` interface, :class:`FileStorage` (paths, ``file://``),
  :class:`S3Storage` (``s3://``, any S3-compatible endpoint) and :func:`open_storage`
* hf — :class:`HFStorage` (``hf://datasets/OWNER/REPO``, one commit per publication);
  huggingface_hub is imported on first use only
* transfer — retries, parallel transfers and resumable, hash-checked downloads

Delivery (channels) and the training loader (streaming from a store) both stand on it; nothing
here imports a layer above.

Example::

    from embodex.storage import open_storage
    store = open_storage("s3://acme/deliveries")
    print(store.list(""))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .stores import (
    FileStorage,
    ObjectInfo,
    S3Storage,
    Storage,
    join_key,
    open_storage,
    validate_key,
)

if TYPE_CHECKING:
    from .hf import HFStorage

__all__ = [
    "FileStorage",
    "HFStorage",
    "ObjectInfo",
    "S3Storage",
    "Storage",
    "join_key",
    "open_storage",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    # HFStorage needs huggingface_hub only when a hf:// store is opened
    if name == "HFStorage":
        from .hf import HFStorage

        return HFStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
