"""`embodex remote add|list|remove|show`: named channels, like git remotes (specs/remotes.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .complete import complete_channel, complete_key, complete_remote
from .output import Output, json_option
from .render import table

if TYPE_CHECKING:
    from embodex.remotes import Remote, Scope

__all__ = ["remote"]


@click.group()
def remote() -> None:
    """Named channels: a short name for a channel URL with its contract and key.

    Every command that takes a channel then takes the name instead (`embodex pull acme`,
    `embodex publish DATASET acme`, `embodex supply status acme`); flags and the
    EMBODEX_CHANNEL, EMBODEX_CONTRACT and EMBODEX_KEY variables still win. Remotes live in
    .embodex/remotes.yaml of the project (this folder or one above it), else in
    $EMBODEX_HOME/remotes.yaml; the project's hide yours of the same name.

    \b
    Example:
      embodex remote add acme s3://acme/deliveries --contract contract.signed.json --key agibot
      embodex pull acme --into deliveries/acme
      embodex remote list
    """


def _scope(project: bool, home: bool) -> Scope | None:
    if project and home:
        raise click.UsageError(
            "--project and --home exclude each other: pass one (neither: the project's file "
            "when there is one, else yours)"
        )
    return "project" if project else "home" if home else None


@remote.command("add")
@click.argument("name")
@click.argument("url", shell_complete=complete_channel)
@click.option(
    "--contract", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The signed contract file used with this channel.",
)  # fmt: skip
@click.option("--key", metavar="NAME", shell_complete=complete_key, help="Your signing key.")
@click.option("--project", is_flag=True, help="Save it in ./.embodex/remotes.yaml.")
@click.option("--home", is_flag=True, help="Save it in $EMBODEX_HOME/remotes.yaml.")
@json_option()
def remote_add(
    name: str,
    url: str,
    contract: Path | None,
    key: str | None,
    project: bool,
    home: bool,
    as_json: bool,
) -> None:
    """Save NAME for the channel URL (a folder, file://, s3:// or hf:// URL).

    Saved in the project's .embodex/remotes.yaml when there is one (or with --project),
    else in yours ($EMBODEX_HOME/remotes.yaml).

    \b
    Example:
      embodex remote add acme s3://acme/deliveries --contract contract.signed.json --key agibot
      embodex remote add local ./deliveries/channel --project
    """
    from embodex.remotes import add_remote

    scope = _scope(project, home)
    added = add_remote(name, url, contract=contract, key=key, scope=scope)
    Output(as_json).result(added, text=lambda r: [f"added remote {r.name} → {r.url} ({r.source})"])


@remote.command("list")
@json_option()
def remote_list(as_json: bool) -> None:
    """List the remotes in effect here: the project's, then yours.

    \b
    Example:
      embodex remote list
      embodex remote list --json
    """
    from embodex.remotes import list_remotes

    Output(as_json).result(list_remotes(), text=_list_lines)


def _list_lines(remotes: list[Remote]) -> Iterator[str]:
    if not remotes:
        yield "no remotes yet (add one with `embodex remote add NAME URL`)"
        return
    yield table(
        ["name", "url", "contract", "key", "where"],
        [[r.name, r.url, r.contract or "-", r.key or "-", r.scope] for r in remotes],
    )


@remote.command("show")
@click.argument("name", shell_complete=complete_remote)
@json_option()
def remote_show(name: str, as_json: bool) -> None:
    """Show one remote: its URL, contract, key and the file that holds it.

    \b
    Example:
      embodex remote show acme
    """
    from embodex.remotes import get_remote

    Output(as_json).result(get_remote(name), text=_show_lines)


def _show_lines(r: Remote) -> Iterator[str]:
    yield f"remote    {r.name}"
    yield f"url       {r.url}"
    yield f"contract  {r.contract or '-'}"
    yield f"key       {r.key or '-'}"
    yield f"saved in  {r.source} ({r.scope})"


@remote.command("remove")
@click.argument("name", shell_complete=complete_remote)
@json_option()
def remote_remove(name: str, as_json: bool) -> None:
    """Forget a remote (the channel itself is not touched).

    \b
    Example:
      embodex remote remove acme
    """
    from embodex.remotes import remove_remote

    removed = remove_remote(name)
    Output(as_json).result(removed, text=lambda r: [f"removed remote {r.name} ({r.source})"])
