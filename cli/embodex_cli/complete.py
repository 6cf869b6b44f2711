"""Shell completion: key names, remote (channel) names and dataset folders.

Enable it with click's variable, e.g. in ~/.bashrc ``eval "$(_EMBODEX_COMPLETE=bash_source
embodex)"`` (zsh_source, fish_source for the other shells). Each callback reads file names
only — no layer of the SDK is loaded — so a TAB answers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

__all__ = [
    "attach_completion",
    "complete_channel",
    "complete_dataset",
    "complete_key",
    "complete_remote",
]

#: The file every embodex dataset folder holds (embodex.format.layout.META_FILE; a test
#: checks the two agree — importing the format layer here would make every TAB slow).
DATASET_MARKER = "embodex.json"


def complete_key(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Names of the keys in your key store."""
    from embodex.config import key_names

    return [CompletionItem(n) for n in key_names() if n.startswith(incomplete)]


def complete_remote(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Names of the remotes in effect here (the project's and your own)."""
    from embodex.errors import EmbodexError
    from embodex.remotes import list_remotes

    try:
        remotes = list_remotes()
    except EmbodexError:  # a damaged remotes file: complete nothing rather than fail
        return []
    return [CompletionItem(r.name, help=r.url) for r in remotes if r.name.startswith(incomplete)]


def complete_channel(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """A channel: a remote's name, or a folder."""
    return complete_remote(ctx, param, incomplete) + _folders(incomplete, datasets=False)


def complete_dataset(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Folders, the dataset folders first (those holding an embodex dataset)."""
    return _folders(incomplete, datasets=True)


def _folders(incomplete: str, *, datasets: bool) -> list[CompletionItem]:
    if "://" in incomplete:
        return []  # object-store URLs are not listed from a shell
    head, sep, prefix = incomplete.rpartition("/")
    base = Path(head or "/").expanduser() if sep else Path(".")
    try:
        entries = sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith(prefix))
    except OSError:
        return []
    found: list[tuple[bool, CompletionItem]] = []
    for entry in entries:
        if entry.name.startswith(".") and not prefix.startswith("."):
            continue  # hidden folders only when asked for, as shells do
        value = f"{head}/{entry.name}" if sep else entry.name
        is_dataset = datasets and (entry / DATASET_MARKER).is_file()
        found.append(
            (not is_dataset, CompletionItem(value, help="dataset" if is_dataset else None))
        )
    # datasets first, then the folders that may hold them
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


#: Parameters completed by name wherever a command declares them without a completion of its
#: own: every DATASET argument, every --key option, the NAME of `keys show|export`.
_BY_NAME = {"dataset": complete_dataset, "key": complete_key}
_KEY_NAME_COMMANDS = {"show", "export"}


def attach_completion(group: click.Group, path: tuple[str, ...] = ()) -> None:
    """Give the parameters of every command under ``group`` the completion their name calls
    for (one place, so a new command's DATASET or --key completes without asking)."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            attach_completion(command, (*path, name))
            continue
        for param in command.params:
            callback = _BY_NAME.get(param.name or "")
            if path == ("keys",) and name in _KEY_NAME_COMMANDS and param.name == "name":
                callback = complete_key
            # click keeps a parameter's own callback in _custom_shell_complete (click >= 8.0)
            if callback is not None and getattr(param, "_custom_shell_complete", None) is None:
                param._custom_shell_complete = callback
