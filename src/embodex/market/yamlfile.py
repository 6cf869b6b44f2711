"""Files people write for the market (price sheets, capacity, demands): YAML in, a model out.

YAML reads ``1.15`` as a float, which would make money inexact; like contracts, these files
hold quoted decimal strings, and the loader names the first float it finds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ..contract.yamlio import yaml_mapping
from ..errors import EmbodexError
from ..parsing import describe_validation_error, read_text

__all__ = ["load_yaml_model", "parse_yaml_model"]

M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(text: str, model: type[M], *, source: str, error: type[EmbodexError]) -> M:
    """Parse YAML ``text`` as ``model``; raises ``error`` naming the field at fault."""
    data = yaml_mapping(
        text,
        source,
        error=error,
        what="fields",
        exact="amounts and multipliers are exact decimals",
        model=model,  # a float where a whole number belongs says so, not "quote it"
    )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{source}: {describe_validation_error(exc)}") from None


def load_yaml_model(path: str | Path, model: type[M], *, error: type[EmbodexError]) -> M:
    """:func:`parse_yaml_model` of a file (``error`` also when the file cannot be read)."""
    p = Path(path)
    text = read_text(p, error=error)
    return parse_yaml_model(text, model, source=str(p), error=error)
