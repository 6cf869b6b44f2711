"""Delivery: moving datasets between parties. ``storage`` holds the backends by URL scheme."""

from .storage import FileStorage, ObjectInfo, S3Storage, Storage, open_storage, validate_key

__all__ = ["FileStorage", "ObjectInfo", "S3Storage", "Storage", "open_storage", "validate_key"]
