"""keys, contract and ledger commands as a user runs them: output, --json, exit codes, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from embodex.config import keys_dir, ledger_dir
from embodex_cli.main import main

START, BEFORE, IN_TERM, LATER = "2026-01-05", "2026-01-01", "2026-03-02", "2026-04-06"


class Cli:
    """Runs `embodex` through main(); remembers every output to check nothing leaks."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen: list[str] = []

    def __call__(self, *args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        self.seen += [out, err]
        return code, out, err

    def fails(self, *args: str) -> str:
        """Run, expect exit 1 with exactly one `error: … — hint` line on stderr; return it."""
        code, out, err = self(*args)
        assert code == 1, (code, out, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0], err
        return lines[0]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def _files(*dirs: Path) -> dict[str, bytes]:
    found = {}
    for d in dirs:
        if d.exists():
            for p in sorted(d.rglob("*")):
                if p.is_file():
                    found[str(p)] = p.read_bytes()
    return found


def _parties(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    assert cli("keys", "generate", "hubei-centre", "--role", "centre")[0] == 0
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "buyer-secret")
    code, out, _ = cli("keys", "generate", "agibot", "--role", "buyer", "--json")
    assert code == 0 and json.loads(out)["encrypted"] is True
    monkeypatch.delenv("EMBODEX_KEY_PASSPHRASE")
    yaml_path = tmp_path / "contract.yaml"
    code, out, _ = cli(
        "contract", "init", "--template", "hubei-agibot", "--centre", "hubei-centre",
        "--buyer", "agibot", "--start", START,
    )  # fmt: skip
    assert code == 0 and "fold_clothes" in out and "REPLACE-ME" not in out
    yaml_path.write_text(out)
    return yaml_path


def test_the_whole_contract_flow(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    draft = _parties(cli, monkeypatch, tmp_path)
    code, out, _ = cli("contract", "show", str(draft))
    assert code == 0 and "DRAFT" in out and "nothing verified" in out
    code, out, _ = cli("contract", "sign", str(draft), "--key", "hubei-centre", "--at", BEFORE)
    signed = tmp_path / "contract.signed.json"
    assert code == 0 and "contract-offered" in out and signed.exists()
    code, out, _ = cli("contract", "show", str(signed), "--at", BEFORE, "--json")
    shown = json.loads(out)
    assert shown["state"] == "OFFERED" and [s["role"] for s in shown["signed_by"]] == ["centre"]
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "buyer-secret")
    code, out, _ = cli("contract", "sign", str(signed), "--key", "agibot", "--at", BEFORE, "--json")
    result = json.loads(out)
    assert code == 0 and result["event"] == "contract-agreed" and result["ledger_seq"] == 1
    assert result["contract"]["state"] == "AGREED"
    code, out, _ = cli("contract", "verify", str(signed), "--at", IN_TERM)
    assert code == 0 and out.startswith("ok: hubei-agibot-2026-001 v1 ACTIVE")
    code, out, _ = cli("contract", "show", str(signed), "--at", IN_TERM)
    assert code == 0 and "ACTIVE" in out and "600.00 CNY per accepted hour" in out
    assert "— signed" in out and "23 scenes" in out
    # amend: a new price; v1 stays in force until the buyer signs v2
    v2 = tmp_path / "v2.yaml"
    v2.write_text(draft.read_text().replace('"600.00"', '"620.00"'))
    code, out, _ = cli(
        "contract", "amend", str(signed), "--changes", str(v2), "--key", "hubei-centre",
        "--at", IN_TERM, "--out", str(tmp_path / "v2.signed.json"),
    )  # fmt: skip
    assert code == 0 and "amendment-offered" in out
    code, out, _ = cli("contract", "show", str(tmp_path / "v2.signed.json"), "--at", IN_TERM)
    assert "awaits a signature" in out and "600.00 CNY" in out
    code, out, _ = cli(
        "contract", "sign", str(tmp_path / "v2.signed.json"), "--key", "agibot", "--at", IN_TERM
    )
    assert code == 0 and "contract-amended" in out
    code, out, _ = cli("contract", "verify", str(tmp_path / "v2.signed.json"), "--at", IN_TERM,
                       "--json")  # fmt: skip
    v = json.loads(out)
    assert v["ok"] is True and v["state"] in ("ACTIVE", "AGREED")
    assert v["version"] == 2 and v["price"]["per_accepted_hour"] == "620.00"
    assert [h["version"] for h in v["history"]] == [1]
    # terminate, then verification fails with the reason
    code, out, _ = cli(
        "contract", "terminate", str(tmp_path / "v2.signed.json"), "--key", "agibot",
        "--reason", "three missed deliveries", "--at", IN_TERM,
    )  # fmt: skip
    assert code == 0 and "contract-terminated" in out
    line = cli.fails("contract", "verify", str(tmp_path / "v2.signed.json"), "--at", LATER)
    assert "terminated on 2026-03-02: three missed deliveries" in line
    # --json still answers on stdout (exit 1): ok false, the state and the reason
    code, out, err = cli("contract", "verify", str(tmp_path / "v2.signed.json"), "--at", LATER,
                         "--json")  # fmt: skip
    v = json.loads(out)
    assert code == 1 and v["ok"] is False and v["state"] == "TERMINATED"
    assert "three missed deliveries" in v["error"] and err.startswith("error: ")
    # ledgers: each party's events, verified
    code, out, _ = cli("ledger", "show", "agibot")
    assert code == 0 and "contract-agreed" in out and "contract-terminated" in out
    code, out, _ = cli("ledger", "verify", "hubei-centre", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["entries"] == 2
    # nothing printed anywhere contains private key material
    pems = [p.read_text() for p in keys_dir().glob("*.key")]
    bodies = [line for pem in pems for line in pem.splitlines() if "-----" not in line]
    assert bodies and not any(b in text for b in bodies for text in cli.seen)


def test_keys_commands(cli: Cli, tmp_path: Path) -> None:
    assert cli("keys", "list")[1].startswith("no keys yet")
    cli("keys", "generate", "hubei-centre", "--role", "centre")
    code, out, _ = cli("keys", "list", "--json")
    [row] = json.loads(out)
    assert row["name"] == "hubei-centre" and row["private_key"] and not row["encrypted"]
    code, out, _ = cli("keys", "show", "hubei-centre")
    assert code == 0 and "ed25519:" in out and "hubei-centre.key" in out
    code, out, _ = cli("keys", "export", "hubei-centre")
    assert set(json.loads(out)) == {"name", "role", "public_key", "key_id"}
    exported = tmp_path / "c.pub.json"
    exported.write_text(out)
    os.environ["EMBODEX_HOME"] = str(tmp_path / "other-home")  # restored by the autouse fixture
    code, out, _ = cli("keys", "import", str(exported))
    assert code == 0 and "trusting centre hubei-centre" in out
    code, out, _ = cli("keys", "list", "--json")
    assert json.loads(out)[0]["private_key"] is False


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('per_accepted_hour: "600.00"', "per_accepted_hour: 600.5"), "a float"),
        (("currency: CNY", "currency: CNY\n  discount: 5"), "unknown field 'price.discount'"),
        (('total_hours: "2000"', 'total_hours: "-3"'), "greater than 0"),
        (('min_pass_rate: "0.95"', 'min_pass_rate: "95"'), "less than or equal to 1"),
    ],
)
def test_bad_contract_yaml_is_refused_and_nothing_written(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    edit: tuple[str, str],
    expected: str,
) -> None:
    draft = _parties(cli, monkeypatch, tmp_path)
    text = draft.read_text()
    assert edit[0] in text
    draft.write_text(text.replace(*edit))
    before = _files(tmp_path, ledger_dir())
    line = cli.fails("contract", "sign", str(draft), "--key", "hubei-centre", "--at", BEFORE)
    assert expected in line
    assert _files(tmp_path, ledger_dir()) == before


def test_bad_input_gives_one_line_and_writes_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    draft = _parties(cli, monkeypatch, tmp_path)
    cli("keys", "generate", "mallory", "--role", "buyer")
    cli("contract", "sign", str(draft), "--key", "hubei-centre", "--at", BEFORE)
    signed = tmp_path / "contract.signed.json"
    before = _files(tmp_path, ledger_dir())
    # wrong key: not a party
    assert "not a party to contract" in cli.fails(
        "contract", "sign", str(signed), "--key", "mallory", "--at", BEFORE
    )
    # encrypted key: no passphrase (no terminal to prompt), then a wrong one
    assert "no passphrase was given" in cli.fails(
        "contract", "sign", str(signed), "--key", "agibot", "--at", BEFORE
    )
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "not-it")
    assert "wrong passphrase for key 'agibot'" in cli.fails(
        "contract", "sign", str(signed), "--key", "agibot", "--at", BEFORE
    )
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "buyer-secret")
    # expired contract
    assert "ended on" in cli.fails(
        "contract", "sign", str(signed), "--key", "agibot", "--at", "2030-01-01"
    )
    # loose permissions on the key file
    key = keys_dir() / "agibot.key"
    os.chmod(key, 0o640)
    assert f"chmod 600 {key}" in cli.fails(
        "contract", "sign", str(signed), "--key", "agibot", "--at", BEFORE
    )
    os.chmod(key, 0o600)
    assert _files(tmp_path, ledger_dir()) == before
    # a tampered byte in the signed file
    data = signed.read_text()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(data.replace('"payload": "ey', '"payload": "eZ', 1))
    assert "error: " in cli.fails("contract", "verify", str(tampered), "--at", BEFORE)
    assert "altered" in cli.fails(
        "contract", "verify", str(_flip_payload(signed, tmp_path)), "--at", BEFORE
    )
    code, out, _ = cli("contract", "verify", str(tampered), "--at", BEFORE, "--json")
    assert code == 1 and json.loads(out)["ok"] is False and "state" not in json.loads(out)
    # a draft is not a signed contract
    assert "not a signed contract file" in cli.fails("contract", "verify", str(draft))


def _flip_payload(signed: Path, tmp_path: Path) -> Path:
    import base64

    doc = json.loads(signed.read_text())
    raw = bytearray(base64.b64decode(doc["envelope"]["payload"]))
    raw[raw.index(b"600.00")] = ord("9")  # 600.00 -> 900.00
    doc["envelope"]["payload"] = base64.b64encode(bytes(raw)).decode()
    out = tmp_path / "flipped.json"
    out.write_text(json.dumps(doc))
    return out


def test_ledger_verify_names_the_tampered_entry(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    draft = _parties(cli, monkeypatch, tmp_path)
    cli("contract", "sign", str(draft), "--key", "hubei-centre", "--at", BEFORE)
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(draft.read_text())
        cli("contract", "sign", str(tmp_path / f"{name}.yaml"), "--key", "hubei-centre",
            "--at", BEFORE)  # fmt: skip
    path = ledger_dir() / "hubei-centre.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    path.write_text("\n".join([lines[0], lines[1].replace("v1", "v9"), lines[2]]) + "\n")
    code, _, err = cli("ledger", "verify", "hubei-centre")
    assert code == 1
    assert "problem: edited: entry 2 (line 2) was changed after it was signed" in err
    assert err.strip().splitlines()[-1].startswith("error: ledger")
    code, out, _ = cli("ledger", "show")  # the only ledger here; show lists, verify judges
    assert code == 0 and "v9" in out
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "buyer-secret")
    signed = tmp_path / "contract.signed.json"
    assert cli("contract", "sign", str(signed), "--key", "agibot", "--at", BEFORE)[0] == 0
    line = cli.fails("ledger", "show")
    assert "say which ledger" in line and "agibot, hubei-centre" in line


def test_init_without_keys_leaves_placeholders(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("contract", "init")
    assert code == 0 and "REPLACE-ME" in out
    draft = tmp_path / "c.yaml"
    draft.write_text(out)
    cli("keys", "generate", "hubei-centre", "--role", "centre")
    assert "placeholders" in cli.fails("contract", "sign", str(draft), "--key", "hubei-centre")
    code, _, err = cli("contract", "init", "--template", "nope")  # a fixed list: usage, exit 2
    assert code == 2 and "'nope' is not 'hubei-agibot'" in err and err.count("\n") == 1
