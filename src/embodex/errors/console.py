"""Errors of the review console (``embodex.console``), an application over the SDK."""

from __future__ import annotations

from .base import EmbodexError

__all__ = ["ConsoleError"]


class ConsoleError(EmbodexError):
    """The review console cannot start or serve: the port is taken, the web extra is not
    installed, the reviewer key cannot sign."""

    default_hint = (
        "The console needs its web extra (pip install 'embodex[console]'); see "
        "`build_settings(...)` and `serve(settings)`."
    )
