"""Option parts whose text or choices come from the SDK, loaded only when click needs them.

``embodex --help`` and ``--version`` must start without loading pyarrow, the video stack or
the QC rules (issue 16, fast start), yet some options list what the SDK offers (the import
formats, the review reasons). These load that list when a command's own ``--help`` is shown,
its value checked or completed — never when the command group is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

__all__ = ["LazyChoice", "LazyHelpOption"]


class LazyChoice(click.Choice):  # type: ignore[type-arg]
    """A ``click.Choice`` whose choices come from ``load()`` on first use."""

    def __init__(self, load: Callable[[], Iterable[str]], case_sensitive: bool = True) -> None:
        self._load = load
        self._loaded: tuple[str, ...] | None = None
        self.case_sensitive = case_sensitive

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        if self._loaded is None:
            self._loaded = tuple(self._load())
        return self._loaded

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        self._loaded = tuple(value)


class LazyHelpOption(click.Option):
    """A ``click.Option`` whose help text is ``help_from()``, built when help is shown."""

    def __init__(self, *args: Any, help_from: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._help_from = help_from

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if self.help is None:
            self.help = self._help_from()
        return super().get_help_record(ctx)
