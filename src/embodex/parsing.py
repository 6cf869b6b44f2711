"""The one parsing boundary: every document embodex reads from a file or a channel.

A document arrives as bytes someone else wrote: a dataset's ``manifest.json``, a channel
head, a contract, a price sheet. Before any of it reaches a model it goes through here:

* :func:`read_bounded` — the size is checked *before* reading (a head padded to hundreds
  of MB is refused on its ``stat``, not read into memory) and the read stops at the bound;
* :func:`decode_text` — strict UTF-8; bad bytes are an error naming the file and offset;
* :func:`load_json` — bounded nesting depth (Python's parser would die with
  ``RecursionError``); :func:`load_yaml` — one safe loader for every YAML file, refusing
  aliases and anchors (a "billion laughs" document expands exponentially), keys given twice,
  nesting deeper than :data:`MAX_DEPTH` and text over its size bound;
* :func:`parse_document` — the above, then validation against a pydantic model; any schema
  violation is raised as the *caller's* project error, naming the file and the field.

This module imports only the standard library, pydantic, yaml and :mod:`embodex.errors`,
so every layer may use it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import EmbodexError

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_HEAD_BYTES",
    "MAX_INPUT_BYTES",
    "BoundedYamlLoader",
    "YamlRefused",
    "decode_text",
    "describe_validation_error",
    "load_json",
    "load_yaml",
    "parse_document",
    "read_bounded",
    "read_text",
]

M = TypeVar("M", bound=BaseModel)

#: Largest metadata document (a batch manifest of ~100,000 episodes is ~40 MiB).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
#: Largest channel head: a few hundred bytes signed; anything near this bound is padding.
MAX_HEAD_BYTES = 64 * 1024
#: Largest file a person writes (contract, demand, price sheet, profile, sidecar).
MAX_INPUT_BYTES = 4 * 1024 * 1024
#: Deepest nesting of arrays and mappings any embodex document uses, with a wide margin.
MAX_DEPTH = 64


def _name(source: Path | str | None, name: str | None) -> str:
    if name is not None:
        return name
    return str(source) if source is not None else "document"


def read_bounded(
    path: str | Path,
    *,
    limit: int = MAX_DOCUMENT_BYTES,
    error: type[EmbodexError] = EmbodexError,
    name: str | None = None,
    follow_symlinks: bool = True,
    directory_is_missing: bool = False,
) -> bytes:
    """The bytes of ``path``, refused when larger than ``limit``.

    The size is checked on the open file before reading, and the read stops at ``limit +
    1`` bytes whatever the file does meanwhile (a file growing under the reader). With
    ``follow_symlinks=False`` a symbolic link is refused (datasets and channels hold plain
    files). Raises ``error`` naming the file; a missing file raises ``FileNotFoundError``
    for callers that treat it apart (so does a directory with ``directory_is_missing``: a
    store's object replaced by a folder is no object).
    """
    where = _name(path, name)
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if not follow_symlinks and Path(path).is_symlink():
            raise error(
                f"{where} is a symbolic link; embodex reads only plain files here",
                hint="Replace the link with the file it points to (or remove it).",
            ) from None
        raise error(f"cannot read {where}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        if directory_is_missing:
            raise FileNotFoundError(errno.ENOENT, "a directory, not a file", str(path))
        raise error(f"{where} is a directory, not a file")
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise error(_too_large(where, size, limit), hint=_TOO_LARGE_HINT)
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(_too_large(where, len(data), limit), hint=_TOO_LARGE_HINT)
    return data


_TOO_LARGE_HINT = "This is not a document embodex wrote; do not use it (tell whoever sent it)."


def _too_large(where: str, size: int, limit: int) -> str:
    return f"{where} is {size} bytes or more, over the {limit}-byte bound for this document"


def read_text(
    path: str | Path,
    *,
    error: type[EmbodexError],
    limit: int = MAX_INPUT_BYTES,
    name: str | None = None,
    missing_hint: str | None = None,
) -> str:
    """A file a person wrote, as text: bounded (:func:`read_bounded`), strict UTF-8.

    Raises ``error`` naming the file, also when it does not exist.
    """
    where = _name(path, name)
    try:
        data = read_bounded(path, limit=limit, error=error, name=where)
    except FileNotFoundError:
        raise error(f"{where} does not exist", hint=missing_hint) from None
    return decode_text(data, error=error, name=where)


def decode_text(data: bytes, *, error: type[EmbodexError], name: str) -> str:
    """``data`` as strict UTF-8 text; bad bytes are an ``error`` naming file and offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{name} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})",
            hint="Save the file as UTF-8.",
        ) from None


def _depth_over(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/dicts deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def load_json(
    data: bytes | str,
    *,
    error: type[EmbodexError],
    name: str,
    max_depth: int = MAX_DEPTH,
    limit: int = MAX_DOCUMENT_BYTES,
) -> Any:
    """Parse JSON with bounded size and nesting depth; raises ``error`` naming ``name``."""
    if len(data) > limit:
        raise error(_too_large(name, len(data), limit), hint=_TOO_LARGE_HINT)
    text = decode_text(data, error=error, name=name) if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{name} nests deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise error(f"{name} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if _depth_over(value, max_depth):
        raise error(f"{name} nests deeper than {max_depth} levels")
    return value


# -- YAML ------------------------------------------------------------------------------------


class YamlRefused(yaml.YAMLError):
    """A YAML construct embodex refuses (alias, anchor, depth, a key given twice)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class BoundedYamlLoader(yaml.SafeLoader):
    """The safe loader without aliases, anchors or deep nesting, refusing a key given twice.

    Aliases are what a "billion laughs" document multiplies; files people write for embodex
    never need them. Depth is checked as nodes are composed, before the recursive
    constructor could overflow the stack.
    """

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused(f"line {line}: aliases (*{event.anchor}) are not allowed", line)
        if getattr(event, "anchor", None) is not None:
            raise YamlRefused(f"line {line}: anchors (&{event.anchor}) are not allowed", line)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise YamlRefused(f"line {line}: nests deeper than {self.max_depth} levels", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise YamlRefused(
                        f"line {line}: {key!r} is given twice in the same mapping "
                        f"(first on line {seen[key]})",
                        line,
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def load_yaml(
    data: bytes | str,
    *,
    error: type[EmbodexError],
    name: str,
    limit: int = MAX_INPUT_BYTES,
) -> Any:
    """Parse YAML with the bounded safe loader; raises ``error`` naming ``name`` and the line.

    Refused: text over ``limit`` bytes, bytes that are not UTF-8, aliases and anchors,
    nesting deeper than :data:`MAX_DEPTH`, a key given twice in one mapping, invalid YAML.
    """
    if len(data) > limit:
        raise error(_too_large(name, len(data), limit), hint=_TOO_LARGE_HINT)
    text = decode_text(data, error=error, name=name) if isinstance(data, bytes) else data
    try:
        return yaml.load(text, Loader=BoundedYamlLoader)  # a SafeLoader subclass: safe
    except YamlRefused as exc:
        hint = (
            "Keep one of them: which value was meant is not for embodex to guess."
            if "given twice" in exc.message
            else "Write the values out in full."
        )
        raise error(f"{name}: {exc.message}", hint=hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{name}:{where} is not valid YAML") from None
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise error(f"{name} nests too deeply") from None


# -- documents against models -----------------------------------------------------------------


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``field.path: message`` (one line)."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    if err["type"] == "missing":
        return f"missing field {loc!r}"
    msg = err["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return (f"{loc}: {msg}" if loc else msg) + tail


def parse_document(
    source: bytes | str | Path,
    model: type[M],
    error: type[EmbodexError],
    *,
    name: str | None = None,
    fmt: Literal["json", "yaml"] = "json",
    limit: int = MAX_DOCUMENT_BYTES,
    follow_symlinks: bool = True,
    hint: str | None = None,
) -> M:
    """Read (a :class:`~pathlib.Path`) or take (bytes, text) one document and validate it as
    ``model``; every problem — too large, not UTF-8, not JSON/YAML, too deep, a field that
    breaks the schema — is raised as ``error`` naming ``name`` (default: the path) and the
    field. ``hint`` replaces the error's default hint for schema problems.

    Example::

        manifest = parse_document(root / "manifest.json", Manifest, CorruptDatasetError)
    """
    where = _name(source if isinstance(source, Path) else None, name)
    if isinstance(source, Path):
        data: bytes | str = read_bounded(
            source, limit=limit, error=error, name=where, follow_symlinks=follow_symlinks
        )
    else:
        data = source
        if len(data) > limit:
            raise error(_too_large(where, len(data), limit), hint=_TOO_LARGE_HINT)
    try:
        if fmt == "yaml":
            value = load_yaml(data, error=error, name=where, limit=limit)
            return model.model_validate(value)
        if isinstance(data, bytes):
            decode_text(data, error=error, name=where)  # names the offset of a bad byte
        # pydantic's own JSON parser bounds nesting depth (json_invalid "recursion limit")
        return model.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            why = str(err["msg"]).removeprefix("Invalid JSON: ")
            raise error(f"{where} is not valid JSON: {why}") from None
        raise error(f"{where}: {describe_validation_error(exc)}", hint=hint) from None
