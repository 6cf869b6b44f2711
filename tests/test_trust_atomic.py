"""Contract actions write the contract file and the ledger entry together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from embodex.contract import amend_contract, sign_contract, terminate_contract
from embodex.errors import LedgerError
from embodex.trust import Ledger, ledger_path, verify_ledger
from embodex_cli.main import main

from ._trust import BEFORE, IN_TERM, agreed, make_parties, write_draft


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _damage(party: str) -> None:
    """Cut the ledger's last entry off: its signed head now names an entry that is gone."""
    path = ledger_path(party)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def test_a_damaged_ledger_refuses_the_offer_before_the_file_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    centre, buyer = make_parties()
    # two entries in the centre's ledger, then the second cut off
    for name in ("a.yaml", "b.yaml"):
        sign_contract(write_draft(tmp_path, centre.identity, buyer.identity, name), centre,
                      at=BEFORE)  # fmt: skip
    _damage("hubei-centre")
    draft = write_draft(tmp_path, centre.identity, buyer.identity, "c.yaml")
    code, err = _run(capsys, "contract", "sign", str(draft), "--key", "hubei-centre", "--at",
                     "2026-01-01")  # fmt: skip
    assert code == 1, err
    assert "entries were cut off" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.signed.json").exists()  # nothing written
    # once the ledger is restored (here: moved aside), the same command works
    ledger_path("hubei-centre").rename(tmp_path / "old.jsonl")
    ledger_path("hubei-centre").with_name("hubei-centre.head.json").unlink()
    code, err = _run(capsys, "contract", "sign", str(draft), "--key", "hubei-centre", "--at",
                     "2026-01-01")  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "c.signed.json").exists()


def _failing_append(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make ledger appends fail; returns the function that puts them back."""
    real = Ledger.append

    def append(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        raise LedgerError(f"{self.path}: disk full")

    monkeypatch.setattr(Ledger, "append", append)
    return lambda: monkeypatch.setattr(Ledger, "append", real)


def _v2(tmp_path: Path) -> Path:
    data = yaml.safe_load((tmp_path / "c.yaml").read_text())
    data["price"]["per_accepted_hour"] = "650.00"
    out = tmp_path / "v2.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.mark.parametrize("action", ["offer", "countersign", "amend", "terminate"])
def test_a_failed_ledger_append_puts_the_contract_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    if action in ("offer", "countersign"):
        centre, buyer = make_parties()
        draft = write_draft(tmp_path, centre.identity, buyer.identity)
        if action == "offer":
            target, run = (
                tmp_path / "c.signed.json",
                lambda: sign_contract(draft, centre, at=BEFORE),
            )
        else:
            target = sign_contract(draft, centre, at=BEFORE).path
            run = lambda: sign_contract(target, buyer, at=BEFORE)  # noqa: E731
    else:
        path, centre, buyer = agreed(tmp_path)
        if action == "amend":
            changes = _v2(tmp_path)
            target = tmp_path / "hubei-agibot-2026-001-v2.signed.json"
            run = lambda: amend_contract(path, changes, centre, at=IN_TERM)  # noqa: E731
        else:
            target = path
            run = lambda: terminate_contract(path, buyer, "late", at=IN_TERM)  # noqa: E731
    before = target.read_bytes() if target.exists() else None
    restore = _failing_append(monkeypatch)
    with pytest.raises(LedgerError, match="disk full"):
        run()
    assert (target.read_bytes() if target.exists() else None) == before
    restore()
    run()  # the action goes through once the ledger works: nothing was left in its way
    for party, signer in (("hubei-centre", centre), ("agibot", buyer)):
        if ledger_path(party).exists():
            assert verify_ledger(ledger_path(party), [signer.identity]).ok
