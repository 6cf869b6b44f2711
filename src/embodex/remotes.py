"""Named channels, like git remotes or AWS profiles: a short name for a channel URL, with the
signed contract and the signing key used with it (specs/remotes.md).

Two files hold them, both ``remotes.yaml``:

* the project's, ``.embodex/remotes.yaml`` in the working folder or the nearest folder above
  it that has one — it can be committed with the project, so its contract paths (and folder
  channels) are kept relative to the project's folder;
* the user's, ``$EMBODEX_HOME/remotes.yaml``, with absolute paths.

A name in the project's file hides the same name in the user's. When a command resolves a
channel, flags win, then the environment (``EMBODEX_CHANNEL``, ``EMBODEX_CONTRACT``,
``EMBODEX_KEY``), then the remote's own settings.

Settings rather than delivery logic: this module reads and writes two small files and
imports nothing but the base layer, so shell completion of remote names stays fast.

Example::

    add_remote("acme", "s3://acme/deliveries", contract=Path("contract.signed.json"),
               key="agibot")
    target = resolve_channel("acme")          # the URL, contract and key to use
    pull(target.url, target.contract, load_signer(target.key), "deliveries/acme")
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .config import PROJECT_REMOTES, channel_env, contract_env, key_env, remotes_file
from .errors import RemoteError
from .fsutil import FileLock, atomic_write_bytes

__all__ = [
    "ChannelTarget",
    "Remote",
    "Scope",
    "add_remote",
    "get_remote",
    "list_remotes",
    "project_remotes_file",
    "remove_remote",
    "resolve_channel",
]

Scope = Literal["project", "home"]

#: A remote's name: a word that can never be mistaken for a URL or a path.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Settings files are a few lines; refuse anything large before parsing it.
_MAX_BYTES = 1 << 20
_HEADER = (
    "# embodex remotes: named channels (`embodex remote add NAME URL`), see specs/remotes.md\n"
)


@dataclass(frozen=True)
class Remote:
    """One named channel: its URL, and the contract file and key name used with it (None
    when not set). ``scope`` and ``source`` say which file holds it."""

    name: str
    url: str
    contract: Path | None
    key: str | None
    scope: Scope
    source: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "contract": str(self.contract) if self.contract else None,
            "key": self.key,
            "scope": self.scope,
            "source": str(self.source),
        }


@dataclass(frozen=True)
class ChannelTarget:
    """What a channel command acts on, once flags, environment and remotes are combined:
    ``url`` (None when nothing named a channel), ``contract`` and ``key`` (None when no
    flag, variable or remote gave one), and ``remote``, the name used if any."""

    url: str | None
    contract: Path | None
    key: str | None
    remote: str | None = None


def _is_url(value: str) -> bool:
    return "://" in value


def project_remotes_file(cwd: Path | None = None) -> Path | None:
    """The project's remotes file: ``.embodex/remotes.yaml`` in ``cwd`` (default: the working
    folder) or the nearest folder above it; None when there is none. The user's own file
    (under ``EMBODEX_HOME``) is never taken for a project's."""
    here = (cwd or Path.cwd()).resolve()
    home = remotes_file().resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_REMOTES
        if candidate.is_file() and candidate.resolve() != home:
            return candidate
    return None


def _root(path: Path, scope: Scope) -> Path | None:
    # relative paths in a project's file are relative to the project's folder
    return path.parent.parent if scope == "project" else None


def _read(path: Path, scope: Scope) -> dict[str, Remote]:
    import yaml

    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    bad = RemoteError(
        f"remotes file {path} is not a valid remotes file",
        hint="Fix or delete the file; its format is in specs/remotes.md.",
        path=path,
    )
    if len(data) > _MAX_BYTES:
        raise bad
    try:
        doc = yaml.safe_load(data.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise bad from exc
    entries = doc.get("remotes", {}) if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise bad
    root = _root(path, scope)
    remotes: dict[str, Remote] = {}
    for name, entry in entries.items():
        if not isinstance(name, str) or not _NAME.match(name) or not isinstance(entry, dict):
            raise bad
        url, contract, key = entry.get("url"), entry.get("contract"), entry.get("key")
        if not isinstance(url, str) or not url:
            raise bad
        if not isinstance(contract, str | None) or not isinstance(key, str | None):
            raise bad
        if root is not None and not _is_url(url) and not Path(url).is_absolute():
            url = str(root / url)
        path_c = Path(contract) if contract else None
        if path_c is not None and root is not None and not path_c.is_absolute():
            path_c = root / path_c
        remotes[name] = Remote(name, url, path_c, key or None, scope, path)
    return remotes


def _write(path: Path, scope: Scope, remotes: dict[str, Remote]) -> None:
    import yaml

    root = _root(path, scope)

    def stored(p: str) -> str:
        if root is None:
            return p
        try:
            return os.path.relpath(p, root) if Path(p).is_relative_to(root) else p
        except ValueError:
            return p

    entries: dict[str, dict[str, str]] = {}
    for name in sorted(remotes):
        r = remotes[name]
        entry = {"url": r.url if _is_url(r.url) else stored(r.url)}
        if r.contract is not None:
            entry["contract"] = stored(str(r.contract))
        if r.key is not None:
            entry["key"] = r.key
        entries[name] = entry
    text = _HEADER + yaml.safe_dump({"remotes": entries}, sort_keys=False)
    atomic_write_bytes(path, text.encode("utf-8"))


def _files(cwd: Path | None) -> list[tuple[Path, Scope]]:
    project = project_remotes_file(cwd)
    files: list[tuple[Path, Scope]] = [(project, "project")] if project else []
    return [*files, (remotes_file(), "home")]


def list_remotes(cwd: Path | None = None) -> list[Remote]:
    """Every remote in effect, by name: the project's, and the user's not hidden by one of
    the project's. ``RemoteError`` when a remotes file is damaged."""
    found: dict[str, Remote] = {}
    for path, scope in _files(cwd):
        for name, remote in _read(path, scope).items():
            found.setdefault(name, remote)
    return [found[n] for n in sorted(found)]


def get_remote(name: str, cwd: Path | None = None) -> Remote:
    """The remote called ``name``; ``RemoteError`` (listing the known names) when none is."""
    for remote in list_remotes(cwd):
        if remote.name == name:
            return remote
    raise _unknown(name, cwd)


def _unknown(name: str, cwd: Path | None) -> RemoteError:
    known = ", ".join(r.name for r in list_remotes(cwd)) or "none"
    return RemoteError(f"unknown remote {name!r} (known remotes: {known})", field=name)


def add_remote(
    name: str,
    url: str,
    *,
    contract: Path | None = None,
    key: str | None = None,
    scope: Scope | None = None,
    cwd: Path | None = None,
) -> Remote:
    """Save ``name`` for the channel ``url`` (with the contract file and key name to use).

    ``scope``: ``"project"`` writes ``.embodex/remotes.yaml`` (the nearest one, else a new
    one in ``cwd``), ``"home"`` the user's file; by default the project's file when there is
    one, else the user's. Folder channels and the contract are stored as absolute paths
    (relative to the project's folder in a project's file). The file is replaced atomically.
    ``RemoteError`` for a name that is not a plain word or is already taken in that file.
    """
    if not _NAME.match(name):
        raise RemoteError(
            f"{name!r} is not a remote name",
            hint="Use letters, digits, '.', '_' and '-' (no '/' or ':'), at most 64.",
            field=name,
        )
    if not url.strip():
        raise RemoteError("the channel URL is empty", hint="Pass the channel's URL.", field=name)
    here = (cwd or Path.cwd()).resolve()
    project = project_remotes_file(here)
    if scope is None:
        scope = "project" if project else "home"
    path = (project or here / PROJECT_REMOTES) if scope == "project" else remotes_file()
    if scope == "project" and path.resolve() == remotes_file().resolve():
        raise RemoteError(
            f"{path} is your own remotes file, not a project's",
            hint="Run it in the project's folder, or leave out `scope='project'`.",
            path=path,
        )
    if not _is_url(url):
        url = str((here / Path(url).expanduser()).resolve())
    full = (here / contract.expanduser()).resolve() if contract is not None else None
    remote = Remote(name, url, full, key or None, scope, path)
    with _locked(path):  # read, change, replace: two at once must not lose one
        remotes = _read(path, scope)
        if name in remotes:
            raise RemoteError(
                f"remote {name!r} already exists in {path} ({remotes[name].url})",
                hint="Remove it first (`remove_remote(name)`) or pick another name.",
                path=path,
                field=name,
            )
        _write(path, scope, {**remotes, name: remote})
    return remote


def _locked(path: Path) -> Any:
    # a lock file beside the remotes file (flock: released if the process dies)
    return FileLock(path.with_name(".remotes.lock")).held()


def remove_remote(name: str, *, scope: Scope | None = None, cwd: Path | None = None) -> Remote:
    """Delete the remote ``name`` from the file it is read from (the project's first, or the
    file ``scope`` names) and return it; ``RemoteError`` when no such remote exists."""
    for path, where in _files(cwd):
        if (scope is not None and where != scope) or not path.is_file():
            continue
        with _locked(path):
            remotes = _read(path, where)
            if name in remotes:
                removed = remotes.pop(name)
                _write(path, where, remotes)
                return removed
    raise _unknown(name, cwd)


def resolve_channel(
    channel: str | None,
    *,
    contract: Path | None = None,
    key: str | None = None,
    cwd: Path | None = None,
) -> ChannelTarget:
    """The channel, contract and key a command acts on.

    ``channel`` is what the user typed (None: ``EMBODEX_CHANNEL``): a remote's name, or a
    URL or folder. A remote's name wins over a folder of the same name (write ``./NAME``
    for the folder); a bare word that is neither a remote nor an existing folder raises
    ``RemoteError`` listing the known remotes (a typo must not create a new channel).
    ``contract`` and ``key`` given here win, then ``EMBODEX_CONTRACT`` and ``EMBODEX_KEY``,
    then the remote's own settings.
    """
    value = channel or channel_env()
    remote: Remote | None = None
    url = value
    if value is not None and _NAME.match(value):
        known = {r.name: r for r in list_remotes(cwd)}
        if value in known:
            remote = known[value]
            url = remote.url
        elif not ((cwd or Path.cwd()) / value).exists():
            raise _unknown(value, cwd)
    return ChannelTarget(
        url=url,
        contract=contract or contract_env() or (remote.contract if remote else None),
        key=key or key_env() or (remote.key if remote else None),
        remote=remote.name if remote else None,
    )
