"""Typed signed documents: a pydantic model in, an envelope out, and back (verified first).

A model is signed as ``model_dump(mode="json")``; opening one verifies the envelope, parses
the payload strictly, validates it against the model and insists that the model writes the
same JSON back, so the signed bytes and the object in memory can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import PayloadError
from ..parsing import describe_validation_error
from .envelope import PAYLOAD_TYPES, Envelope, open_envelope, sign_payload
from .keys import Identity, Signer

__all__ = ["describe_validation_error", "model_from_payload", "open_model", "sign_model"]

M = TypeVar("M", bound=BaseModel)


def model_from_payload(model: type[M], payload: dict[str, Any], what: str) -> M:
    """Validate a verified payload as ``model``; raises :class:`PayloadError`."""
    try:
        obj = model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(f"{what}: {describe_validation_error(exc)}") from None
    if obj.model_dump(mode="json") != payload:
        raise PayloadError(
            f"{what} is not in embodex's normal form (defaults or number spelling differ)",
            hint="Sign documents with embodex, which writes them in normal form.",
        )
    return obj


def sign_model(kind: str, obj: BaseModel, signer: Signer) -> Envelope:
    """Sign ``obj`` as a document of ``PAYLOAD_TYPES[kind]``."""
    return sign_payload(PAYLOAD_TYPES[kind], obj.model_dump(mode="json"), signer)


def open_model(
    kind: str,
    model: type[M],
    envelope: Envelope | dict[str, Any] | bytes | str,
    trusted: Sequence[Identity],
    *,
    required_keyids: Iterable[str] | None = None,
) -> M:
    """Verify ``envelope`` (type ``PAYLOAD_TYPES[kind]``), then parse it as ``model``."""
    payload = open_envelope(
        envelope, trusted, payload_type=PAYLOAD_TYPES[kind], required_keyids=required_keyids
    )
    return model_from_payload(model, payload, kind)
