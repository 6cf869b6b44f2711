"""The rules every signed payload follows: canonical JSON (RFC 8785) without floats.

Floats are banned because two programs can print the same binary float differently and
because money must be exact: amounts and rates travel as decimal strings (``"12.50"``),
times as ISO 8601 strings or integer nanoseconds written as strings. Integers must fit in
the JSON-safe range (|n| < 2^53), as RFC 8785 requires.
"""

from __future__ import annotations

import json
from typing import Any

from ..canonical import canonical_json
from ..errors import PayloadError

__all__ = ["MAX_SAFE_INT", "check_payload_value", "encode_payload", "parse_payload"]

MAX_SAFE_INT = 2**53 - 1


def check_payload_value(value: Any, path: str = "$") -> None:
    """Raise :class:`PayloadError` naming the first float (or non-JSON value) inside ``value``.

    Allowed: dict with str keys, list, str, int (|n| <= 2^53-1), bool, None.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise PayloadError(
                f"integer at {path} is outside the JSON-safe range (|n| < 2^53)",
                hint="Write large integers (e.g. nanosecond times) as strings.",
                field=path,
            )
        return
    if isinstance(value, float):
        raise PayloadError(
            f"float {value!r} at {path}: signed payloads may not contain floats", field=path
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(f"non-string key {key!r} at {path}", field=path)
            check_payload_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_payload_value(item, f"{path}[{i}]")
        return
    raise PayloadError(
        f"{type(value).__name__} at {path} is not a JSON value",
        hint="Convert it first (Decimal and dates to strings, e.g. model_dump(mode='json')).",
        field=path,
    )


def encode_payload(value: Any) -> bytes:
    """Check the rules and return the RFC 8785 canonical JSON bytes of ``value``."""
    check_payload_value(value)
    return canonical_json(value)


def _reject_float(text: str) -> Any:
    raise PayloadError(f"float {text} in payload: signed payloads may not contain floats")


def _reject_constant(text: str) -> Any:
    raise PayloadError(f"{text} in payload is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PayloadError(f"duplicate key {key!r} in payload")
        out[key] = value
    return out


def parse_payload(data: bytes) -> Any:
    """Parse payload bytes strictly: UTF-8 canonical JSON, no floats, no duplicate keys.

    Call only on bytes whose signature has been verified. Raises :class:`PayloadError`.
    """
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates,
        )
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON: {exc.msg} at byte {exc.pos}") from None
    except RecursionError:  # even a signed payload may not crash the reader
        raise PayloadError("payload nests too deeply") from None
    check_payload_value(value)
    if canonical_json(value) != data:
        raise PayloadError(
            "payload is not RFC 8785 canonical JSON",
            hint="Sign payloads with embodex (sign_payload), which canonicalises them.",
        )
    return value
