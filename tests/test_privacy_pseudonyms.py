"""Operator pseudonyms (issue 17 item 4): a keyed HMAC replaces every operator id; the
key and the re-identification table stay in the centre's home; no written byte of the
dataset or the channel holds a real id."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from embodex.config import home_dir
from embodex.delivery import publish
from embodex.errors import ConfigError, PrivacyError, ScopeError
from embodex.format import Dataset, open_dataset
from embodex.format.importers import import_recordings
from embodex.format.pseudonyms import (
    centre_secret,
    key_id,
    pseudonym,
    pseudonym_record,
    pseudonymise_operators,
)

from ._delivery import PROFILE, at, centre_dataset, contract


def _every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_operator_ids_never_leave_the_centre(tmp_path: Path) -> None:
    src = centre_dataset(tmp_path / "centre", 3)
    real = {e.meta.operator_id for e in (src.episode(i) for i in src.episode_ids)}
    real.discard(None)
    assert real, "the synthetic episodes name their operators"
    out = pseudonymise_operators(src, tmp_path / "out", scope="c-1")
    secret = centre_secret()
    aliases = {out.episode(i).meta.operator_id for i in out.episode_ids}
    assert aliases == {pseudonym(r, secret, "c-1") for r in real}  # type: ignore[arg-type]
    assert pseudonym("x", secret, "c-1") != pseudonym("x", secret, "c-2")  # per-contract
    # the table re-identifies, and stays in the home (mode 0600)
    table = home_dir() / "privacy" / "reidentify.jsonl"
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert {r["operator_id"] for r in rows} == real
    assert os.stat(table).st_mode & 0o777 == 0o600
    # publish it, then grep every byte of the dataset and the channel for a real id
    terms, centre, _ = contract(tmp_path)
    channel = tmp_path / "channel"
    publish(out, str(channel), terms, centre, profile=PROFILE, now=at(5))
    logs = b"".join(  # the centre's ledger, outbox and keys: everything but privacy/
        p.read_bytes()
        for p in sorted(home_dir().rglob("*"))
        if p.is_file() and "privacy" not in p.relative_to(home_dir()).parts
    )
    written = _every_byte(tmp_path / "out") + _every_byte(channel) + logs
    for rid in real:
        assert rid.encode() not in written  # type: ignore[union-attr]
    assert secret not in written
    # the source still names them: the grep can fail
    assert any(rid.encode() in _every_byte(tmp_path / "centre") for rid in real)  # type: ignore[union-attr]
    assert any(rid.encode() in table.read_bytes() for rid in real)  # type: ignore[union-attr]
    # running again appends nothing new to the table
    pseudonymise_operators(src, tmp_path / "out2", scope="c-1")
    assert len(table.read_text().splitlines()) == len(rows)
    again = open_dataset(tmp_path / "out2")
    assert {again.episode(i).meta.operator_id for i in again.episode_ids} == aliases


def test_cli_pseudonymise(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from embodex_cli.main import cli

    centre_dataset(tmp_path / "centre", 2)
    res = CliRunner().invoke(
        cli,
        ["pseudonymise", str(tmp_path / "centre"), str(tmp_path / "out"), "--scope", "c-9",
         "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["episodes"] == 2 and all(p.startswith("op-") for p in body["pseudonyms"])


def _operators(ds: Dataset) -> set[str]:
    return {o for o in ds.episodes.column("operator_id").to_pylist() if o is not None}


def test_package_pseudonymise_per_contract(tmp_path: Path) -> None:
    """package --pseudonymise --scope C: operator ids are pseudonymised at packaging, scoped
    to the contract; publish checks the scope the contract's `pseudonyms: per-contract`
    asks for; no byte of the dataset, the channel, the centre's logs or the command's own
    output holds a real id or the key."""
    from click.testing import CliRunner

    from embodex_cli.errors import error_line
    from embodex_cli.main import cli

    runner = CliRunner()
    raw = tmp_path / "raw"
    assert runner.invoke(cli, ["synth", str(raw), "-n", "2", "--layout", "agibot"]).exit_code == 0
    plain, out = tmp_path / "out" / "plain", tmp_path / "out" / "week01"
    assert runner.invoke(cli, ["package", str(raw), str(plain), "--from", "agibot"]).exit_code == 0
    real = _operators(open_dataset(plain))
    assert real, "the synthetic recordings name their operators"
    res = runner.invoke(
        cli,
        ["package", str(raw), str(out), "--from", "agibot", "--pseudonymise",
         "--scope", "c-2026-001", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plain", "week01"]
    stray = runner.invoke(
        cli, ["package", str(raw), str(tmp_path / "x"), "--from", "agibot", "--scope", "c-1"]
    )
    assert isinstance(stray.exception, ConfigError), stray.output
    assert "--pseudonymise" in error_line(stray.exception)  # what the CLI prints
    assert not (tmp_path / "x").exists()
    ds = open_dataset(out)
    secret = centre_secret()
    assert _operators(ds) == {pseudonym(r, secret, "c-2026-001") for r in real}
    record = pseudonym_record(ds.meta)
    assert record is not None and record["scope"] == "c-2026-001"
    assert record["key_id"] == key_id(secret)
    # rotated per contract: another scope gives other pseudonyms for the same operators
    other = import_recordings(
        "agibot", raw, tmp_path / "other", pseudonymise=True, pseudonym_scope="c-2026-002"
    )
    assert _operators(open_dataset(other.dataset)).isdisjoint(_operators(ds))
    with pytest.raises(PrivacyError, match="pseudonymised already"):
        pseudonymise_operators(ds, tmp_path / "twice", scope="c-2026-002")

    # publish: the contract asks for per-contract pseudonyms; only the right scope goes out
    rows = ds.episodes.select(["skill", "scene_type", "robot_model"]).to_pylist()
    in_scope = {
        "skills": sorted({r["skill"] for r in rows}),
        "scene_types": sorted({r["scene_type"] for r in rows}),
        "scene_ids": None,
        "robot_models": sorted({r["robot_model"] for r in rows}),
        "required_cameras": [],
        "fps": round(ds.meta.fps),
    }
    terms, centre, _ = contract(
        tmp_path, contract_id="c-2026-001", privacy={"pseudonyms": "per-contract"}, scope=in_scope
    )
    channel = tmp_path / "channel"
    with pytest.raises(ScopeError, match="carries no pseudonym record"):
        publish(plain, str(channel), terms, centre, profile=PROFILE, now=at(5))
    with pytest.raises(ScopeError, match="pseudonymised for scope 'c-2026-002'"):
        publish(other.dataset, str(channel), terms, centre, profile=PROFILE, now=at(5))
    published = publish(out, str(channel), terms, centre, profile=PROFILE, now=at(5))
    assert published.number == 1 and len(published.episodes) == len(ds)
    logs = b"".join(
        p.read_bytes()
        for p in sorted(home_dir().rglob("*"))
        if p.is_file() and "privacy" not in p.relative_to(home_dir()).parts
    )
    written = _every_byte(out) + _every_byte(channel) + logs + res.output.encode()
    for rid in real:
        assert rid.encode() not in written
    assert secret not in written and secret.hex().encode() not in written
    # the grep can fail: the plain package and the centre's table hold them
    table = (home_dir() / "privacy" / "reidentify.jsonl").read_bytes()
    assert all(rid.encode() in _every_byte(plain) and rid.encode() in table for rid in real)
