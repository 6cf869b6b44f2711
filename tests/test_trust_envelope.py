"""DSSE envelopes and payload rules: RFC 8785 vectors, PAE, tampering, interop, QC manifests."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embodex.canonical import canonical_json
from embodex.errors import PayloadError, SignatureError, TrustError
from embodex.trust import (
    PAYLOAD_TYPES,
    Envelope,
    Identity,
    Signer,
    add_signature,
    open_envelope,
    pae,
    sign_payload,
    sign_qc_manifest,
    verify_envelope,
    verify_qc_manifest,
)
from embodex.trust.payload import parse_payload

from ._trust import qc_manifest

RECEIPT = PAYLOAD_TYPES["receipt"]
CENTRE = Signer.ephemeral("hubei-centre", "centre")
BUYER = Signer.ephemeral("agibot", "buyer")
OUTSIDER = Signer.ephemeral("mallory", "buyer")

# --- RFC 8785 test vectors, written by hand from the RFC ---------------------------------

# RFC 8785 §3.2.2: the example input and its canonical form.
RFC_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)

# RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON number text.
RFC_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def test_rfc8785_example_document() -> None:
    assert canonical_json(json.loads(RFC_INPUT)).decode("utf-8") == RFC_OUTPUT


@pytest.mark.parametrize(("bits", "text"), RFC_NUMBERS)
def test_rfc8785_number_serialisation(bits: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == text.encode()


def test_rfc8785_property_sorting_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: keys sort by their UTF-16 code units, so the emoji (a surrogate
    # pair, 0xD83D…) sorts before U+FB33 although its code point is larger.
    doc = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(doc)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_canonical_json_is_stable_whatever_the_input_order() -> None:
    a = {"b": [1, {"y": "2", "x": None}], "a": True}
    b = json.loads(json.dumps(a, indent=4, sort_keys=False)[::1])
    assert canonical_json(a) == canonical_json(dict(reversed(list(b.items()))))
    assert canonical_json(a) == b'{"a":true,"b":[1,{"x":null,"y":"2"}]}'


# --- PAE and signing ----------------------------------------------------------------------


def test_pae_is_the_dsse_v1_encoding() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("t", b"") == b"DSSEv1 1 t 0 "
    assert pae("\u00e9", b"x") == "DSSEv1 2 \u00e9 1 x".encode()  # byte lengths


def test_sign_verify_and_countersign() -> None:
    env = sign_payload(RECEIPT, {"batch": 3, "hours": "12.50"}, CENTRE)
    assert base64.b64decode(env.payload) == b'{"batch":3,"hours":"12.50"}'
    assert verify_envelope(env, [CENTRE.identity], payload_type=RECEIPT) == base64.b64decode(
        env.payload
    )
    both = add_signature(env, BUYER)
    assert both.keyids == [CENTRE.key_id, BUYER.key_id]
    trusted = [CENTRE.identity, BUYER.identity]
    assert open_envelope(
        both, trusted, payload_type=RECEIPT, required_keyids=[CENTRE.key_id, BUYER.key_id]
    ) == {"batch": 3, "hours": "12.50"}
    with pytest.raises(SignatureError, match="missing the signature of agibot"):
        verify_envelope(env, trusted, payload_type=RECEIPT, required_keyids=[BUYER.key_id])
    with pytest.raises(SignatureError, match="already signed"):
        add_signature(both, BUYER)


def test_wrong_key_wrong_type_and_unknown_signers() -> None:
    env = sign_payload(RECEIPT, {"a": "1"}, OUTSIDER)
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        verify_envelope(env, [CENTRE.identity], payload_type=RECEIPT)
    with pytest.raises(SignatureError, match="expected a document of type"):
        verify_envelope(env, [OUTSIDER.identity], payload_type=PAYLOAD_TYPES["contract"])
    # a signature by an unknown key is ignored (DSSE); the trusted one still counts
    both = add_signature(sign_payload(RECEIPT, {"a": "1"}, CENTRE), OUTSIDER)
    assert verify_envelope(both, [CENTRE.identity], payload_type=RECEIPT)
    # a signature claiming a trusted key id but made by another key fails hard
    forged = sign_payload(RECEIPT, {"a": "1"}, OUTSIDER)
    forged = forged.model_copy(
        update={"signatures": [forged.signatures[0].model_copy(update={"keyid": CENTRE.key_id})]}
    )
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope(forged, [CENTRE.identity], payload_type=RECEIPT)


def test_floats_and_non_json_are_refused_with_their_path() -> None:
    with pytest.raises(PayloadError, match=r"float 12\.5 at \$\.price\.amount"):
        sign_payload(RECEIPT, {"price": {"amount": 12.5}}, CENTRE)
    with pytest.raises(PayloadError, match=r"\$\.rows\[1\]"):
        sign_payload(RECEIPT, {"rows": [1, 0.5]}, CENTRE)
    with pytest.raises(PayloadError, match="JSON-safe range"):
        sign_payload(RECEIPT, {"t": 1_700_000_000_000_000_000}, CENTRE)
    with pytest.raises(PayloadError, match="not a JSON value"):
        sign_payload(RECEIPT, {"when": object()}, CENTRE)
    with pytest.raises(PayloadError, match="unknown payload type"):
        sign_payload("application/json", {"a": 1}, CENTRE)
    with pytest.raises(PayloadError, match="not RFC 8785 canonical"):
        sign_payload(RECEIPT, b'{"b":1, "a":2}', CENTRE)


def test_strict_parsing_of_verified_payloads() -> None:
    assert parse_payload(b'{"a":[1,"2"]}') == {"a": [1, "2"]}
    for bad, msg in (
        (b'{"a":1.0}', "float"),
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"a":NaN}', "not JSON"),
        (b'{"a": 1}', "not RFC 8785"),
        (b"\xff", "not UTF-8"),
    ):
        with pytest.raises(PayloadError, match=msg):
            parse_payload(bad)


def test_verification_happens_before_parsing() -> None:
    """A payload that would not even parse is reported as a bad signature, not a parse error."""
    env = sign_payload(RECEIPT, {"a": "1"}, CENTRE)
    garbage = base64.b64encode(b"{not json").decode()
    with pytest.raises(SignatureError):
        open_envelope(
            env.model_copy(update={"payload": garbage}), [CENTRE.identity], payload_type=RECEIPT
        )


def test_non_canonical_base64_is_refused() -> None:
    env = sign_payload(RECEIPT, {"a": "12"}, CENTRE)  # 10 bytes -> base64 ends in "=="
    text = env.payload
    assert text.endswith("=")
    # same bytes, different spelling: unused low bits set in the last character
    last = text.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = alphabet[alphabet.index(last) + 1]
    spelled = text.rstrip("=")[:-1] + sibling + "=" * (len(text) - len(text.rstrip("=")))
    assert base64.b64decode(spelled) == base64.b64decode(text)
    with pytest.raises(SignatureError, match="not canonical base64"):
        verify_envelope(
            env.model_copy(update={"payload": spelled}), [CENTRE.identity], payload_type=RECEIPT
        )
    # the unpadded spelling (DSSE allows it) still verifies
    unpadded = env.model_copy(update={"payload": text.rstrip("=")})
    assert verify_envelope(unpadded, [CENTRE.identity], payload_type=RECEIPT)


PAYLOADS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(value=PAYLOADS, where=st.integers(min_value=0), bit=st.integers(0, 7), target=st.booleans())
def test_flipping_any_bit_of_payload_or_signature_fails(
    value: Any, where: int, bit: int, target: bool
) -> None:
    env = sign_payload(RECEIPT, {"v": value}, CENTRE)
    assert open_envelope(env, [CENTRE.identity], payload_type=RECEIPT) == {"v": value}
    field = "payload" if target else "sig"
    raw = bytearray(base64.b64decode(env.payload if target else env.signatures[0].sig))
    raw[where % len(raw)] ^= 1 << bit
    flipped = base64.b64encode(bytes(raw)).decode()
    if target:
        env = env.model_copy(update={"payload": flipped})
    else:
        env = env.model_copy(
            update={"signatures": [env.signatures[0].model_copy(update={field: flipped})]}
        )
    with pytest.raises(SignatureError):
        verify_envelope(env, [CENTRE.identity], payload_type=RECEIPT)


@settings(max_examples=80, deadline=None)
@given(where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_flipping_any_bit_of_the_envelope_file_fails(where: int, bit: int) -> None:
    data = bytearray(sign_payload(RECEIPT, {"hours": "12.5"}, CENTRE).to_json_bytes())
    i = where % len(data)
    data[i] ^= 1 << bit
    with pytest.raises((SignatureError, PayloadError)):
        open_envelope(bytes(data), [CENTRE.identity], payload_type=RECEIPT)


# --- interop with securesystemslib's DSSE implementation ---------------------------------


def _sslib_key(signer: Signer) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from securesystemslib.signer import SSlibKey

    pub = Ed25519PublicKey.from_public_bytes(signer.identity.raw_public_key())
    return SSlibKey.from_crypto(pub, keyid=signer.key_id)


def test_securesystemslib_verifies_our_envelopes() -> None:
    from securesystemslib.dsse import Envelope as SslEnvelope

    env = add_signature(sign_payload(RECEIPT, {"batch": 1}, CENTRE), BUYER)
    theirs = SslEnvelope.from_dict(env.to_dict())
    assert theirs.pae() == pae(RECEIPT, b'{"batch":1}')
    accepted = theirs.verify([_sslib_key(CENTRE), _sslib_key(BUYER)], 2)
    assert set(accepted) == {CENTRE.key_id, BUYER.key_id}


def test_we_verify_securesystemslib_envelopes() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.dsse import Envelope as SslEnvelope
    from securesystemslib.signer import CryptoSigner

    key = Ed25519PrivateKey.generate()
    ours = Signer(key, Identity.from_public_key("x", "centre", key.public_key()))
    theirs_signer = CryptoSigner(key, _sslib_key(ours))
    env = SslEnvelope(payload=canonical_json({"ok": True}), payload_type=RECEIPT, signatures={})
    env.sign(theirs_signer)
    assert open_envelope(env.to_dict(), [ours.identity], payload_type=RECEIPT) == {"ok": True}


# --- QC manifests ---------------------------------------------------------------------------


def test_qc_manifest_is_signed_by_the_centre() -> None:
    manifest = qc_manifest()
    env = sign_qc_manifest(manifest, CENTRE)
    assert env.payloadType == PAYLOAD_TYPES["qc-manifest"]
    assert verify_qc_manifest(env, CENTRE.identity) == manifest
    assert verify_qc_manifest(env.to_json_bytes(), CENTRE.identity) == manifest
    with pytest.raises(SignatureError):
        verify_qc_manifest(env, BUYER.identity)
    with pytest.raises(TrustError, match="signed by the collection centre"):
        sign_qc_manifest(manifest, BUYER)
    with pytest.raises(PayloadError, match=r"aggregates\.overall\.pass_rate"):
        sign_qc_manifest({"aggregates": {"overall": {"pass_rate": 0.97}}}, CENTRE)
    tampered = json.loads(base64.b64decode(env.payload))
    tampered["aggregates"]["overall"]["pass_rate"] = "0.99"
    forged = env.model_copy(update={"payload": base64.b64encode(canonical_json(tampered)).decode()})
    with pytest.raises(SignatureError, match="altered"):
        verify_qc_manifest(forged, CENTRE.identity)


def test_envelope_structure_errors_are_signature_errors() -> None:
    for bad in (b"not json", b"{}", b'{"payloadType":"x","payload":"","signatures":[],"z":1}'):
        with pytest.raises(SignatureError, match="not a DSSE envelope"):
            Envelope.parse(bad)
    empty = Envelope(payloadType=RECEIPT, payload="e30=", signatures=[])
    with pytest.raises(SignatureError, match="no signature"):
        verify_envelope(empty, [CENTRE.identity], payload_type=RECEIPT)
