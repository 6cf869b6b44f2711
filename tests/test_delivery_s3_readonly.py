"""A buyer whose S3 credentials may only read the channel, end to end against moto's server
with IAM enforcement on (its own process: policies checked on every request once set up).

The centre's user may do anything on S3; the buyer's may GetObject and ListBucket only. The
buyer's pull installs every batch and keeps the receipts it may not post; the centre carries
them with post_receipts; the buyer's store stays usable throughout.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from embodex.contract import open_receipt
from embodex.delivery import channel_supply, post_receipts, publish, pull
from embodex.format import open_dataset

from ._delivery import PROFILE, at, centre_dataset, contract
from .conftest import _free_port, start_moto, stop_process

_ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def iam_s3() -> Iterator[tuple[str, str, dict[str, tuple[str, str]]]]:
    """(endpoint, bucket, user -> access key pair) on a fresh moto server that enforces IAM."""
    port = _free_port()
    proc = start_moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        admin = {"endpoint_url": endpoint, "region_name": "us-east-1", **_ADMIN}
        bucket = f"ro-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", **admin).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", **admin)
        keys = {}
        for user, actions in (("centre", ["s3:*"]), ("buyer", ["s3:GetObject", "s3:ListBucket"])):
            iam.create_user(UserName=user)
            policy = {"Effect": "Allow", "Action": actions, "Resource": "*"}
            iam.put_user_policy(
                UserName=user,
                PolicyName="channel",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [policy]}),
            )
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        # from here on moto authenticates and authorises every request
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request) as resp:
            assert resp.status == 200
        yield endpoint, bucket, keys
    finally:
        stop_process(proc)


def _as(monkeypatch: pytest.MonkeyPatch, endpoint: str, key: tuple[str, str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key[1])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_read_only_buyer_over_s3(
    iam_s3: tuple[str, str, dict[str, tuple[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, bucket, keys = iam_s3
    url = f"s3://{bucket}/deliveries"
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"

    _as(monkeypatch, endpoint, keys["centre"])
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    _as(monkeypatch, endpoint, keys["buyer"])
    r1 = pull(url, terms, buyer, store, now=at(5, 12))
    assert [(b.number, b.accepted) for b in r1.batches] == [(1, 3)]
    assert r1.receipts_unposted == [1]
    assert r1.receipts_refused and "AccessDenied" in r1.receipts_refused

    _as(monkeypatch, endpoint, keys["centre"])
    centre_dataset(src, 2, first=3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(12))
    _as(monkeypatch, endpoint, keys["buyer"])
    r2 = pull(url, terms, buyer, store, now=at(12, 12))
    assert [(b.number, b.accepted) for b in r2.batches] == [(2, 2)]
    assert r2.receipts_unposted == [1, 2] and len(open_dataset(store / "dataset")) == 5

    # the centre, which may write, carries both receipts; the supply then counts them
    _as(monkeypatch, endpoint, keys["centre"])
    assert channel_supply(url, terms, now=at(13)).status.accepted_hours == 0
    files = sorted((store / "receipts").glob("*.json"))
    posted = post_receipts(url, terms, files, now=at(13))
    assert [(p.batch, p.already) for p in posted] == [(1, False), (2, False)]
    status = channel_supply(url, terms, now=at(13)).status
    assert status.accepted_hours == sum(
        open_receipt(f.read_bytes(), buyer.identity).accepted_hours for f in files
    )
    assert status.pending_hours == 0

    # the buyer's next pull finds them there: nothing left unposted, nothing written
    _as(monkeypatch, endpoint, keys["buyer"])
    r3 = pull(url, terms, buyer, store, now=at(13, 12))
    assert (r3.receipts_unposted, r3.receipts_posted, r3.receipts_refused) == ([], [], None)
