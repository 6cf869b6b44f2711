"""Contracts as people write them: YAML in, a validated :class:`Contract` out.

YAML turns ``12.5`` into a float, which would make money inexact; the loader finds every
float in the document and says where, so the writer can quote it (``"12.5"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ContractError, EmbodexError
from ..parsing import BoundedYamlLoader, describe_validation_error, load_yaml, read_text
from .model import Contract

__all__ = [
    "PLACEHOLDER",
    "contract_data_from_yaml",
    "contract_from_data",
    "contract_from_yaml",
    "find_float",
    "load_contract_yaml",
    "strict_yaml_load",
    "yaml_mapping",
]

#: Marks what `contract init` could not fill in (the parties' keys without --centre/--buyer).
PLACEHOLDER = "REPLACE-ME"


def find_float(value: Any, path: str = "") -> tuple[str, float] | None:
    """The dotted path and value of the first float inside ``value``, or None."""
    if isinstance(value, float):
        return path or "(top)", value
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_float(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_float(item, f"{path}[{i}]")
            if found:
                return found
    return None


def strict_yaml_load(text: str) -> Any:
    """The one bounded safe loader (:func:`embodex.parsing.load_yaml`) without a file name:
    no aliases or anchors, bounded depth, no key given twice. Raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=BoundedYamlLoader)  # a SafeLoader subclass: safe


def _annotation_at(model: type[BaseModel], path: str) -> Any:
    """The type annotation of the field at dotted ``path`` in ``model`` (None: unknown, or
    inside a list or mapping), with ``X | None`` unwrapped."""
    annotation: Any = model
    for part in path.split("."):
        if "[" in part or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        field = annotation.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and type(None) in get_args(annotation):
            annotation = args[0]
    return annotation


def yaml_mapping(
    text: str,
    source: str,
    *,
    error: type[EmbodexError] = ContractError,
    what: str = "contract fields",
    exact: str = "contracts hold exact decimals",
    model: type[BaseModel] | None = None,
) -> dict[str, Any]:
    """Parse YAML ``text`` into a mapping, refusing floats (named by their dotted path).

    Raises ``error`` (default :class:`ContractError`) saying what is wrong and where — also
    for a key given twice in one mapping (which plain YAML loaders silently resolve to the
    last value). With ``model``, a float where the model wants a whole number says so
    (instead of suggesting to quote it).
    """
    data = load_yaml(text, error=error, name=source)
    if not isinstance(data, dict):
        raise error(f"{source} is not a YAML mapping of {what}")
    found = find_float(data)
    if found:
        path, value = found
        if model is not None and _annotation_at(model, path) is int:
            raise error(
                f"{source}: {path} is {value!r}; it must be a whole number",
                hint=f"Write e.g. {path.rsplit('.', 1)[-1]}: {round(value)}.",
                field=path,
            )
        raise error(
            f"{source}: {path} is {value!r}, a float; {exact}",
            hint=f'Quote it: {path.rsplit(".", 1)[-1]}: "{value!r}".',
            field=path,
        )
    return data


def contract_data_from_yaml(text: str, source: str = "contract") -> dict[str, Any]:
    """Parse contract YAML into a dict, refusing floats and unfilled placeholders.

    Raises :class:`ContractError` naming the field at fault.
    """
    data = yaml_mapping(text, source, model=Contract)
    if PLACEHOLDER in text:
        raise ContractError(
            f"{source} still has {PLACEHOLDER} placeholders (the parties' public keys)",
            hint="Fill them in with `render_template(centre=..., buyer=...)`, or paste each "
            "party's `export_identity(name)` output.",
        )
    return data


def contract_from_data(data: dict[str, Any], source: str = "contract") -> Contract:
    """Validate a contract dict. Raises :class:`ContractError` with the field at fault."""
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        raise ContractError(f"{source}: {describe_validation_error(exc)}") from None


def contract_from_yaml(text: str, source: str = "contract") -> Contract:
    """Parse and validate contract YAML. Raises :class:`ContractError` with the field at fault.

    Example::

        contract = contract_from_yaml(Path("contract.yaml").read_text())
    """
    return contract_from_data(contract_data_from_yaml(text, source), source)


def load_contract_yaml(path: str | Path) -> Contract:
    """:func:`contract_from_yaml` of a file."""
    p = Path(path)
    return contract_from_yaml(read_text(p, error=ContractError), source=str(p))
