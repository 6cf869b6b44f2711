"""Episodes chosen by ``FIELD=VALUE`` text conditions (``embodex export … --where``), each
value read as its column's type (``success=true``, ``frame_count=300``, ``skill=hold_cup``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from .reader import Dataset, open_dataset

__all__ = ["parse_conditions", "select_where"]


def parse_conditions(dataset: Dataset, items: Iterable[str]) -> dict[str, Any]:
    """``["success=true", "skill=hold_cup"]`` → ``{"success": True, "skill": "hold_cup"}``,
    typed by the episode table's schema. Raises ``ConfigError`` for an item that is not
    ``FIELD=VALUE`` or a value its column cannot hold."""
    conditions: dict[str, Any] = {}
    schema = dataset.episodes.schema
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise ConfigError(
                f"{item!r} is not FIELD=VALUE", hint="Write a condition as FIELD=VALUE."
            )
        kind = schema.field(field).type if field in schema.names else None
        try:
            if kind is not None and pa.types.is_boolean(kind):
                conditions[field] = {"true": True, "false": False}[value.lower()]
            elif kind is not None and pa.types.is_integer(kind):
                conditions[field] = int(value)
            elif kind is not None and pa.types.is_floating(kind):
                conditions[field] = float(value)
            else:
                conditions[field] = value
        except (KeyError, ValueError):
            raise ConfigError(
                f"{item!r}: {value!r} is not a {kind}",
                hint=f"Give {field} a value of type {kind}.",
            ) from None
    return conditions


def select_where(dataset: Dataset | str | Path, items: Iterable[str] = ()) -> Dataset:
    """The episodes of ``dataset`` matching every ``FIELD=VALUE`` condition (all of them when
    there is none), as a view. Raises ``ConfigError`` (see :func:`parse_conditions`) and
    ``SchemaError`` for a field the episode table lacks."""
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    conditions = parse_conditions(ds, items)
    return ds.select(**conditions) if conditions else ds
