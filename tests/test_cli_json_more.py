"""`--json` on the commands that print a document (contract init, catalog prices, keys
export): the same document for scripts, and the text output unchanged for people."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from .test_cli_format import run


def test_contract_init_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(["contract", "init", "--start", "2026-01-05"], capsys)
    assert code == 0 and text.startswith("# embodex data service contract")
    code, out, _ = run(["contract", "init", "--start", "2026-01-05", "--json"], capsys)
    draft = json.loads(out)
    assert draft["source"] == "template" and draft["template"] == "hubei-agibot"
    assert draft["yaml"] == text and draft["out"] is None
    assert isinstance(yaml.safe_load(draft["yaml"]), dict)
    target = tmp_path / "contract.yaml"
    code, out, err = run(["contract", "init", "-o", str(target), "--json"], capsys)
    assert code == 0 and json.loads(out)["out"] == str(target) and err == ""
    assert json.loads(out)["yaml"] == target.read_text()
    code, out, err = run(["contract", "init", "-o", str(target)], capsys)
    assert code == 0 and out == "" and f"wrote {target}" in err


def test_catalog_prices_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, text, _ = run(["catalog", "prices"], capsys)
    assert code == 0 and "base_per_accepted_hour" in text and "#" in text  # commented YAML
    code, out, _ = run(["catalog", "prices", "--json"], capsys)
    sheet = json.loads(out)
    assert sheet["currency"] == "CNY"
    assert Decimal(sheet["base_per_accepted_hour"]) == Decimal("600.00")


def test_keys_export_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "generate", "centre", "--role", "centre"], capsys)[0] == 0
    code, text, _ = run(["keys", "export", "centre"], capsys)
    assert code == 0
    code, out, _ = run(["keys", "export", "centre", "--json"], capsys)
    exported = json.loads(out)
    assert exported["name"] == "centre" and exported["identity"] == json.loads(text)
    assert set(exported["identity"]) == {"key_id", "name", "public_key", "role"}
    target = tmp_path / "centre.pub.json"
    code, out, _ = run(["keys", "export", "centre", "-o", str(target), "--json"], capsys)
    assert code == 0 and json.loads(out)["out"] == str(target)
    assert json.loads(target.read_text()) == exported["identity"]
