"""The root of the tree and the errors every layer shares (settings, input files).

An error carries its facts as attributes — the file or URL, the episode, the key, the batch,
the field — set by its constructor, so a caller can act on them without parsing the message.
``hint`` is advice for a Python caller: it names functions and arguments in backticks
(`` `run_qc(dataset)` ``, `` `skip_bad=True` ``) and never a command-line flag; the CLI
prints its own wording from the table in ``embodex_cli.errors``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

__all__ = ["ConfigError", "EmbodexError", "RemoteError", "UnsafePathError"]

#: A location as callers hold it: a path, a ``Path``, or a URL string.
Where = str | os.PathLike[str]


def _text(where: Where | None) -> str | None:
    # str() for anything else a caller holds: building an error must never fail
    if where is None:
        return None
    return os.fspath(where) if isinstance(where, str | os.PathLike) else str(where)


class EmbodexError(Exception):
    """Root of every error embodex raises on purpose.

    Attributes (``None`` where they do not apply): ``path`` (a local file or folder), ``url``
    (a store or channel object), ``episode_id``, ``key_name`` (a key in the key store),
    ``key_id`` (an Ed25519 key id), ``batch`` (a channel batch number), ``field`` (a dotted
    field of a document, ``scope.fps``).
    """

    default_hint: ClassVar[str] = "Set EMBODEX_DEBUG=1 to see where it happened."
    #: The CLI's exit status for this error: 1, unless a script needs to tell it apart.
    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: Where | None = None,
        url: str | None = None,
        episode_id: str | None = None,
        key_name: str | None = None,
        key_id: str | None = None,
        batch: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.path = _text(path)
        self.url = url
        self.episode_id = episode_id
        self.key_name = key_name
        self.key_id = key_id
        self.batch = batch
        self.field = field

    @property
    def facts(self) -> dict[str, Any]:
        """The facts that apply (those not ``None``), for ``--json`` output and logs."""
        names = ("path", "url", "episode_id", "key_name", "key_id", "batch", "field")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def one_line(self) -> str:
        """The message and the fix, on one line (the Python caller's wording)."""
        text = f"{self.message} — {self.hint}" if self.hint else self.message
        return " ".join(text.split())

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses build their message from facts, so ``cls(*args)`` (pickle's default)
        # would not rebuild them; carry the state over instead (errors cross process pools).
        return (_restore, (type(self), self.args, self.__dict__.copy()))


def _restore(cls: type[EmbodexError], args: tuple[Any, ...], state: dict[str, Any]) -> EmbodexError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class ConfigError(EmbodexError):
    """A setting or an input file the user wrote is wrong."""

    default_hint = "Check the argument or file named above."


class RemoteError(ConfigError):
    """A named channel (a remote, ``field`` its name) is unknown, already taken, or its
    settings file (``path``) is unreadable."""

    exit_code = 2  # a name the user typed, like an unknown option
    default_hint = "Add it with `add_remote(name, url)` or pass the channel's URL."


class UnsafePathError(EmbodexError):
    """A path (``path``) named by a document or a key would leave the folder it belongs to,
    or goes through a symbolic link (the one safe-path rule of ``embodex.fsutil``)."""

    default_hint = "Do not use this data: whoever wrote it tried to reach outside its folder."
