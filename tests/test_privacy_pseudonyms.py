"""Operator pseudonyms (issue 17 item 4): a keyed HMAC replaces every operator id; the
key and the re-identification table stay in the centre's home; no written byte of the
dataset or the channel holds a real id."""

from __future__ import annotations

import json
import os
from pathlib import Path

from embodex.config import home_dir
from embodex.delivery import publish
from embodex.format import open_dataset
from embodex.format.pseudonyms import centre_secret, pseudonym, pseudonymise_operators

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
