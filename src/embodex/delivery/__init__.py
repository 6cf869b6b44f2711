"""Delivery: channels between a centre and a buyer, on local folders, S3 or Hugging Face Hub
dataset repos (specs/channel.md).

* storage — backends by URL scheme (:func:`open_storage`: paths, ``file://``, ``s3://``,
  ``hf://datasets/OWNER/REPO`` through :class:`HFStorage`, one commit per publication)
* documents — the signed channel head, batch manifests and notices
* publish — the centre delivers new episodes as the next batch (:func:`publish`)
* pull — the buyer verifies, downloads, re-checks, decides, installs, signs receipts
  (:func:`pull`, :func:`watch`)
* heads, notices, receipts — :func:`refresh_channel`, :func:`send_notice`,
  :func:`revoke_batch`, :func:`countersign_receipts`, :func:`post_receipts`
* supply — :func:`channel_supply` (status per period) and :func:`supply_plan` (the centre's)

Example::

    from embodex.delivery import publish, pull
    publish("centre/all", "s3://acme/deliveries", "contract.signed.json", centre_signer)
    report = pull("s3://acme/deliveries", "contract.signed.json", buyer_signer, "store")

Names load lazily, so ``embodex.delivery.storage`` (which the training loader uses) does not
pull in QC and trust.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .channel import Channel, open_channel
    from .documents import BatchManifest, ChannelHead, Notice
    from .heads import DEFAULT_HEAD_TTL, refresh_channel
    from .notices import revoke_batch, send_notice
    from .overview import ChannelOverview, describe_channel
    from .publish import PublishResult, publish
    from .pull import BatchReport, PullReport, pull, watch
    from .receipts import countersign_receipts, post_receipts, read_receipt
    from .storage import FileStorage, ObjectInfo, S3Storage, Storage, open_storage, validate_key
    from .storage_hf import HFStorage
    from .supply import SupplyPlan, SupplyReport, channel_supply, supply_plan

__all__ = [
    "DEFAULT_HEAD_TTL",
    "BatchManifest",
    "BatchReport",
    "Channel",
    "ChannelHead",
    "ChannelOverview",
    "FileStorage",
    "HFStorage",
    "Notice",
    "ObjectInfo",
    "PublishResult",
    "PullReport",
    "S3Storage",
    "Storage",
    "SupplyPlan",
    "SupplyReport",
    "channel_supply",
    "countersign_receipts",
    "describe_channel",
    "open_channel",
    "open_storage",
    "post_receipts",
    "publish",
    "pull",
    "read_receipt",
    "refresh_channel",
    "revoke_batch",
    "send_notice",
    "supply_plan",
    "validate_key",
    "watch",
]


_WHERE: dict[str, str] = {
    "BatchManifest": "documents",
    "BatchReport": "pull",
    "Channel": "channel",
    "ChannelHead": "documents",
    "ChannelOverview": "overview",
    "DEFAULT_HEAD_TTL": "heads",
    "FileStorage": "storage",
    "HFStorage": "storage_hf",
    "Notice": "documents",
    "ObjectInfo": "storage",
    "PublishResult": "publish",
    "PullReport": "pull",
    "S3Storage": "storage",
    "Storage": "storage",
    "SupplyPlan": "supply",
    "SupplyReport": "supply",
    "channel_supply": "supply",
    "countersign_receipts": "receipts",
    "describe_channel": "overview",
    "open_channel": "channel",
    "open_storage": "storage",
    "post_receipts": "receipts",
    "publish": "publish",
    "pull": "pull",
    "read_receipt": "receipts",
    "refresh_channel": "heads",
    "revoke_batch": "notices",
    "send_notice": "notices",
    "supply_plan": "supply",
    "validate_key": "storage",
    "watch": "pull",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
