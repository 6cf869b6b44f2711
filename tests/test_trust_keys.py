"""Keys and identities: storage, permissions, passphrases, key ids, no leaks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from embodex.config import keys_dir
from embodex.errors import (
    KeyExistsError,
    KeyNotFoundError,
    KeyPermissionError,
    PassphraseError,
    TrustError,
)
from embodex.trust import (
    Identity,
    Signer,
    export_identity,
    generate_key,
    import_identity,
    key_id_for,
    key_is_encrypted,
    list_keys,
    load_identity,
    load_signer,
)


def test_generate_stores_private_key_0600_and_identity() -> None:
    ident = generate_key("hubei-centre", "centre")
    private = keys_dir() / "hubei-centre.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir().stat().st_mode) == 0o700
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    on_disk = json.loads((keys_dir() / "hubei-centre.pub.json").read_text())
    assert on_disk == ident.model_dump(mode="json")
    assert set(on_disk) == {"name", "role", "public_key", "key_id"}
    # key id = "ed25519:" + first 32 hex of sha256(raw public key)
    raw = base64.b64decode(ident.public_key)
    assert len(raw) == 32
    assert ident.key_id == "ed25519:" + hashlib.sha256(raw).hexdigest()[:32] == key_id_for(raw)


def test_signer_signs_what_the_identity_verifies() -> None:
    generate_key("c", "centre")
    signer = load_signer("c")
    sig = signer.sign(b"hello")
    assert signer.identity.verifies(sig, b"hello")
    assert not signer.identity.verifies(sig, b"hellO")
    # independently, with cryptography's own public key object
    pub = Ed25519PublicKey.from_public_bytes(signer.identity.raw_public_key())
    pub.verify(sig, b"hello")


def test_private_key_never_leaks() -> None:
    generate_key("c", "centre")
    signer = load_signer("c")
    pem = (keys_dir() / "c.key").read_bytes()
    secret_b64 = b"".join(pem.splitlines()[1:-1]).decode()
    raw = serialization.load_pem_private_key(pem, None).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    texts = [repr(signer), str(signer), export_identity("c").decode(), repr(list_keys())]
    for text in texts:
        assert secret_b64 not in text and raw.hex() not in text
        assert base64.b64encode(raw).decode() not in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_encrypted_key_needs_the_right_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    generate_key("b", "buyer", passphrase="correct horse")
    assert (keys_dir() / "b.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert key_is_encrypted("b")
    with pytest.raises(PassphraseError, match="no passphrase"):
        load_signer("b")
    with pytest.raises(PassphraseError, match="wrong passphrase") as exc:
        load_signer("b", "wrong")
    assert "correct horse" not in exc.value.one_line() and "wrong" in exc.value.one_line()
    assert load_signer("b", "correct horse").key_id == load_identity("b").key_id
    monkeypatch.setenv("EMBODEX_KEY_PASSPHRASE", "correct horse")
    assert load_signer("b").name == "b"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="interop check needs openssl")
def test_encrypted_key_is_standard_pkcs8_that_openssl_reads() -> None:
    ident = generate_key("b", "buyer", passphrase="pw-123")
    out = subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(keys_dir() / "b.key"),
            "-passin",
            "pass:pw-123",
            "-pubout",
            "-outform",
            "DER",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert out[-32:] == ident.raw_public_key()


def test_loose_permissions_are_refused_with_the_fix() -> None:
    generate_key("c", "centre")
    path = keys_dir() / "c.key"
    os.chmod(path, 0o644)
    with pytest.raises(KeyPermissionError) as exc:
        load_signer("c")
    assert f"chmod 600 {path}" in exc.value.one_line()
    assert "0644" in exc.value.one_line()
    os.chmod(path, 0o600)
    assert load_signer("c").name == "c"


def test_names_and_roles_are_checked() -> None:
    generate_key("c", "centre")
    with pytest.raises(KeyExistsError):
        generate_key("c", "buyer")
    for bad in ("../evil", "a/b", "", ".hidden"):
        with pytest.raises(KeyNotFoundError, match="not a valid key name"):
            generate_key(bad, "centre")
    with pytest.raises(TrustError, match="unknown role"):
        generate_key("d", "admin")
    with pytest.raises(KeyNotFoundError):
        load_signer("nobody")
    assert not (keys_dir() / "d.key").exists()


def test_identity_files_are_validated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ident = Signer.ephemeral("x", "buyer").identity
    other = Signer.ephemeral("y", "buyer").identity
    data = ident.model_dump(mode="json")
    good = tmp_path / "x.pub.json"
    good.write_text(json.dumps(data))
    assert load_identity(good) == ident
    for broken in (
        {**data, "key_id": other.key_id},  # key id of another key
        {**data, "public_key": data["public_key"][:-4]},  # truncated key
        {**data, "extra": 1},  # unknown field
        {**data, "role": "admin"},
    ):
        bad = tmp_path / "bad.pub.json"
        bad.write_text(json.dumps(broken))
        with pytest.raises(TrustError, match="not a valid embodex identity"):
            load_identity(bad)


def test_import_trusts_a_counterparty_once() -> None:
    theirs = Signer.ephemeral("agibot", "buyer").identity
    path = keys_dir().parent / "agibot.pub.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(theirs.to_json_bytes())
    assert import_identity(path) == theirs
    assert import_identity(path) == theirs  # again: no-op
    infos = {i.identity.name: i for i in list_keys()}
    assert infos["agibot"].private_key_path is None
    impostor = Signer.ephemeral("agibot", "buyer").identity
    path.write_bytes(impostor.to_json_bytes())
    with pytest.raises(KeyExistsError, match="different key"):
        import_identity(path)
    assert load_identity("agibot") == theirs


def test_identity_round_trips_through_json() -> None:
    ident = Signer.ephemeral("x", "reviewer").identity
    assert Identity.model_validate_json(ident.to_json_bytes()) == ident


def test_key_id_example_from_the_spec() -> None:
    assert key_id_for(b"\x00" * 32) == "ed25519:66687aadf862bd776c8fc18b8e9f8e20"


def test_a_file_named_like_a_key_neither_shadows_nor_impersonates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from embodex_cli.main import main

    real = generate_key("hub", "centre")
    planted = Signer.ephemeral("hub", "centre").identity
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hub").write_bytes(planted.to_json_bytes())  # ./hub: someone else's key
    assert load_identity("hub") == real  # a bare name is a key name
    assert load_signer("hub").identity == real
    assert json.loads(export_identity("hub"))["key_id"] == real.key_id
    # a path is a path: with a "/" or ".json"
    assert load_identity("./hub") == planted
    (tmp_path / "hub.pub.json").write_bytes(planted.to_json_bytes())
    assert load_identity("hub.pub.json") == planted
    with pytest.raises(KeyNotFoundError, match="identity file missing.json does not exist"):
        load_identity("missing.json")
    (tmp_path / "nobody").write_bytes(planted.to_json_bytes())
    with pytest.raises(KeyNotFoundError, match="no identity named 'nobody'"):
        load_identity("nobody")
    try:
        main(["keys", "show", "hub", "--json"])
    except SystemExit as exc:
        assert not exc.code
    assert json.loads(capsys.readouterr().out)["key_id"] == real.key_id
