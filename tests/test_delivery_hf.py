"""Delivery through a Hugging Face Hub dataset repo (hf://), against tests/hub_server.py in its
own process, driven by huggingface_hub itself: one commit per batch, a pull fetches only the
new batch's files, a file altered on the Hub is refused, access errors are one clear line.

The whole weekly trade over hf:// runs in test_delivery_flow.py (parametrised with file and
s3); the read path against olah, a real Hub mirror from PyPI, is in test_delivery_olah.py.
"""

from __future__ import annotations

import pickle
import re
import socket
import struct
import threading
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from embodex.delivery import open_channel, publish, pull
from embodex.errors import ObjectNotFoundError, StorageAccessError, StorageError
from embodex.storage.hf import HFStorage
from embodex.storage.stores import open_storage

from ._delivery import PROFILE, at, centre_dataset, contract
from .conftest import HUB_TOKENS, use_hub
from .test_cli_delivery import _one_line_error
from .test_cli_format import run


def _repo(url: str) -> str:
    return url.removeprefix("hf://datasets/")


def _api(endpoint: str, who: str = "centre") -> HfApi:
    return HfApi(endpoint=endpoint, token=HUB_TOKENS[who][0])


def _requests(endpoint: str) -> list[tuple[str, str, int, int]]:
    import httpx2

    got = httpx2.get(f"{endpoint}/_stats").json()["requests"]
    return [(m, p, int(s), int(n)) for m, p, s, n in got]


def test_hf_urls_parse_and_pickle_without_client() -> None:
    store = open_storage("hf://datasets/hubei-centre/deliveries@v2/acme/week01/")
    assert isinstance(store, HFStorage)
    assert (store.repo_id, store.revision, store.prefix) == (
        "hubei-centre/deliveries",
        "v2",
        "acme/week01",
    )
    assert store.url == "hf://datasets/hubei-centre/deliveries@v2/acme/week01"
    pr = open_storage("hf://datasets/a/b@refs%2Fpr%2F3")
    assert pr.revision == "refs/pr/3" and pr.url == "hf://datasets/a/b@refs%2Fpr%2F3"  # type: ignore[attr-defined]
    for bad in ("hf://hubei-centre/model-repo", "hf://datasets/only-owner", "hf://datasets/a/b c"):
        with pytest.raises(StorageError) as e:
            open_storage(bad)
        assert "hf://datasets/OWNER/REPO" in e.value.one_line()
    _ = store.api  # build the client, then make sure it does not travel
    again = pickle.loads(pickle.dumps(store))
    assert again.url == store.url and again._api is None


def test_one_commit_per_batch_and_pull_fetches_only_the_new_batch(
    hf_url: str, hub_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    api, repo = _api(hub_endpoint), _repo(hf_url)

    def titles() -> list[str]:
        return [c.title for c in api.list_repo_commits(repo, repo_type="dataset")]

    centre_dataset(src, 4)
    publish(src, hf_url, terms, centre, profile=PROFILE, now=at(5))
    assert titles()[0].startswith("batch 1: 4 episodes") and len(titles()) == 2  # + creation
    use_hub(monkeypatch, hub_endpoint, "buyer")
    pull(hf_url, terms, buyer, store, now=at(5, 12))
    assert titles()[0] == "embodex: receipts/000001.json"  # the buyer's receipt: one commit

    use_hub(monkeypatch, hub_endpoint, "centre")
    centre_dataset(src, 3, first=4)
    r2 = publish(src, hf_url, terms, centre, profile=PROFILE, now=at(12))
    commits = api.list_repo_commits(repo, repo_type="dataset")
    assert [c.title for c in commits][:2] == [titles()[0], "embodex: receipts/000001.json"]
    assert commits[0].title.startswith("batch 2: 3 episodes") and len(commits) == 4
    # The one commit holds the whole batch and the head naming it; its parent has neither.
    ch = open_channel(hf_url, terms)
    manifest, _, _ = ch.read_manifest(2, r2.channel_id)
    at_commit = open_channel(f"{hf_url}@{commits[0].commit_id}", terms)
    before = open_channel(f"{hf_url}@{commits[1].commit_id}", terms)
    head_after, head_before = at_commit.read_head(), before.read_head()
    assert head_after is not None and head_before is not None
    assert (head_after.head.batch, head_before.head.batch) == (2, 1)
    listed = {o.key for o in at_commit.store.list("batches/000002/")}
    assert {f"batches/000002/{f.path}" for f in manifest.files} < listed
    assert before.store.list("batches/000002/") == []

    use_hub(monkeypatch, hub_endpoint, "buyer")
    mark = len(_requests(hub_endpoint))
    (b2,) = pull(hf_url, terms, buyer, store, now=at(12, 12)).batches
    during = _requests(hub_endpoint)[mark:]
    repo_path = f"/datasets/{repo}/resolve/main/"
    fetched = [p.removeprefix(repo_path) for m, p, _, _ in during if p.startswith(repo_path)]
    wanted = {f"batches/000002/{f.path}" for f in manifest.files}
    assert not [p for p in fetched if p.startswith("batches/000001/")]
    # besides the new batch, pull reads only the small receipts (to put back its own copy
    # when the channel lost or altered one)
    receipts = {p for p in fetched if p.startswith("receipts/")}
    assert receipts <= {"receipts/000001.json", "receipts/000002.json"}
    assert set(fetched) - receipts == wanted | {"head.json", "batches/000002/manifest.json"}
    assert sorted(p for p in fetched if p in wanted) == sorted(wanted)  # each file once
    # every byte served for the batch's files (inline or through the LFS redirect) is one
    # of the manifest's: nothing of batch 1 and nothing twice
    data_bytes = sum(
        n for m, p, s, n in during
        if m == "GET" and (p.startswith("/_lfs/") or p.removeprefix(repo_path) in wanted)
    )  # fmt: skip
    assert data_bytes == b2.bytes == sum(f.size for f in manifest.files)
    assert (b2.outcome, b2.accepted) == ("accepted", 3)


def test_a_file_altered_on_the_hub_is_refused(
    hf_url: str, hub_endpoint: str, tmp_path: Path
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    centre_dataset(src, 3)
    r1 = publish(src, hf_url, terms, centre, profile=PROFILE, now=at(5))
    manifest, _, _ = open_channel(hf_url, terms).read_manifest(1, r1.channel_id)
    shard = next(f for f in manifest.files if f.path.startswith("dataset/data/"))
    # someone with write access to the repo swaps a shard for bytes of the same size
    forged = bytes(reversed(open_storage(hf_url).get_bytes(f"batches/000001/{shard.path}")))
    _api(hub_endpoint).create_commit(
        _repo(hf_url),
        [CommitOperationAdd(f"batches/000001/{shard.path}", forged)],
        commit_message="fix data",
        repo_type="dataset",
    )
    (b1,) = pull(hf_url, terms, buyer, store, now=at(5, 12)).batches
    assert (b1.outcome, b1.accepted) == ("rejected", 0)
    (reason,) = b1.reasons
    assert "integrity" in reason and "sha256" in reason and shard.path in reason
    assert not (store / "dataset").exists()
    assert not list((store / ".pull" / "incoming").rglob("*.arrow"))


def test_access_errors_are_one_clear_line(
    hf_url: str,
    hub_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    centre_dataset(src, 3)
    publish(src, hf_url, terms, centre, profile=PROFILE, now=at(5))
    buyer_args = ["pull", "--channel", hf_url, "--contract", str(terms), "--key", "agibot"]
    buyer_args += ["--into", str(store), "--at", at(5, 12).isoformat()]

    # no token: the private repo is invisible (the Hub answers 401 for it as for a missing one)
    use_hub(monkeypatch, hub_endpoint, None)
    code, _, err = run(buyer_args, capsys)
    line = _one_line_error(code, err)
    assert f"repository {_repo(hf_url)} does not exist" in line and "(401)" in line
    assert "HF_TOKEN" in line and "hf auth login" in line

    monkeypatch.setenv("HF_TOKEN", "hf-expired-token")
    code, _, err = run(buyer_args, capsys)
    line = _one_line_error(code, err)
    assert "the Hub refused the token (401)" in line and "invalid or expired" in line

    # a gated public repo: an account not granted access gets a 403 that says what to do
    _api(hub_endpoint).update_repo_settings(
        _repo(hf_url), gated="manual", private=False, repo_type="dataset"
    )
    use_hub(monkeypatch, hub_endpoint, "outsider")
    with pytest.raises(StorageAccessError, match=r"gated and this account was not granted") as e:
        pull(hf_url, terms, buyer, store, now=at(5, 12))
    assert "Request access on" in e.value.hint and f"/datasets/{_repo(hf_url)}" in e.value.hint

    # granted read access only: the batch is fetched, checked and installed; posting the
    # receipt needs write access — refused at once (no retries), the receipt kept locally and
    # listed as unposted (the whole read-only trade: test_delivery_readonly.py)
    _api(hub_endpoint).grant_access(_repo(hf_url), "outsider", repo_type="dataset")
    mark = len(_requests(hub_endpoint))
    report = pull(hf_url, terms, buyer, store, now=at(5, 12))
    assert [b.number for b in report.batches] == [1] and report.receipts_unposted == [1]
    assert re.search(r"may not write to .* \(403\)", report.receipts_refused or "")
    writes = [
        (r[1].rsplit("/", 2)[1], r[2]) for r in _requests(hub_endpoint)[mark:] if r[0] == "POST"
    ]
    assert writes == [("preupload", 403)]  # refused at the first request, not retried
    assert (store / "receipts" / "000001.json").exists() and (store / "dataset").exists()

    # the centre publishing to a repo that was never created is told how to create it
    use_hub(monkeypatch, hub_endpoint, "centre")
    missing = "hf://datasets/hubei-centre/never-created"
    with pytest.raises(StorageAccessError) as e:
        publish(src, missing, terms, centre, profile=PROFILE, now=at(6))
    assert "hf repos create hubei-centre/never-created --type dataset --private" in e.value.hint


def test_unreachable_hub_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import _free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    store = open_storage("hf://datasets/a/b")
    with pytest.raises(StorageError, match="cannot reach the Hub at http://127.0.0.1") as e:
        store.get_bytes("head.json")
    assert "HF_ENDPOINT" in e.value.hint


def _resetting_server(
    resets: int, body: bytes, status: bytes = b"200 OK"
) -> tuple[str, list[int], threading.Thread]:
    """A loopback HTTP server (a daemon thread, serving until the test ends) that resets its
    first ``resets`` connections at once (as a server does to a pooled keep-alive connection it
    has closed), then answers every request with ``status`` and ``body``."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    seen: list[int] = []

    def serve() -> None:
        with srv:
            while True:
                conn, _ = srv.accept()
                with conn:
                    seen.append(1)
                    conn.recv(65536)
                    if len(seen) <= resets:
                        # linger 0: close with RST, not FIN ("connection reset by peer")
                        conn.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        continue
                    conn.sendall(
                        b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                        % (status, len(body), body)
                    )

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}", seen, t


def test_a_reset_connection_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, seen, _ = _resetting_server(2, b'{"head": 1}')
    use_hub(monkeypatch, endpoint, None)
    assert open_storage("hf://datasets/a/b").get_bytes("head.json") == b'{"head": 1}'
    assert len(seen) == 3  # two resets, then the answer
    endpoint, seen, _ = _resetting_server(99, b"")
    use_hub(monkeypatch, endpoint, None)
    with pytest.raises(StorageError, match="cannot reach the Hub"):
        open_storage("hf://datasets/a/b").get_bytes("head.json")
    assert len(seen) == 3  # not forever
    # an answer, even an error, is not asked again here: one GET
    for status, error in ((b"404 Not Found", ObjectNotFoundError), (b"500 Oops", StorageError)):
        endpoint, seen, _ = _resetting_server(0, b"{}", status)
        use_hub(monkeypatch, endpoint, None)
        with pytest.raises(error):
            open_storage("hf://datasets/a/b").get_bytes("receipts/000001.json")
        assert len(seen) == 1, status
