"""The centre sees what the buyer's checks will say before anything leaves: warnings come
before the upload, and --dry-run stages and checks a batch without publishing it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embodex.contract.checking import Violation
from embodex.delivery import publish, pull
from embodex.delivery.outbox import Outbox
from embodex.storage import open_storage
from embodex.trust import Ledger, ledger_path

from ._delivery import PROFILE, at, centre_dataset, contract
from .test_cli_format import run


def test_warnings_reach_the_centre_before_the_upload(tmp_path: Path) -> None:
    terms, centre, _ = contract(tmp_path, min_pass_rate="0.9")
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 4, defects={1: "nan"})  # 3 of 4 pass; the contract wants 0.9
    events: list[str] = []

    def on_warnings(warnings: list[Violation]) -> None:
        stored = [o.key for o in open_storage(url).list()] if Path(url).exists() else []
        events.append(f"warnings {[w.rule for w in warnings]} with {len(stored)} objects stored")

    result = publish(
        src, url, terms, centre, profile=PROFILE, now=at(5), on_warnings=on_warnings,
        on_start=lambda files, _size: events.append(f"upload {files} files"),
    )  # fmt: skip
    assert events[0] == "warnings ['acceptance.min_pass_rate'] with 0 objects stored"
    assert events[1].startswith("upload ")
    assert [w.rule for w in result.warnings] == ["acceptance.min_pass_rate"]


def test_dry_run_stages_and_checks_but_publishes_nothing(tmp_path: Path) -> None:
    terms, centre, buyer = contract(tmp_path, min_pass_rate="0.9")
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 4, defects={1: "nan"})
    dry = publish(src, url, terms, centre, profile=PROFILE, now=at(5), dry_run=True)
    assert dry.dry_run and dry.number == 1 and len(dry.episodes) == 4
    assert dry.files > 0 and dry.bytes > 0 and dry.hours > 0
    assert [w.rule for w in dry.warnings] == ["acceptance.min_pass_rate"]
    # nothing on the channel, nothing pending or staged, nothing in the ledger
    channel = Path(url)
    assert not channel.exists() or not [o for o in open_storage(url).list()]
    outbox = Outbox(open_storage(url).url)
    assert outbox.pending() is None and not list(outbox.root.glob("0*"))
    assert not list(outbox.root.glob("dry-run-*"))
    assert not Ledger(ledger_path("hubei-centre")).events() - _contract_events()
    # the real publish sends exactly what the dry run showed
    real = publish(src, url, terms, centre, profile=PROFILE, now=at(5, 1))
    assert (real.number, real.episodes, real.hours) == (dry.number, dry.episodes, dry.hours)
    assert [w.rule for w in real.warnings] == ["acceptance.min_pass_rate"]
    assert publish(src, url, terms, centre, profile=PROFILE, now=at(6), dry_run=True).number is None
    assert pull(url, terms, buyer, tmp_path / "buyer", now=at(6)).batches[0].episodes == 4


def _contract_events() -> set[tuple[str, str]]:
    return {
        (e.kind, e.ref)
        for e in Ledger(ledger_path("hubei-centre")).entries()
        if e.kind.startswith("contract-")
    }


def test_publish_dry_run_by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    terms, _, _ = contract(tmp_path, min_pass_rate="0.9")
    src, ch = tmp_path / "centre", str(tmp_path / "channel")
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps(PROFILE.content))
    centre_dataset(src, 4, defects={1: "nan"})
    args = [
        *("publish", str(src), "--channel", ch, "--contract", str(terms)),
        *("--key", "hubei-centre", "--profile", str(profile), "--at", at(5).isoformat()),
        "--dry-run",
    ]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "would publish batch 1" in out and "dry run: nothing uploaded" in out
    assert "warning: acceptance.min_pass_rate" in err
    code, out, err = run([*args, "--json"], capsys)
    doc = json.loads(out)
    assert doc["dry_run"] is True and doc["batch"] == 1 and doc["warnings"]
    assert not (Path(ch) / "head.json").exists()
