"""Files people write (contracts, price sheets): a key given twice is refused, not resolved;
a contract still holding the placeholder QC profile digest cannot be signed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from embodex.contract import load_contract_yaml, render_template, sign_contract
from embodex.contract.templates import UNSET_DIGEST
from embodex.errors import ContractError, PriceSheetError
from embodex.market import default_price_sheet_text, load_price_sheet
from embodex.qc import default_profile
from embodex_cli.main import main

from ._trust import BEFORE, START, draft_text, make_parties


def _twice(text: str, line: str, again: str) -> str:
    """``text`` with ``again`` inserted right after its line ``line`` (same indentation)."""
    lines = text.splitlines()
    i = next(k for k, x in enumerate(lines) if x.strip().startswith(line))
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    return "\n".join([*lines[: i + 1], indent + again, *lines[i + 1 :]]) + "\n"


def test_a_price_given_twice_in_a_contract_is_refused(tmp_path: Path) -> None:
    centre, buyer = make_parties()
    text = draft_text(centre.identity, buyer.identity)
    draft = tmp_path / "c.yaml"
    draft.write_text(_twice(text, "per_accepted_hour:", 'per_accepted_hour: "1.00"'))
    line = draft.read_text().splitlines().index('  per_accepted_hour: "1.00"') + 1
    with pytest.raises(ContractError, match=rf"line {line}: 'per_accepted_hour' is given twice"):
        sign_contract(draft, centre, at=BEFORE)
    assert not (tmp_path / "c.signed.json").exists()
    draft.write_text(text)
    assert sign_contract(draft, centre, at=BEFORE).path.exists()


def test_duplicate_keys_are_refused_at_any_depth_and_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    centre, buyer = make_parties()
    text = draft_text(centre.identity, buyer.identity)
    draft = tmp_path / "c.yaml"
    draft.write_text(_twice(text, "contract_id:", "contract_id: other-2026"))
    with pytest.raises(ContractError, match="'contract_id' is given twice"):
        load_contract_yaml(draft)
    try:
        main(["contract", "show", str(draft)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 1 and "is given twice" in err and len(err.strip().splitlines()) == 1


def test_a_price_sheet_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "prices.yaml"
    text = default_price_sheet_text()
    sheet.write_text(text)
    assert load_price_sheet(sheet).currency == "CNY"
    sheet.write_text(_twice(text, "restaurant:", 'restaurant: "0.50"'))
    with pytest.raises(PriceSheetError, match="'restaurant' is given twice"):
        load_price_sheet(sheet)


def test_the_placeholder_qc_digest_cannot_be_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    centre, buyer = make_parties()
    # a fresh draft names the built-in profile, the one publish and pull use by default
    fresh = render_template(centre=centre.identity, buyer=buyer.identity, start=START)
    assert yaml.safe_load(fresh)["acceptance"]["qc_profile_digest"] == default_profile().digest
    # a draft still carrying the all-zero "fill me in" digest is refused at signing
    draft = tmp_path / "c.yaml"
    draft.write_text(
        render_template(
            centre=centre.identity,
            buyer=buyer.identity,
            start=START,
            qc_profile_digest=UNSET_DIGEST,
        )
    )
    try:
        main(["contract", "sign", str(draft), "--key", "hubei-centre", "--at", "2026-01-01"])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 1 and "qc_profile_digest is the placeholder" in err, err
    assert "embodex qc profile" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.signed.json").exists()
