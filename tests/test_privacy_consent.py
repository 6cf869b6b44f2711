"""Consent on record (issue 17 item 5): signed statements per operator pseudonym in the
centre's home, episodes linked to them, publish refusing episodes without consent, and a
withdrawal turned into per-episode revocations that the buyer's pull applies."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.config import home_dir
from embodex.contract.receipts import DeletionReceipt
from embodex.delivery import channel_supply, post_receipts, publish, pull, revoke_episodes
from embodex.delivery.consent import withdraw_and_revoke
from embodex.delivery.documents import BatchManifest, Notice
from embodex.errors import ConsentError, DeliveryError, LoaderConfigError, SignatureError
from embodex.format import open_dataset
from embodex.format.pseudonyms import pseudonymise_operators
from embodex.qc import load_qc_manifest, run_qc, write_qc
from embodex.train import load
from embodex.trust import Signer, open_model, sign_model
from embodex.trust.consent import (
    ConsentStatement,
    link_consent,
    list_consents,
    record_consent,
    withdraw_consent,
)
from embodex.trust.ledger import Ledger, ledger_path
from embodex_cli.main import main

from ._delivery import PROFILE, at, centre_dataset, contract, parties


def _operators(root: Path) -> dict[str, list[str]]:
    """pseudonym -> its episodes, in dataset order."""
    ds = open_dataset(root)
    out: dict[str, list[str]] = {}
    for row in ds.episodes.select(["episode_id", "operator_id"]).to_pylist():
        out.setdefault(row["operator_id"], []).append(row["episode_id"])
    return out


def _pseudonymised(tmp_path: Path, count: int) -> Path:
    centre_dataset(tmp_path / "raw", count)
    out = tmp_path / "centre"
    pseudonymise_operators(tmp_path / "raw", out, scope="c-1")
    assert len(_operators(out)) >= 2, "the synthetic episodes have several operators"
    return out


def test_consent_register_signed_tamper_expiry_withdraw(tmp_path: Path) -> None:
    centre, _ = parties()
    rec = record_consent(
        "op-00aa11bb22cc33dd", centre, scope=["training", "transfer"], given_on=date(2026, 1, 5),
        expires_on=date(2026, 12, 31), evidence="form 2026-017",
    )  # fmt: skip
    assert rec.path.parent == home_dir() / "privacy" / "consent"
    st = open_model("consent", ConsentStatement, rec.path.read_bytes(), [centre.identity])
    assert st.operator == "op-00aa11bb22cc33dd" and st.revocable and st.scope[1] == "transfer"
    assert rec.path.stat().st_mode & 0o777 == 0o600
    states = {d: list_consents(on=d)[0].state for d in (date(2026, 1, 4), date(2026, 6, 1))}
    assert states == {date(2026, 1, 4): "not-yet", date(2026, 6, 1): "valid"}
    assert list_consents(on=date(2027, 1, 1))[0].state == "expired"
    assert list_consents(operator="op-other") == []

    # an edited statement (scope widened, signature kept) shows as invalid
    other = record_consent("op-ffee", centre, scope=["training"], given_on=date(2026, 1, 5))
    env = json.loads(other.path.read_bytes())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["scope"] = ["training", "resale"]
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    other.path.write_text(json.dumps(env))
    bad = [r for r in list_consents(on=date(2026, 6, 1)) if r.state == "invalid"]
    assert [r.consent_id for r in bad] == [other.consent_id] and "altered" in str(bad[0].problem)
    # signed by a key the store does not trust: invalid too
    stranger = Signer.ephemeral("stranger", "centre")
    forged = st.model_copy(update={"consent_id": "cs-0123456789abcdef"})
    (rec.path.parent / "cs-0123456789abcdef.json").write_bytes(
        sign_model("consent", forged, stranger).to_json_bytes()
    )
    assert {r.consent_id for r in list_consents() if r.state == "invalid"} == {
        other.consent_id,
        "cs-0123456789abcdef",
    }

    # withdrawal: signed beside the statement; withdrawing again is an error
    (done,) = withdraw_consent("op-00aa11bb22cc33dd", centre, on=date(2026, 7, 1))
    assert done.state == "withdrawn" and done.withdrawal is not None
    assert done.withdrawal.consent_digest == rec.digest
    assert list_consents(operator="op-00aa11bb22cc33dd", on=date(2026, 6, 30))[0].state == "valid"
    assert list_consents(operator="op-00aa11bb22cc33dd", on=date(2026, 7, 1))[0].state == (
        "withdrawn"
    )
    with pytest.raises(ConsentError, match="no consent on record"):
        withdraw_consent("op-00aa11bb22cc33dd", centre, on=date(2026, 7, 2))
    # the centre's ledger holds the history: deleting the withdrawal file revives nothing
    kinds = [e.kind for e in Ledger(ledger_path(centre.name)).entries()]
    assert kinds.count("consent-recorded") == 2 and kinds.count("consent-withdrawn") == 1
    rec.path.with_name(f"{rec.consent_id}.withdrawal.json").unlink()
    (again,) = [r for r in list_consents(on=date(2026, 6, 1)) if r.consent_id == rec.consent_id]
    assert again.state == "invalid" and "ledger" in str(again.problem)
    with pytest.raises(ConsentError, match="invalid consent statement for 'bad id'"):
        record_consent("bad id", centre, scope=["training"])
    with pytest.raises(ConsentError, match="needs a scope"):
        record_consent("op-x", centre, scope=[" "])
    with pytest.raises(ConsentError, match="expire"):
        record_consent("op-x", centre, scope=["t"], given_on=date(2026, 2, 1),
                       expires_on=date(2026, 1, 1))  # fmt: skip


def test_publish_requires_linked_consent(tmp_path: Path) -> None:
    src = _pseudonymised(tmp_path, 4)
    ops = _operators(src)
    first, *others = ops
    terms, centre, _ = contract(tmp_path, privacy={"consent": "required"})
    channel = str(tmp_path / "channel")
    with pytest.raises(ConsentError, match="no consent linked"):
        publish(src, channel, terms, centre, profile=PROFILE, now=at(5))
    for op in others:
        record_consent(op, centre, scope=["training"], given_on=at(0).date())
    write_qc(src, run_qc(src, PROFILE))
    link = link_consent(src, on=at(5).date())
    # the QC manifest follows the dataset's new digest: still loadable, verdicts kept
    assert load_qc_manifest(src).dataset_digest == open_dataset(src).digest
    assert len(load(src, horizon=5, cameras=[], qc="all").episode_ids) == 4
    assert link.missing == {first: ops[first]}
    assert set(link.linked) == {e for op in others for e in ops[op]}
    with pytest.raises(ConsentError, match=f"operator {first}: no consent linked"):
        publish(src, channel, terms, centre, profile=PROFILE, now=at(5))
    wanted = [e for op in others for e in ops[op]]
    done = publish(src, channel, terms, centre, profile=PROFILE, episode_ids=wanted, now=at(5))
    assert sorted(done.episodes) == sorted(wanted)
    # the link travels with the episode, inside the signed dataset manifest
    sent = open_dataset(tmp_path / "channel" / "batches" / "000001" / "dataset")
    extra = json.loads(sent.episodes.column("extra").to_pylist()[0])
    assert extra["consent"]["consent_id"] == link.linked[sent.episode_ids[0]]

    # a contract that only warns publishes, with a privacy.consent warning
    (tmp_path / "w").mkdir()
    warn_terms, _, _ = contract(tmp_path / "w", privacy={"consent": "warn"}, contract_id="c-warn")
    got = publish(src, str(tmp_path / "ch2"), warn_terms, centre, profile=PROFILE, now=at(5))
    (w,) = [v for v in got.warnings if v.rule == "privacy.consent"]
    assert w.episode_ids == sorted(ops[first])

    # a contract whose consent must cover transfer: a training-only consent is not enough
    (tmp_path / "s").mkdir()
    scoped, _, _ = contract(
        tmp_path / "s", privacy={"consent": "required", "consent_scope": ["training", "transfer"]},
        contract_id="c-scope",
    )  # fmt: skip
    with pytest.raises(ConsentError, match="does not cover transfer"):
        publish(src, str(tmp_path / "ch3"), scoped, centre, profile=PROFILE,
                episode_ids=wanted, now=at(5))  # fmt: skip


def test_withdrawal_revokes_episodes_end_to_end(tmp_path: Path) -> None:
    src = _pseudonymised(tmp_path, 4)
    ops = _operators(src)
    gone_op = next(iter(ops))
    gone = ops[gone_op]
    terms, centre, buyer = contract(tmp_path, privacy={"consent": "required"})
    for op in ops:
        record_consent(op, centre, scope=["training", "transfer"], given_on=at(0).date())
    link_consent(src, on=at(5).date())
    channel, store = str(tmp_path / "channel"), tmp_path / "buyer"
    r1 = publish(src, channel, terms, centre, profile=PROFILE, now=at(5))
    assert len(r1.episodes) == 4
    p1 = pull(channel, terms, buyer, store, now=at(5, 12))
    assert p1.batches[0].accepted == 4
    assert len(load(store / "dataset", horizon=5, cameras=[], qc="all")) > 0

    # the operator withdraws: one signed per-episode revocation notice on the channel
    out = withdraw_and_revoke(gone_op, centre, channels=[(channel, terms)], now=at(8))
    assert sorted(out.episodes) == sorted(gone)
    (notice,) = out.revocations[0].notices
    assert notice.notice.batch == 1 and sorted(notice.notice.episodes) == sorted(gone)
    assert notice.notice.reason == "consent-withdrawn"
    assert (tmp_path / "channel" / "notices" / "000001.json").exists()
    again = withdraw_and_revoke(gone_op, centre, channels=[(channel, terms)], now=at(8, 11))
    assert again.episodes == []  # revoked once; nothing left to revoke

    # the centre awaits the buyer's deletion receipt; a planted one by another key is no proof
    before = channel_supply(channel, terms, now=at(8, 11))
    assert before.deletions_awaited == [1] and before.deletions_confirmed == []
    assert any(a.label == "deletion" for a in before.alerts)
    planted = tmp_path / "channel" / "receipts" / "deletions" / "000001.json"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b'{"payloadType": "x", "payload": "", "signatures": []}')
    assert channel_supply(channel, terms, now=at(8, 11)).deletions_awaited == [1]

    # pull applies it: marked, never loaded (whatever the QC filter), a deletion receipt
    p2 = pull(channel, terms, buyer, store, now=at(8, 12))
    assert sorted(p2.revoked[1]) == sorted(gone)
    assert p2.deletions_posted == [1]  # the planted copy replaced by the buyer's own
    kept = set(r1.episodes) - set(gone)
    for qc in ("pass", "all"):
        ds = load(store / "dataset", horizon=5, cameras=[], qc=qc)  # type: ignore[arg-type]
        assert not set(ds.episode_ids) & set(gone)
    assert set(load(store / "dataset", horizon=5, cameras=[], qc="all").episode_ids) == kept
    deletion = store / "receipts" / "deletions" / "000001.json"
    rec = open_model("deletion-receipt", DeletionReceipt, deletion.read_bytes(), [buyer.identity])
    manifest = open_model(
        "batch-manifest",
        BatchManifest,
        (tmp_path / "channel" / "batches" / "000001" / "manifest.json").read_bytes(),
        [centre.identity],
    )
    manifest_hours = {e.episode_id: e.hours for e in manifest.episodes}
    withdrawn = sum((manifest_hours[e] for e in gone), Decimal(0))
    assert sorted(rec.deleted) == sorted(gone) and rec.deleted_hours == withdrawn
    assert rec.reason == "consent-withdrawn" and rec.notice_number == 1
    entries = Ledger(ledger_path(buyer.name)).entries()
    assert [e.kind for e in entries].count("episodes-deleted") == 1
    assert pull(channel, terms, buyer, store, now=at(8, 13)).revoked == {}
    assert [e.kind for e in Ledger(ledger_path(buyer.name)).entries()].count(
        "episodes-deleted"
    ) == 1

    # supply status: delivered hours net of the withdrawn ones, shown separately
    report = channel_supply(channel, terms, now=at(9))
    s = report.status
    assert report.withdrawn_hours == withdrawn
    assert report.net_delivered_hours == s.delivered_hours - withdrawn
    assert report.revoked_accepted_hours == withdrawn
    assert report.net_accepted_hours == s.accepted_hours - withdrawn
    assert any(a.label == "withdrawn" for a in report.alerts)
    assert report.deletions_confirmed == [1] and report.deletions_awaited == []
    assert planted.read_bytes() == deletion.read_bytes()

    # a buyer that may only read the channel: anyone with write access carries the file
    planted.unlink()
    (posted,) = post_receipts(channel, terms, [deletion], now=at(9))
    assert (posted.notice, posted.already) == (1, False)
    assert planted.read_bytes() == deletion.read_bytes()
    assert post_receipts(channel, terms, [deletion], now=at(9))[0].already
    altered = tmp_path / "altered.json"
    env = json.loads(deletion.read_bytes())
    body = json.loads(base64.b64decode(env["payload"]))
    body["deleted"] = [*body["deleted"][:1], "x:forged"]
    env["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    altered.write_text(json.dumps(env))
    with pytest.raises(SignatureError, match="not a deletion receipt validly signed"):
        post_receipts(channel, terms, [altered], now=at(9))
    (line,) = report.batches
    assert line.revoked == "consent-withdrawn" and line.revoked_episodes == len(gone)

    # only delivered episodes can be revoked
    with pytest.raises(DeliveryError, match="not delivered"):
        revoke_episodes(channel, terms, centre, ["nope"], "x", now=at(9))


def test_forged_and_replayed_revocations_refused(tmp_path: Path) -> None:
    src = centre_dataset(tmp_path / "centre", 4)
    terms, centre, buyer = contract(tmp_path)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    ids = src.episode_ids
    r = publish(src, a, terms, centre, profile=PROFILE, episode_ids=ids[:2], now=at(5))
    publish(src, b, terms, centre, profile=PROFILE, episode_ids=ids[2:], now=at(5))
    store = tmp_path / "buyer"
    pull(a, terms, buyer, store, now=at(5, 12))
    victim = r.episodes[0]
    revoke_episodes(a, terms, centre, [r.episodes[1]], "recording damaged", now=at(6))
    revoke_episodes(b, terms, centre, [ids[2]], "consent-withdrawn", now=at(6))
    notice_a = tmp_path / "a" / "notices" / "000001.json"
    genuine = notice_a.read_bytes()

    # forged: the channel's notice re-signed by another key, naming another episode
    env = json.loads(genuine)
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["episodes"] = [victim]
    stranger = Signer.ephemeral("mallory", "centre")
    notice_a.write_bytes(sign_model("notice", Notice(**payload), stranger).to_json_bytes())
    with pytest.raises(SignatureError, match="not validly signed"):
        pull(a, terms, buyer, store, now=at(6, 12))
    # replayed: channel b's genuine notice, signed by the centre, copied onto channel a
    notice_a.write_bytes((tmp_path / "b" / "notices" / "000001.json").read_bytes())
    with pytest.raises(Exception, match="notice 1 of ch-"):
        pull(a, terms, buyer, store, now=at(6, 12))
    ds = open_dataset(store / "dataset")
    assert victim in ds.episode_ids
    assert set(load(store / "dataset", horizon=5, cameras=[], qc="all").episode_ids) == set(
        r.episodes
    )  # nothing was marked by a refused notice
    notice_a.write_bytes(genuine)
    done = pull(a, terms, buyer, store, now=at(6, 12))
    assert done.revoked == {1: [r.episodes[1]]}

    # a second revocation of the same batch, into a state written before per-episode
    # revocations (one notice per batch, ``marked`` batches): carried over, then applied
    state_path = store / ".pull" / "state.json"
    state = json.loads(state_path.read_text())
    state.update(marked=[1], marked_notices=[], revocations={})
    state_path.write_text(json.dumps(state))
    revoke_episodes(a, terms, centre, [victim], "consent-withdrawn", now=at(7))
    later = pull(a, terms, buyer, store, now=at(7, 12))
    assert later.revoked == {1: [victim]}  # notice 1 not applied twice, notice 2 applied
    with pytest.raises(LoaderConfigError, match="2 revoked by the centre"):
        load(store / "dataset", horizon=5, cameras=[], qc="all")
    deletions = sorted(p.name for p in (store / "receipts" / "deletions").iterdir())
    assert deletions == ["000001.json", "000002.json"]


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_consent_record_list_withdraw(capsys: pytest.CaptureFixture[str]) -> None:
    parties()
    code, out, _ = _main(
        capsys, "consent", "record", "op-1234abcd", "--scope", "training", "--given",
        "2026-01-05", "--expires", "2026-12-31", "--key", "hubei-centre", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["statement"]["operator"] == "op-1234abcd"
    code, out, _ = _main(capsys, "consent", "list", "--at", "2026-06-01")
    assert code == 0 and "op-1234abcd" in out and " valid " in out
    code, out, _ = _main(capsys, "consent", "list", "--at", "2027-06-01")
    assert code == 0 and " expired " in out
    code, out, _ = _main(capsys, "consent", "withdraw", "op-1234abcd", "--key", "hubei-centre",
                         "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["withdrawn"][0]["state"] == "withdrawn"
    # again: nothing new to withdraw, the run goes on to revoke what is left (idempotent)
    code, _, _ = _main(capsys, "consent", "withdraw", "op-1234abcd", "--key", "hubei-centre")
    assert code == 0
    code, _, err = _main(capsys, "consent", "withdraw", "op-nobody", "--key", "hubei-centre")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "no consent on record" in lines[0] and "`embodex consent list`" in lines[0]
    code, _, _ = _main(capsys, "consent", "withdraw", "op-1", "--key", "hubei-centre",
                       "--contract", __file__)  # fmt: skip
    assert code == 2  # a contract without a channel


def test_cli_publish_under_consent_and_revoke_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = centre_dataset(tmp_path / "centre", 2)
    terms, _, _ = contract(tmp_path, privacy={"consent": "required"})
    profile = tmp_path / "profile.yaml"
    profile.write_text(json.dumps(PROFILE.content))
    ch = str(tmp_path / "channel")
    centre = ["--channel", ch, "--contract", str(terms), "--key", "hubei-centre"]
    publish_args = ["publish", str(src.root), *centre, "--profile", str(profile)]
    code, _, err = _main(capsys, *publish_args, "--at", at(5).isoformat())
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "requires consent on record" in lines[0], err
    assert "`embodex consent link DATASET`" in lines[0]  # the hint in the CLI's words
    for op in set(_operators(src.root)):
        assert _main(capsys, "consent", "record", op, "--scope", "training", "--given",
                     at(0).date().isoformat(), "--key", "hubei-centre")[0] == 0  # fmt: skip
    code, out, _ = _main(capsys, "consent", "link", str(src.root), "--at", at(5).isoformat(),
                         "--json")  # fmt: skip
    assert code == 0 and len(json.loads(out)["linked"]) == 2
    code, out, err = _main(capsys, *publish_args, "--at", at(5).isoformat(), "--json")
    assert code == 0, err
    first = json.loads(out)["episodes"][0]
    code, out, err = _main(capsys, "channel", "revoke", *centre, "--episode", first,
                           "--reason", "consent-withdrawn", "--at", at(6).isoformat(),
                           "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["episodes"] == [first], err
    # withdrawing that operator's consent revokes what is left of theirs on the channel
    ops = _operators(src.root)
    (op,) = [o for o, eps in ops.items() if first in eps]
    code, out, err = _main(capsys, "consent", "withdraw", op, "--key", "hubei-centre",
                           "--channel", ch, "--contract", str(terms), "--at",
                           at(7).isoformat(), "--json")  # fmt: skip
    assert code == 0, err
    assert sorted(json.loads(out)["episodes"]) == sorted(e for e in ops[op] if e != first)
    code, _, _ = _main(capsys, "channel", "revoke", *centre, "--reason", "x")
    assert code == 2  # neither --batch nor --episode


def test_revocations_before_the_pull(tmp_path: Path) -> None:
    """Per-episode notices that together cover a batch reject it whole at the pull; one
    covering part of a batch lets it be decided as usual, then marks those episodes."""
    src = centre_dataset(tmp_path / "centre", 4)
    terms, centre, buyer = contract(tmp_path)
    ch, store = str(tmp_path / "channel"), tmp_path / "buyer"
    ids = src.episode_ids
    publish(src, ch, terms, centre, profile=PROFILE, episode_ids=ids[:2], now=at(5))
    publish(src, ch, terms, centre, profile=PROFILE, episode_ids=ids[2:], now=at(5, 11))
    revoke_episodes(ch, terms, centre, [ids[0]], "consent-withdrawn", now=at(6))
    revoke_episodes(ch, terms, centre, [ids[1], ids[2]], "consent-withdrawn", now=at(6, 11))
    got = pull(ch, terms, buyer, store, now=at(6, 12))
    assert [(b.number, b.outcome, b.accepted) for b in got.batches] == [
        (1, "rejected", 0),
        (2, "accepted", 2),
    ]
    assert got.revoked == {2: [ids[2]]}
    assert set(load(store / "dataset", horizon=5, cameras=[], qc="all").episode_ids) == {ids[3]}
    # notices 2 and 3 (one per batch); nothing was installed of batch 1: no deletion for it
    deletions = sorted(p.name for p in (store / "receipts" / "deletions").iterdir())
    assert deletions == ["000003.json"]
    report = channel_supply(ch, terms, now=at(7))
    m2 = open_model(
        "batch-manifest",
        BatchManifest,
        (tmp_path / "channel" / "batches" / "000002" / "manifest.json").read_bytes(),
        [centre.identity],
    )
    kept = next(e.hours for e in m2.episodes if e.episode_id == ids[3])
    assert report.net_delivered_hours == kept
    assert report.withdrawn_hours == report.status.delivered_hours - kept
