"""Delivery: channels between a centre and a buyer, on local folders, S3 or Hugging Face Hub
dataset repos (specs/channel.md).

* documents — the signed channel head, batch manifests and notices
* publish — the centre delivers new episodes as the next batch (:func:`publish`)
* pull — the buyer verifies, downloads, re-checks, decides, installs, signs receipts
  (:func:`pull`, :func:`watch`)
* heads, notices, receipt_exchange — :func:`refresh_channel`, :func:`send_notice`,
  :func:`revoke_batch`, :func:`countersign_receipts`, :func:`post_receipts`
* channel_supply — :func:`channel_supply` (status per period) and :func:`supply_plan` (the
  centre's); the accounting rules themselves live in :mod:`embodex.contract.supply`

Object stores (folders, S3, Hub repos) are :mod:`embodex.storage`, the layer below.

Example::

    from embodex.delivery import publish, pull
    publish("centre/all", "s3://acme/deliveries", "contract.signed.json", centre_signer)
    report = pull("s3://acme/deliveries", "contract.signed.json", buyer_signer, "store")

Names load lazily, so ``embodex.storage.stores`` (which the training loader uses) does not
pull in QC and trust.
"""

from __future__ import annotations

from .channel import Channel, open_channel
from .channel_supply import SupplyPlan, SupplyReport, channel_supply, supply_plan
from .documents import BatchManifest, ChannelHead, Notice
from .heads import DEFAULT_HEAD_TTL, refresh_channel
from .notices import (
    EpisodeRevocation,
    revoke_batch,
    revoke_episodes,
    revoke_operator,
    send_notice,
)
from .overview import ChannelOverview, describe_channel
from .publish import PublishResult, publish
from .pull import BatchReport, PullReport, pull, watch
from .receipt_exchange import countersign_receipts, post_receipts, read_receipt

__all__ = [
    "DEFAULT_HEAD_TTL",
    "BatchManifest",
    "BatchReport",
    "Channel",
    "ChannelHead",
    "ChannelOverview",
    "EpisodeRevocation",
    "Notice",
    "PublishResult",
    "PullReport",
    "SupplyPlan",
    "SupplyReport",
    "channel_supply",
    "countersign_receipts",
    "describe_channel",
    "open_channel",
    "post_receipts",
    "publish",
    "pull",
    "read_receipt",
    "refresh_channel",
    "revoke_batch",
    "revoke_episodes",
    "revoke_operator",
    "send_notice",
    "supply_plan",
    "watch",
]
