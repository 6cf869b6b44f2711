"""Files people write for the market (price sheets, capacity, demands): YAML in, a model out.

YAML reads ``1.15`` as a float, which would make money inexact; like contracts, these files
hold quoted decimal strings, and the loader names the first float it finds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import EmbodexError
from ..trust.contract_yaml import find_float
from ..trust.documents import describe_validation_error

__all__ = ["load_yaml_model", "parse_yaml_model"]

M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(text: str, model: type[M], *, source: str, error: type[EmbodexError]) -> M:
    """Parse YAML ``text`` as ``model``; raises ``error`` naming the field at fault."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{source}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise error(f"{source} is not a YAML mapping")
    found = find_float(data)
    if found:
        path, value = found
        raise error(
            f"{source}: {path} is {value!r}, a float; amounts and multipliers are exact decimals",
            hint=f'Quote it: {path.rsplit(".", 1)[-1]}: "{value!r}".',
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{source}: {describe_validation_error(exc)}") from None


def load_yaml_model(path: str | Path, model: type[M], *, error: type[EmbodexError]) -> M:
    """:func:`parse_yaml_model` of a file (``error`` also when the file cannot be read)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {p}: {exc}") from None
    return parse_yaml_model(text, model, source=str(p), error=error)
