"""publish, pull, channel, receipt and supply commands as a user runs them."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from embodex.delivery import open_channel, publish, pull, watch
from embodex.errors import FrozenChannelError

from ._delivery import PROFILE, at, centre_dataset, contract
from .test_cli_format import run

T = {day: at(day).isoformat() for day in range(0, 30)}


def _one_line_error(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, (code, err)
    assert lines[0].startswith("error: ") and " — " in lines[0], err
    return lines[0]


def test_the_trade_by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    terms, _, _ = contract(tmp_path, min_pass_rate="0.9")
    src, store, ch = tmp_path / "centre", tmp_path / "buyer", str(tmp_path / "channel")
    profile = tmp_path / "profile.yaml"
    profile.write_text(json.dumps(PROFILE.content))
    centre_dataset(src, 5, defects={4: "nan"})
    common = ["--channel", ch, "--contract", str(terms)]
    centre = [*common, "--key", "hubei-centre"]
    buyer = [*common, "--key", "agibot"]

    code, out, err = run(
        ["publish", str(src), *centre, "--profile", str(profile), "--at", T[5], "--json"], capsys
    )
    assert code == 0, err
    published = json.loads(out)
    assert published["batch"] == 1 and len(published["episodes"]) == 5
    assert any(w["rule"] == "acceptance.min_pass_rate" for w in published["warnings"])

    code, out, err = run(["pull", *buyer, "--into", str(store), "--at", T[6]], capsys)
    assert code == 0, err
    assert "batch 1: rejected: 0 of 5 episodes accepted" in out
    assert "acceptance.min_pass_rate" in out  # 4 of 5 pass, the contract wants 0.9

    code, out, _ = run(["pull", *buyer, "--into", str(store), "--at", T[6], "--json"], capsys)
    assert code == 0 and json.loads(out)["message"].startswith("up to date")

    code, out, _ = run(["channel", "show", *common, "--at", T[6]], capsys)
    assert code == 0 and "sequence 1" in out and "0 ok / 5 rejected" in out
    # the duration column is headed by its unit and holds only that unit (was "hours": "30.5 s")
    head = next(line for line in out.splitlines() if line.startswith("batch"))
    row = next(line for line in out.splitlines() if line.startswith("    1") or line[:1] == "1")
    assert "seconds" in head.split() and "hours" not in head.split()
    assert re.search(r"\d s\b", row) and not re.search(r"\d (h|min)\b", row), row
    code, out, _ = run(["channel", "show", *common, "--at", T[6], "--json"], capsys)
    assert json.loads(out)["batches"][0]["rejected"] == 5

    code, out, _ = run(["channel", "refresh", *centre, "--at", T[7], "--ttl", "1d"], capsys)
    assert code == 0 and "head sequence 2 (batch 1) valid until 2026-01-13T10:00:00" in out
    # a second store decides batch 1 again, later: the receipt on the channel stands (the
    # same decision at the same time would be the very same signed receipt)
    second = ["pull", *buyer, "--into", str(tmp_path / "second"), "--at", T[7]]
    code, _, err = run(second, capsys)
    assert code == 0 and "another receipt of yours for batch 1" in err, err
    code, out, _ = run([*second, "--json"], capsys)
    assert code == 0 and json.loads(out)["receipts_conflicting"] == [1]
    code, out, _ = run(
        ["channel", "notice", *centre, "--at", T[7], "--type", "delay", "--period", "2",
         "--expected-by", "2026-01-20", "--reason", "robot in repair"], capsys,
    )  # fmt: skip
    assert code == 0 and "notice 1 (delay)" in out
    code, out, _ = run(["receipt", "countersign", *centre, "--at", T[7]], capsys)
    assert code == 0 and "batch 1: countersigned (0 accepted, 5 rejected" in out

    code, out, _ = run(["supply", "status", *common, "--at", T[7]], capsys)
    assert code == 0
    assert "contracted   1.00 h" in out and "amount due   0.00 CNY" in out
    assert "notice 1" in out and "robot in repair" in out
    html = tmp_path / "supply.html"
    code, out, _ = run(
        ["supply", "status", *common, "--at", T[7], "--json", "--html", str(html)], capsys
    )
    status = json.loads(out)
    assert "<svg" in html.read_text()
    assert status["status"]["accepted_hours"] == "0" and status["batches"][0]["countersigned"]
    code, out, _ = run(["supply", "plan", *common, "--at", T[7], "--dataset", str(src)], capsys)
    assert code == 0 and "to collect" in out and "replace      5 rejected episodes" in out

    code, out, _ = run(
        ["channel", "revoke", *centre, "--at", T[8], "--batch", "1", "--reason", "consent"],
        capsys,
    )
    assert code == 0 and "notice 2 (revocation)" in out

    # errors: one line, a hint, exit 1 (2 for usage)
    line = _one_line_error(*run(["pull", *centre, "--into", str(store), "--at", T[8]], capsys)[::2])
    assert "is not the buyer" in line
    line = _one_line_error(*run(["pull", *buyer, "--into", str(store), "--at", T[12]], capsys)[::2])
    assert "expired" in line and "channel refresh" in line
    code, _, err = run(["pull", *buyer, "--into", str(store), "--at", "yesterday"], capsys)
    assert code == 2 and "not a date" in err
    line = _one_line_error(
        *run(["channel", "revoke", *centre, "--batch", "1", "--reason", " "], capsys)[::2]
    )
    assert "needs a reason" in line
    code, _, err = run(["pull", *buyer, "--into", str(store), "--watch", "--at", T[8]], capsys)
    assert code == 2 and "--watch" in err


def test_pull_watch_keeps_polling_through_transient_errors(tmp_path: Path) -> None:
    from embodex.delivery import publish

    terms, centre, buyer = contract(tmp_path)
    src, url, store = tmp_path / "centre", str(tmp_path / "channel"), tmp_path / "buyer"
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    reports, errors, sleeps = [], [], []
    polls = watch(
        url, terms, buyer, store, interval=600, polls=2, now=at(5, 12),
        on_report=reports.append, on_error=errors.append, sleep=sleeps.append,
    )  # fmt: skip
    assert polls == 2 and sleeps == [600]
    assert [len(r.batches) for r in reports] == [1, 0] and not errors
    # an expired head is reported and the watch goes on; a rollback would stop it
    polls = watch(
        url, terms, buyer, store, interval=1, polls=2, now=at(9),
        on_report=reports.append, on_error=errors.append, sleep=sleeps.append,
    )  # fmt: skip
    assert polls == 2 and len(errors) == 2 and isinstance(errors[0], FrozenChannelError)
    assert pull(url, terms, buyer, store, now=at(5, 13)).batches == []


def test_a_mistyped_channel_folder_is_an_error_not_an_empty_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms, _, _ = contract(tmp_path)
    missing, store = tmp_path / "chanel", tmp_path / "buyer"
    common = ["--channel", str(missing), "--contract", str(terms), "--at", T[5]]
    code, _, err = run(["pull", *common, "--key", "agibot", "--into", str(store)], capsys)
    assert "there is no channel folder" in _one_line_error(code, err)
    assert not store.exists() and not missing.exists()
    for args in (["supply", "status"], ["channel", "show"]):
        code, _, err = run([*args, *common], capsys)
        assert "there is no channel folder" in _one_line_error(code, err)
    # an existing folder with nothing published yet is still a (young) channel
    missing.mkdir()
    code, out, err = run(["pull", *common, "--key", "agibot", "--into", str(store)], capsys)
    assert code == 0 and "nothing published" in out, err


def test_a_mistyped_s3_channel_is_an_error_not_an_empty_channel(
    tmp_path: Path, s3_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An object store has no folders: a prefix holding nothing is no channel (exit 1, the
    fix); once anything is stored there (here a first publish cut before its head), the
    channel exists and may say "nothing published yet"."""
    from embodex.storage import open_storage

    terms, _, _ = contract(tmp_path)
    typo, store = s3_url + "/deliverys", tmp_path / "buyer"
    common = ["--channel", typo, "--contract", str(terms), "--at", T[5]]
    code, _, err = run(["pull", *common, "--key", "agibot", "--into", str(store)], capsys)
    line = _one_line_error(code, err)
    assert f"there is no channel at {typo}" in line and "Check the URL for a typo" in line
    assert "`embodex publish" in line  # the CLI's words for the fix
    assert not (store / "dataset").exists()
    for args in (["supply", "status"], ["channel", "show"]):
        code, _, err = run([*args, *common], capsys)
        assert f"there is no channel at {typo}" in _one_line_error(code, err)
    for args in (["receipt", "countersign", "--key", "hubei-centre"],
                 ["channel", "refresh", "--key", "hubei-centre"]):  # fmt: skip
        code, _, err = run([*args, *common], capsys)
        assert f"there is no channel at {typo}" in _one_line_error(code, err)
    code, _, err = run(["catalog", "provenance", typo, "--contract", str(terms),
                        "--at", T[5]], capsys)  # fmt: skip
    assert f"there is no channel at {typo}" in _one_line_error(code, err)
    open_storage(typo).put_bytes("batches/000001/data/x.bin", b"staged")
    code, out, err = run(["pull", *common, "--key", "agibot", "--into", str(store)], capsys)
    assert code == 0 and "nothing published" in out, err
    code, out, err = run(["channel", "show", *common], capsys)
    assert code == 0 and "nothing published yet" in out, err


def test_publish_says_each_thing_once_and_the_dry_run_counts_what_goes_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run's file count and bytes are the publish's; a contract warning is printed
    once per run; an out-of-scope line names its episode's own value, not batch totals."""
    from embodex.demo.synth import SKILLS

    inside = [s.skill for s in SKILLS][:2]
    terms, _, _ = contract(tmp_path, min_pass_rate="1.0", skills=inside, min_hours_per_delivery="1")
    src, ch = tmp_path / "centre", str(tmp_path / "channel")
    profile = tmp_path / "profile.yaml"
    profile.write_text(json.dumps(PROFILE.content))
    centre_dataset(src, 4, defects={0: "nan"})  # skills cycle over 3: index 2 is outside
    outside = SKILLS[2].skill
    args = [
        "publish", str(src), "--channel", ch, "--contract", str(terms), "--key",
        "hubei-centre", "--profile", str(profile), "--at", T[5], "--exclude-out-of-scope",
    ]  # fmt: skip
    code, dry, err = run([*args, "--dry-run"], capsys)
    assert code == 0, err
    left = [line for line in dry.splitlines() if line.startswith("left out (out of scope)")]
    assert len(left) == 1 and f"scope.skills: skill {outside}, outside the contract's" in left[0]
    assert "episode(s)" not in left[0]  # no totals repeated on the episode's line
    for rule in ("acceptance.min_pass_rate", "volume.min_hours_per_delivery"):
        assert len([line for line in err.splitlines() if rule in line]) == 1, err
    code, out, err = run(args, capsys)
    assert code == 0, err
    for rule in ("acceptance.min_pass_rate", "volume.min_hours_per_delivery"):
        assert len([line for line in err.splitlines() if rule in line]) == 1, err
    would = dry.split("would publish batch 1")[1].split(";")[0]
    done = out.split("published batch 1")[1].split(";")[0]
    assert would.split(": ", 1)[1] == done.split(": ", 1)[1], (would, done)  # same files, bytes
    assert " 3 episodes, " in done


def test_supply_views_agree_on_revocations_and_money(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms, centre, buyer = contract(tmp_path)
    src, store, ch = tmp_path / "centre", tmp_path / "buyer", str(tmp_path / "channel")
    centre_dataset(src, 3)
    publish(src, ch, terms, centre, profile=PROFILE, now=at(5))
    centre_dataset(src, 2, first=3)
    publish(src, ch, terms, centre, profile=PROFILE, now=at(6))
    pull(ch, terms, buyer, store, now=at(6, 12))
    common = ["--channel", ch, "--contract", str(terms), "--at", T[7]]
    code, out, _ = run(["supply", "status", *common, "--json"], capsys)
    before = json.loads(out)
    gross = before["status"]["amount_due"]
    assert code == 0 and gross == before["net_amount_due"] and len(gross.split(".")[1]) == 2
    code, out, _ = run(
        ["channel", "revoke", *common, "--key", "hubei-centre", "--batch", "1",
         "--reason", "consent withdrawn"], capsys,
    )  # fmt: skip
    assert code == 0
    pull(ch, terms, buyer, store, now=at(7, 12))
    later = [*common[:-1], T[8]]
    code, out, _ = run(["supply", "status", *later, "--json"], capsys)
    after = json.loads(out)
    net = after["net_amount_due"]
    assert after["status"]["amount_due"] == gross and Decimal(net) < Decimal(gross)
    assert len(net.split(".")[1]) == 2
    code, out, _ = run(["supply", "status", *later], capsys)
    (headline,) = [line for line in out.splitlines() if "amount due" in line]
    assert f"{Decimal(net):,.2f} CNY" in headline and "net of" in headline
    assert f"{Decimal(gross):,.2f} CNY before" in headline
    code, out, _ = run(["supply", "plan", *later], capsys)
    assert code == 0 and "revoked      batch 1 (notice 1): consent withdrawn" in out
    code, out, _ = run(["supply", "plan", *later, "--json"], capsys)
    plan = json.loads(out)
    assert [n["batch"] for n in plan["revocations"]] == [1]
    assert Decimal(plan["revoked_accepted_hours"]) > 0


def test_a_replacement_batch_by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Batch 1 is accepted in part; the centre records new takes and publishes them with
    --replaces 1: the plan shows the replacement, the status finds it on time."""
    terms, _, _ = contract(tmp_path)
    src, store, ch = tmp_path / "centre", tmp_path / "buyer", str(tmp_path / "channel")
    centre_dataset(src, 4, defects={3: "nan"})
    profile = tmp_path / "profile.yaml"
    profile.write_text(json.dumps(PROFILE.content))
    common = ["--channel", ch, "--contract", str(terms)]
    centre = [*common, "--key", "hubei-centre", "--profile", str(profile)]
    buyer = [*common, "--key", "agibot"]
    assert run(["publish", str(src), *centre, "--at", T[5]], capsys)[0] == 0
    code, out, err = run(["pull", *buyer, "--into", str(store), "--at", T[6]], capsys)
    assert code == 0 and "3 of 4 episodes accepted" in out, out + err

    # a batch that does not exist cannot be replaced: one line, nothing published
    centre_dataset(src, 1, first=4)
    code, _, err = run(["publish", str(src), *centre, "--replaces", "9", "--at", T[7]], capsys)
    assert "no batch 9" in _one_line_error(code, err)
    code, out, err = run(
        ["publish", str(src), *centre, "--replaces", "1", "--at", T[7], "--json"], capsys
    )
    assert code == 0 and json.loads(out)["batch"] == 2, err
    manifest = open_channel(ch, terms).read_manifest(2, json.loads(out)["channel_id"])[0]
    assert manifest.replacement_for == 1

    code, out, _ = run(["supply", "plan", *common, "--at", T[8], "--json"], capsys)
    (repl,) = json.loads(out)["replacements"]
    assert repl["batch"] == 1 and repl["episodes"] == 1 and repl["replaced_by"] == [2]
    assert Decimal(repl["replaced_hours"]) > 0
    code, out, _ = run(["supply", "plan", *common, "--at", T[8]], capsys)
    assert "1 rejected episode (" in out and "of batch 1 by" in out
    assert "replaced by batch 2" in out and "delivered)" in out
    code, out, _ = run(["supply", "status", *common, "--at", T[8], "--json"], capsys)
    assert code == 0 and json.loads(out)["status"]["late_replacements"] == []
    code, out, _ = run(["channel", "show", *common, "--at", T[8]], capsys)
    assert code == 0 and "replaces batch 1" in out
