"""Error messages say what is wrong and the fix that applies — not a fix for another case."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from embodex.contract import sign_contract
from embodex.delivery import publish
from embodex.trust import ledger_path

from ._delivery import PROFILE, at, centre_dataset, contract
from ._trust import BEFORE, draft_text, make_parties
from .test_cli_format import run


def _error(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) >= 1 and lines[-1].startswith("error: "), (code, err)
    return lines[-1]


def test_contract_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    centre, buyer = make_parties()
    data = yaml.safe_load(draft_text(centre.identity, buyer.identity))
    # fps is a whole number: "quote it" would not help
    data["scope"]["fps"] = 29.97
    draft = tmp_path / "fps.yaml"
    draft.write_text(yaml.safe_dump(data, sort_keys=False))
    line = _error(*run(["contract", "show", str(draft)], capsys)[::2])
    assert "scope.fps is 29.97; it must be a whole number" in line and "fps: 30" in line
    assert "Quote" not in line
    # signing again once both parties signed: not "the other party signs next"
    draft = tmp_path / "c.yaml"
    draft.write_text(draft_text(centre.identity, buyer.identity))
    offered = sign_contract(draft, centre, at=BEFORE).path
    sign_contract(offered, buyer, at=BEFORE)
    code, _, err = run(["contract", "sign", str(offered), "--key", "agibot", "--at",
                        "2026-01-01"], capsys)  # fmt: skip
    line = _error(code, err)
    assert "both parties" in line and "other party signs next" not in line
    # a truncated signed file is a damaged signed file, not bad YAML
    cut = tmp_path / "cut.signed.json"
    cut.write_bytes(offered.read_bytes()[:300])
    line = _error(*run(["contract", "show", str(cut)], capsys)[::2])
    assert "damaged signed contract file: invalid JSON at line" in line and "YAML" not in line
    assert "truncated" in line


def test_ledger_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    centre, buyer = make_parties()
    draft = tmp_path / "c.yaml"
    draft.write_text(draft_text(centre.identity, buyer.identity))
    sign_contract(draft, centre, at=BEFORE)
    # no ledger for that party: an error, not an empty table
    line = _error(*run(["ledger", "show", "nobody"], capsys)[::2])
    assert "there is no ledger for 'nobody'" in line and "hubei-centre" in line
    _error(*run(["ledger", "verify", "nobody"], capsys)[::2])
    # a tampered ledger: verify does not tell the user to run verify
    path = ledger_path("hubei-centre")
    path.write_bytes(path.read_bytes().replace(b"contract-offered", b"contract-agreed", 1))
    line = _error(*run(["ledger", "verify", "hubei-centre"], capsys)[::2])
    assert "ledger verify" not in line.split(" — ", 1)[1] and "backup" in line


def test_channel_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    terms, centre, _ = contract(tmp_path)
    src, url = tmp_path / "centre", str(tmp_path / "channel")
    centre_dataset(src, 2)
    publish(src, url, terms, centre, profile=PROFILE, now=at(5))
    common = ["--channel", url, "--contract", str(terms), "--key", "hubei-centre"]
    code, _, err = run(["channel", "revoke", *common, "--batch", "9", "--reason", "x",
                        "--at", at(6).isoformat()], capsys)  # fmt: skip
    line = _error(code, err)
    assert "there is no batch 9 to revoke" in line and "batches 1..1" in line
    assert "Do not use this channel" not in line
    code, _, err = run(["receipt", "countersign", *common, "--batch", "1",
                        "--at", at(6).isoformat()], capsys)  # fmt: skip
    line = _error(code, err)
    assert "has not written a receipt for batch 1 yet" in line
    assert "Do not use this channel" not in line


def test_an_error_never_tells_its_command_to_run_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify` of a damaged dataset gives the fix without "run `embodex verify`"; another
    command meeting the same damage still points at verify."""
    from embodex.demo.synth import synth_dataset, synth_meta
    from embodex.errors import FormatError
    from embodex_cli.errors import error_line

    root = tmp_path / "ds"
    synth_dataset(root, 1, seed=2, meta=synth_meta(image_size=16), duration_s=(1.0, 1.0))
    (root / "stats.json").unlink()
    code, _, err = run(["verify", str(root)], capsys)
    assert code == 1 and "metadata file missing" in err and "embodex verify" not in err, err
    assert "Restore the file from the original delivery (or pull the batch again)." in err
    code, _, err = run(["inspect", str(root)], capsys)
    assert code == 1 and "run `embodex verify DATASET` to list every damaged file" in err
    line = error_line(FormatError("bad"), "embodex verify")
    assert line == "bad — See specs/format.md."
    assert error_line(FormatError("bad"), "embodex inspect").endswith(
        "Check the dataset with `embodex verify DATASET`; see specs/format.md."
    )
