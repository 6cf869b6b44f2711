"""A buyer who may only read the channel (a gated Hub repo's approved users, a read-only
folder or mirror) keeps pulling: every batch is installed, its receipt waits in the store and
is listed as unposted; the centre posts the receipts for it (`embodex receipt post`), which
checks each is the buyer's, for this contract and channel; a later pull with write access
posts what is left.

Over hf:// the buyer's token has the Hub's read role (tests/hub_server.py in its own
process); over a folder the buyer is a process that may not write to it (chmod; as root, a
child process without CAP_DAC_OVERRIDE, so the folder's permissions apply to it too).
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from embodex.contract import open_receipt, sign_receipt
from embodex.delivery import (
    channel_supply,
    countersign_receipts,
    open_channel,
    post_receipts,
    publish,
    pull,
    read_receipt,
)
from embodex.delivery.documents import receipt_key
from embodex.errors import ChannelError, DeliveryError, SignatureError
from embodex.format import open_dataset
from embodex.storage.stores import open_storage
from embodex.trust import Ledger, Signer, ledger_path

from ._delivery import PROFILE, at, centre_dataset, contract
from .conftest import HUB_TOKENS, use_hub
from .test_cli_delivery import _one_line_error
from .test_cli_format import run


def _issued() -> int:
    return [e.kind for e in Ledger(ledger_path("agibot")).entries()].count("receipt-issued")


def _unposted_state(store: Path) -> list[int]:
    state = json.loads((store / ".pull" / "state.json").read_bytes())
    return list(state["receipts_unposted"])


def _warning(err: str) -> str:
    # off a terminal each download ends with one progress summary line; then the warning
    lines = [line for line in err.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("downloading batch ")]
    assert len(lines) == 1 and lines[0].startswith("warning: "), err
    return lines[0]


def _writes(endpoint: str, since: int) -> tuple[int, list[tuple[str, int]]]:
    import httpx2

    got = httpx2.get(f"{endpoint}/_stats").json()["requests"]
    return len(got), [(p.rsplit("/", 2)[1], int(s)) for m, p, s, _ in got[since:] if m == "POST"]


def test_read_only_buyer_over_the_hub(
    hf_url: str,
    hub_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store = tmp_path / "centre", tmp_path / "buyer"
    repo = hf_url.removeprefix("hf://datasets/")
    api = HfApi(endpoint=hub_endpoint, token=HUB_TOKENS["centre"][0])
    # a gated public repo; the buyer's account ("outsider") was approved: it may only read
    api.update_repo_settings(repo, gated="manual", private=False, repo_type="dataset")
    api.grant_access(repo, "outsider", repo_type="dataset")
    centre_dataset(src, 3)
    publish(src, hf_url, terms, centre, profile=PROFILE, now=at(5))

    use_hub(monkeypatch, hub_endpoint, "outsider")
    r1 = pull(hf_url, terms, buyer, store, now=at(5, 12))
    assert [(b.number, b.accepted) for b in r1.batches] == [(1, 3)]
    assert r1.receipts_unposted == [1] and r1.to_dict()["receipts_unposted"] == [1]
    assert r1.receipts_refused and "may not write to" in r1.receipts_refused
    assert "(403)" in r1.receipts_refused and _unposted_state(store) == [1]

    use_hub(monkeypatch, hub_endpoint, "centre")
    centre_dataset(src, 2, first=3)
    publish(src, hf_url, terms, centre, profile=PROFILE, now=at(12))
    use_hub(monkeypatch, hub_endpoint, "outsider")
    mark, _ = _writes(hub_endpoint, 0)
    args = ["pull", "--channel", hf_url, "--contract", str(terms), "--key", "agibot"]
    code, out, err = run([*args, "--into", str(store), "--at", at(12, 12).isoformat()], capsys)
    assert code == 0, err
    assert "batch 2: accepted: 2 of 2 episodes accepted" in out
    line = _warning(err)
    assert "2 receipts (batches 1, 2) could not be posted" in line
    assert f"this token may not write to {repo} (403)" in line
    assert f"kept in {store / 'receipts'}/" in line and "write access" in line
    assert f"embodex receipt post FILE... --channel {hf_url} --contract {terms.name}`" in line
    # one refused write for the whole pull: the first, not retried; the rest not tried
    _, writes = _writes(hub_endpoint, mark)
    assert writes == [("preupload", 403)]
    assert len(open_dataset(store / "dataset")) == 5 and _unposted_state(store) == [1, 2]
    assert _issued() == 2  # recorded when signed, once each

    # the centre carries receipt 1 for the buyer, then countersigns it as usual
    use_hub(monkeypatch, hub_endpoint, "centre")
    assert channel_supply(hf_url, terms, now=at(13)).status.accepted_hours == 0
    mine = store / "receipts" / "000001.json"
    post = ["receipt", "post", str(mine), "--channel", hf_url, "--contract", str(terms)]
    code, out, err = run([*post, "--at", at(13).isoformat()], capsys)
    assert code == 0, err
    assert out.startswith("batch 1: posted (3 accepted, 0 rejected;") and str(mine) in out
    (signed,) = countersign_receipts(hf_url, terms, centre, now=at(13))
    assert signed.batch == 1 and signed.problem is None and not signed.already
    code, out, _ = run([*post, "--at", at(13).isoformat(), "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["already"] is True  # the countersigned copy stays
    r1_accepted = open_receipt(mine.read_bytes(), buyer.identity).accepted_hours
    assert channel_supply(hf_url, terms, now=at(13)).status.accepted_hours == r1_accepted

    # the buyer is given write access: its next pull posts receipt 2 and leaves 1 alone
    use_hub(monkeypatch, hub_endpoint, "buyer")
    r3 = pull(hf_url, terms, buyer, store, now=at(13, 12))
    assert (r3.receipts_posted, r3.receipts_unposted, r3.receipts_repaired) == ([2], [], [])
    assert r3.receipts_refused is None and _unposted_state(store) == []
    ch = open_channel(hf_url, terms, at=at(13))
    got1, got2 = read_receipt(ch, 1), read_receipt(ch, 2)
    assert got1 is not None and got1.countersigned
    assert got2 is not None and not got2.countersigned
    assert ch.store.get_bytes(receipt_key(2)) == (store / "receipts" / "000002.json").read_bytes()
    status = channel_supply(hf_url, terms, now=at(14)).status
    assert status.accepted_hours == sum(
        open_receipt(p.read_bytes(), buyer.identity).accepted_hours
        for p in sorted((store / "receipts").glob("*.json"))
    )
    assert status.pending_hours == 0 and _issued() == 2


def _resign(data: bytes, signer: Signer, **update: object) -> bytes:
    genuine = open_receipt(data, signer.identity)
    return sign_receipt(genuine.model_copy(update=update), signer).to_json_bytes()


def test_post_refuses_anything_but_the_buyers_receipts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store, url = tmp_path / "centre", tmp_path / "buyer", str(tmp_path / "channel")
    centre_dataset(src, 3)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    pull(url, terms, buyer, store, now=at(5, 12))
    channel = open_storage(url)
    channel.delete(receipt_key(1))  # as if the buyer could not post it
    mine = store / "receipts" / "000001.json"
    data = mine.read_bytes()
    env = json.loads(data)
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["accepted_hours"] = "999"
    mallory = Signer.ephemeral("mallory", "buyer")
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    bad: dict[str, tuple[bytes, type[Exception], str]] = {
        "altered": (json.dumps(env).encode(), SignatureError, "does not verify"),
        "mallory": (
            sign_receipt(
                open_receipt(data, buyer.identity).model_copy(update={"issued_by": mallory.key_id}),
                mallory,
            ).to_json_bytes(),
            SignatureError,
            "not a receipt validly signed by buyer agibot",
        ),
        "other-contract": (
            _resign(data, buyer, contract_digest="sha256:" + "0" * 64),
            ChannelError,
            "not under",
        ),
        "other-channel": (
            _resign(data, buyer, batch_manifest_digest="sha256:" + "1" * 64),
            ChannelError,
            "a receipt for another channel",
        ),
        "no-such-batch": (_resign(data, buyer, batch_number=7), DeliveryError, "batches 1..1"),
        "manifest": (
            channel.get_bytes("batches/000001/manifest.json"),
            SignatureError,
            "expected a document of type",
        ),
        "contract": (terms.read_bytes(), SignatureError, "not a DSSE envelope"),
    }
    for name, (content, error, words) in bad.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        with pytest.raises(error, match=words) as e:
            post_receipts(url, terms, [mine, path], now=at(6))  # the good one is not posted
        assert str(path) in e.value.message, name
        assert not channel.exists(receipt_key(1)), name
    code, _, err = run(
        ["receipt", "post", str(tmp_path / "altered.json"), "--channel", url,
         "--contract", str(terms), "--at", at(6).isoformat()],
        capsys,
    )  # fmt: skip
    assert "not a receipt validly signed by buyer agibot" in _one_line_error(code, err)

    # another valid receipt of the buyer already there is not overwritten by a carrier
    other = _resign(data, buyer, note="decided twice")
    channel.put_bytes(receipt_key(1), other)
    with pytest.raises(DeliveryError, match="holds another receipt of buyer agibot"):
        post_receipts(url, terms, [mine], now=at(6))
    assert channel.get_bytes(receipt_key(1)) == other
    # a copy there that does not verify is replaced; then the same file is "already"
    channel.put_bytes(receipt_key(1), json.dumps(env).encode())
    (done,) = post_receipts(url, terms, [mine, mine], now=at(6))
    assert (done.batch, done.already, done.accepted) == (1, False, 3)
    assert channel.get_bytes(receipt_key(1)) == data
    assert post_receipts(url, terms, [mine], now=at(6))[0].already
    assert channel_supply(url, terms, now=at(6)).status.accepted_hours > 0


# -- a folder the buyer may not write to --------------------------------------------------


def _drop_dac() -> None:
    """In the child, before exec: remove CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set, so root's process obeys file permissions like anyone else's."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _as_reader(tmp_path: Path) -> Callable[[list[str]], subprocess.CompletedProcess[str]]:
    """Run the CLI (or, with a first argument ending in .py, that script) as a process that
    may only read folders marked read-only."""
    preexec = _drop_dac if os.geteuid() == 0 else None
    if preexec is not None:
        probe = tmp_path / "probe"
        probe.mkdir()
        probe.chmod(0o555)
        try:
            tried = subprocess.run(
                [sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"],
                preexec_fn=preexec, capture_output=True,
            )  # fmt: skip
        except subprocess.SubprocessError:
            pytest.skip("running as root without CAP_SETPCAP: cannot take write access away")
        if tried.returncode == 0:
            pytest.skip("running as root: cannot take write access away here")

    def cli(args: list[str]) -> subprocess.CompletedProcess[str]:
        code = "import sys; from embodex_cli.main import main; main(sys.argv[1:])"
        command = args if args[0].endswith(".py") else ["-c", code, *args]
        return subprocess.run(
            [sys.executable, *command],
            preexec_fn=preexec, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return cli


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755 if writable else 0o555)


def test_read_only_folder_channel(tmp_path: Path) -> None:
    cli = _as_reader(tmp_path)
    terms, centre, buyer = contract(tmp_path)
    src, store, folder = tmp_path / "centre", tmp_path / "buyer", tmp_path / "channel"
    args = ["pull", "--channel", str(folder), "--contract", str(terms), "--key", "agibot"]
    args += ["--into", str(store)]
    try:
        for week, count, first in ((1, 3, 0), (2, 2, 3)):
            _set_writable(folder, True) if folder.exists() else None
            centre_dataset(src, count, first=first)
            publish(src, folder, terms, centre, profile=PROFILE, now=at(7 * week - 2))
            _set_writable(folder, False)
            done = cli([*args, "--at", at(7 * week - 2, 12).isoformat()])
            assert done.returncode == 0, done.stderr
            assert f"batch {week}: accepted: {count} of {count} episodes accepted" in done.stdout
            line = _warning(done.stderr)
            assert "this account may not write to" in line and "Permission denied" in line
            assert f"kept in {store / 'receipts'}/" in line
        assert "2 receipts (batches 1, 2)" in line
        assert len(open_dataset(store / "dataset")) == 5 and _unposted_state(store) == [1, 2]
        assert not (folder / "receipts").exists() and _issued() == 2
    finally:
        _set_writable(folder, True)
    # the centre posts receipt 1; the buyer, now allowed to write, posts receipt 2 itself
    post_receipts(folder, terms, [store / "receipts" / "000001.json"], now=at(13))
    report = pull(folder, terms, buyer, store, now=at(13, 12))
    assert (report.receipts_posted, report.receipts_unposted) == ([2], [])
    status = channel_supply(folder, terms, now=at(14)).status
    assert status.pending_hours == 0 and status.accepted_hours > 0 and _issued() == 2


def test_s3_refusals_are_access_errors() -> None:
    """What botocore raises for credentials that may not write maps to StorageAccessError,
    which the pull tolerates for receipts and nobody retries (moto's server does not
    enforce permissions, so botocore's own exception is built here)."""
    from botocore.exceptions import ClientError

    from embodex.errors import StorageAccessError
    from embodex.storage.stores import _map_s3_error

    for code in ("AccessDenied", "403"):
        exc = ClientError({"Error": {"Code": code, "Message": "Access Denied"}}, "PutObject")
        got = _map_s3_error(exc, "s3://acme/deliveries/receipts/000001.json")
        assert isinstance(got, StorageAccessError)
        assert got.message == f"s3://acme/deliveries/receipts/000001.json: access denied ({code})"


def test_pull_killed_after_a_refused_receipt_resumes(tmp_path: Path) -> None:
    """Killed after the refusal, before the state records the batch as done: the next pull
    finishes the batch, tries the receipt again, remembers it as unposted; the ledger holds
    its receipt-issued entry once."""
    reader = _as_reader(tmp_path)
    terms, centre, _ = contract(tmp_path)
    src, store, folder = tmp_path / "centre", tmp_path / "buyer", tmp_path / "channel"
    centre_dataset(src, 3)
    publish(src, folder, terms, centre, profile=PROFILE, now=at(5))
    helper = str(Path(__file__).with_name("_kill_after_receipt.py"))
    _set_writable(folder, False)
    try:
        when = at(5, 12).isoformat()
        killed = reader([helper, str(folder), str(terms), str(store), when])
        assert killed.returncode == -signal.SIGKILL and "dying" in killed.stdout, killed.stderr
        state = json.loads((store / ".pull" / "state.json").read_bytes())
        assert state["last_batch"] == 0 and state["current"]["stage"] == "installed"
        assert state["receipts_unposted"] == [] and _issued() == 1
        args = ["pull", "--channel", str(folder), "--contract", str(terms), "--key", "agibot"]
        done = reader([*args, "--into", str(store), "--at", when, "--json"])
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["batches"][0]["batch"] == 1 and report["receipts_unposted"] == [1]
        assert "may not write to" in report["receipts_refused"]
    finally:
        _set_writable(folder, True)
    assert _unposted_state(store) == [1] and _issued() == 1
    assert len(open_dataset(store / "dataset")) == 3 and not (folder / "receipts").exists()
