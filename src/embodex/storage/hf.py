"""Storage in a Hugging Face Hub dataset repository: ``hf://datasets/OWNER/REPO[@REV][/PREFIX]``.

Keys are paths in the repository below ``PREFIX``. Reads go through the Hub's HTTP API:
``get_paths_info`` for sizes, ``list_repo_tree`` for listings, and ranged GETs of the
``resolve`` URL for content (LFS and Xet-backed files are reached by the redirect the Hub
answers with), so a download fetches exactly the objects asked for and resumes with a
``Range`` request. Writes are commits: ``put_bytes`` and ``upload_file`` are one-file
commits, ``delete`` a one-file deletion, and :meth:`HFStorage.put_group` — one publication
of the delivery channel — is a single commit holding every file and document of it, so a
reader sees the whole publication or nothing of it.

The endpoint comes from ``HF_ENDPOINT`` (default: the public Hub) and the token from
``HF_TOKEN`` or the login ``hf auth login`` stored; ``huggingface_hub`` is imported on first
use and never pickled. The repository must exist: a centre creates it once, private
(``hf repos create OWNER/REPO --type dataset --private``). A missing repository and one this
token may not see look the same on the Hub (both 401), so the backend never creates one.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..errors import MissingExtraError, ObjectNotFoundError, StorageAccessError, StorageError
from .stores import _CHUNK, ObjectInfo, Storage, join_key, validate_key

_CONNECT_ATTEMPTS = 3  # a GET whose connection fails before the first byte

__all__ = ["HFStorage", "hub_module", "open_hf"]

_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PUBLIC_HUB = "https://huggingface.co"


def open_hf(url: str) -> HFStorage:
    """Parse ``hf://datasets/OWNER/REPO[@REVISION][/PREFIX]`` into an :class:`HFStorage`.

    ``REVISION`` (default ``main``) may be percent-encoded (``refs%2Fpr%2F1``); writes need
    a branch. Raises ``StorageError`` for another form (model or Space repos, bad names).
    """
    rest = url[len("hf://") :] if url.startswith("hf://") else url
    parts = rest.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "datasets":
        raise StorageError(
            f"{url!r} is not a Hub dataset URL",
            hint="Use hf://datasets/OWNER/REPO[/PREFIX] (channels live in dataset repos).",
        )
    owner, name = parts[1], parts[2]
    revision = "main"
    if "@" in name:
        name, _, rev = name.partition("@")
        revision = unquote(rev)
    if not (_REPO_PART.match(owner) and _REPO_PART.match(name)) or not revision:
        raise StorageError(
            f"{url!r} names no valid repository", hint="Use hf://datasets/OWNER/REPO[@REV]."
        )
    return HFStorage(f"{owner}/{name}", "/".join(parts[3:]), revision=revision)


class HFStorage(Storage):
    """Objects in a Hub dataset repo below a prefix (see the module docstring).

    Example::

        store = open_storage("hf://datasets/hubei-centre/agibot-deliveries")
        head = store.get_bytes("head.json")
    """

    def __init__(self, repo_id: str, prefix: str = "", *, revision: str = "main") -> None:
        self.repo_id = repo_id
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.revision = revision
        rev = "" if revision == "main" else "@" + quote(revision, safe="")
        self.url = f"hf://datasets/{repo_id}{rev}" + (f"/{self.prefix}" if self.prefix else "")
        self._api: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # never the client (it may hold a token): a worker process builds its own
        return {"repo_id": self.repo_id, "prefix": self.prefix, "revision": self.revision}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["repo_id"], state["prefix"], revision=state["revision"])  # type: ignore[misc]

    # -- the client ----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``HF_ENDPOINT`` when set (read at each use, unlike huggingface_hub's constant)."""
        return (os.environ.get("HF_ENDPOINT") or _PUBLIC_HUB).rstrip("/")

    @property
    def api(self) -> Any:
        with self._lock:
            if self._api is None or self._api.endpoint != self.endpoint:
                hf = _hub()
                self._api = hf.HfApi(endpoint=self.endpoint, library_name="embodex")
            return self._api

    def _path(self, key: str) -> str:
        return join_key(self.prefix, validate_key(key))

    def _call(self, key: str, fn: Callable[[], Any], *, write: bool = False) -> Any:
        try:
            if not write:
                return fn()
            # huggingface_hub's own upload bars would interleave with the caller's progress
            with _hub().utils.disable_progress_bars():
                return fn()
        except Exception as exc:
            raise self._error(exc, key, write) from exc

    # -- reads ---------------------------------------------------------------------------

    def _resolve_url(self, key: str) -> str:
        rev = quote(self.revision, safe="")
        return f"{self.endpoint}/datasets/{self.repo_id}/resolve/{rev}/{quote(self._path(key))}"

    def _headers(self, start: int = 0, end: int | None = None) -> dict[str, str]:
        headers: dict[str, str] = _hub().utils.build_hf_headers(library_name="embodex")
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        return headers

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self._stream(key, 0))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        out = bytearray()
        for chunk in self._stream(key, start, start + length - 1):
            out += chunk
            if len(out) >= length:
                break
        return bytes(out[:length])

    def _stream(self, key: str, start: int, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes from ``start`` (to ``end`` inclusive): one ranged GET of the
        resolve URL, redirects followed. A server that ignores ``Range`` (200) is read from
        the beginning and the first ``start`` bytes are dropped."""
        hf = _hub()
        url = self._resolve_url(key)
        session = hf.utils.get_session()
        yielded = False
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                for chunk in self._get(session, url, start, end):
                    yielded = True
                    yield chunk
                return
            except Exception as exc:
                # A pooled keep-alive connection the server has already closed fails at once
                # (connection reset): ask again on a fresh one, as long as nothing was read.
                if yielded or attempt + 1 == _CONNECT_ATTEMPTS or not _connection_failed(exc):
                    raise self._error(exc, key, False) from exc
                time.sleep(0.1 * (attempt + 1))

    def _get(self, session: Any, url: str, start: int, end: int | None) -> Iterator[bytes]:
        hf = _hub()
        with session.stream(
            "GET", url, headers=self._headers(start, end), follow_redirects=True
        ) as resp:
            if resp.status_code == 416:
                return  # asked from the end of the object: nothing more to read
            if resp.status_code >= 400:
                resp.read()
            hf.utils.hf_raise_for_status(resp)
            skip = start if resp.status_code == 200 else 0
            for chunk in resp.iter_bytes(_CHUNK):
                if skip:
                    drop = min(skip, len(chunk))
                    chunk, skip = chunk[drop:], skip - drop
                if chunk:
                    yield chunk

    def size(self, key: str) -> int:
        path = self._path(key)
        found = self._call(
            key,
            lambda: self.api.get_paths_info(
                self.repo_id, [path], repo_type="dataset", revision=self.revision
            ),
        )
        for entry in found:
            if entry.path == path and hasattr(entry, "size"):
                return int(entry.size)
        raise ObjectNotFoundError(self._where(key))

    def location_exists(self) -> bool:
        # a repo the centre created is an (empty) channel: reading its tree raises when it
        # does not exist or this token may not see it; a folder inside needs an object
        found = self.list()
        return bool(found) or not self.prefix

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        if prefix:
            validate_key(prefix.rstrip("/") or "x")
        # the deepest folder the prefix names, listed recursively, then filtered by prefix
        folder = prefix.rstrip("/") if prefix.endswith("/") else prefix.rpartition("/")[0]
        where = join_key(self.prefix, folder)
        hf = _hub()
        try:
            entries = list(
                self.api.list_repo_tree(
                    self.repo_id, path_in_repo=where or None, recursive=True,
                    repo_type="dataset", revision=self.revision,
                )
            )  # fmt: skip
        except hf.errors.EntryNotFoundError:
            return []
        except Exception as exc:
            raise self._error(exc, prefix or ".", False) from exc
        base = len(self.prefix) + 1 if self.prefix else 0
        out = [
            ObjectInfo(e.path[base:], int(e.size))
            for e in entries
            if isinstance(e, hf.hf_api.RepoFile) and e.path[base:].startswith(prefix)
        ]
        return sorted(out, key=lambda o: o.key)

    # -- writes: commits -----------------------------------------------------------------

    def _commit(
        self, operations: Callable[[], Sequence[Any]], message: str, key: str, **kwargs: Any
    ) -> None:
        """One commit of ``operations()`` (built at the call: huggingface_hub mutates them
        while committing); ``key`` names the object in errors."""
        self._call(
            key,
            lambda: self.api.create_commit(
                self.repo_id, operations(), commit_message=message,
                repo_type="dataset", revision=self.revision, **kwargs,
            ),
            write=True,
        )  # fmt: skip

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        add = _hub().CommitOperationAdd
        self._commit(lambda: [add(path, data)], f"embodex: {key}", key)

    def upload_file(self, key: str, src: str | Path) -> None:
        path = self._path(key)
        add = _hub().CommitOperationAdd
        self._commit(lambda: [add(path, str(src))], f"embodex: {key}", key)

    def delete(self, key: str) -> None:
        if not self.exists(key):
            return
        path = self._path(key)
        remove = _hub().CommitOperationDelete
        with contextlib.suppress(ObjectNotFoundError):  # removed meanwhile
            self._commit(lambda: [remove(path)], f"embodex: delete {key}", key)

    def put_group(
        self,
        files: Sequence[tuple[str, Path]],
        documents: Sequence[tuple[str, bytes]],
        *,
        message: str = "",
        workers: int = 8,
        attempts: int = 3,
        on_file: Callable[[str, int], None] | None = None,
    ) -> None:
        """One commit holding every file and document: readers see all of it or none.

        Order inside the commit is moot (it lands atomically), so the head may travel
        with the batch it names. The commit is retried whole (``attempts``); huggingface_hub
        uploads the large files first (LFS/Xet) with ``workers`` threads.
        """
        from .transfer import with_retries

        if not files and not documents:
            return
        hf = _hub()
        paths = [(self._path(k), str(p)) for k, p in files]
        docs = [(self._path(k), d) for k, d in documents]

        def operations() -> Sequence[Any]:  # built anew for each attempt
            ops = [hf.CommitOperationAdd(path, src) for path, src in paths]
            return ops + [hf.CommitOperationAdd(path, data) for path, data in docs]

        first = files[0][0] if files else documents[0][0]
        with_retries(
            lambda: self._commit(
                operations, message or "embodex", first, num_threads=max(1, workers)
            ),
            attempts=attempts,
        )
        if on_file is not None:
            for key, path in files:
                on_file(key, path.stat().st_size)
            for key, data in documents:
                on_file(key, len(data))

    # -- errors --------------------------------------------------------------------------

    def translate_error(self, exc: Exception, key: str = "", *, write: bool = False) -> Exception:
        """``exc`` (from ``huggingface_hub`` or the HTTP client, about ``key`` of this
        repository) as the one-line embodex error this backend raises for it."""
        return self._error(exc, key, write)

    def _error(self, exc: Exception, key: str, write: bool) -> Exception:
        """huggingface_hub's and the HTTP client's exceptions as embodex errors, one line
        each, naming the object and the fix."""
        if isinstance(exc, StorageError):
            return exc
        hf = _hub()
        errors = hf.errors
        where = self._where(key)
        repo = f"{self.endpoint}/datasets/{self.repo_id}"
        response = getattr(exc, "response", None)
        status = int(getattr(response, "status_code", 0) or 0)
        token_hint = "set HF_TOKEN or run `hf auth login`"
        if isinstance(exc, errors.EntryNotFoundError):
            return ObjectNotFoundError(where)
        if isinstance(exc, errors.GatedRepoError):
            return StorageAccessError(
                f"{where}: the repository is gated and this account was not granted access "
                f"({status or 403})",
                hint=f"Request access on {repo} (the centre approves it), then use that "
                f"account's token: {token_hint}.",
                url=where,
            )
        if isinstance(exc, errors.RepositoryNotFoundError):
            return StorageAccessError(
                f"{where}: repository {self.repo_id} does not exist at {self.endpoint} or this "
                f"token may not see it ({status or 404})",
                hint=f"Check the URL and HF_ENDPOINT; for a private repo {token_hint} with an "
                "account that has access; a centre creates the channel's repo once with "
                f"`hf repos create {self.repo_id} --type dataset --private` (the Hub's own CLI; "
                "in Python `huggingface_hub.create_repo(..., repo_type='dataset', private=True)`).",
                url=where,
            )
        if isinstance(exc, errors.RevisionNotFoundError):
            return StorageError(
                f"{where}: revision {self.revision!r} does not exist in {self.repo_id}",
                hint="Check the @REVISION in the URL (writes need a branch, e.g. main).",
                url=where,
            )
        if status == 401:
            return StorageAccessError(
                f"{where}: the Hub refused the token (401)",
                hint=f"The token is invalid or expired: {token_hint}.",
                url=where,
            )
        if status == 403:
            doing = "write to" if write else "read"
            return StorageAccessError(
                f"{where}: this token may not {doing} {self.repo_id} (403)",
                hint="Use a token with write access to the repository (a fine-grained token "
                "with write on it, or the write role in its organisation); a gated repo's "
                "granted users may only read."
                if write
                else f"Ask the repository's owner for access; {token_hint}.",
                url=where,
            )
        if status == 404:
            return ObjectNotFoundError(where)
        if status == 405 and write:
            return StorageAccessError(
                f"{where}: the server at {self.endpoint} does not accept writes (405)",
                hint="It is a read-only mirror: write through the Hub itself (HF_ENDPOINT).",
                url=where,
            )
        if _connection_failed(exc):
            return StorageError(
                f"{where}: cannot reach the Hub at {self.endpoint} ({type(exc).__name__}: "
                f"{_first_line(exc)})",
                hint="Check HF_ENDPOINT and the network, then run again (downloads resume).",
                url=where,
            )
        detail = _first_line(getattr(exc, "server_message", None) or exc)[:200]
        code = f" {status}" if status else ""
        return StorageError(f"{where}: {type(exc).__name__}{code}: {detail}", url=where)


def hub_module() -> Any:
    """The huggingface_hub module (imported on first use: an optional dependency);
    ``MissingExtraError`` without it."""
    return _hub()


def _hub() -> Any:
    """The huggingface_hub module (imported on first use: an optional dependency)."""
    try:
        import huggingface_hub
        import huggingface_hub.errors
        import huggingface_hub.hf_api
        import huggingface_hub.utils
    except ImportError as exc:
        raise MissingExtraError("huggingface_hub", "hf") from exc
    return huggingface_hub


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _connection_failed(exc: BaseException) -> bool:
    """No answer at all: a transport error that carries no HTTP status (huggingface_hub's
    HTTP errors are OSErrors too: a 404 or a 500 is an answer, not asked again here)."""
    response = getattr(exc, "response", None)
    return not getattr(response, "status_code", 0) and _is_transport_error(exc)


def _is_transport_error(exc: BaseException) -> bool:
    """A connection refused, reset or timed out (httpx, httpx2, httpcore or the OS)."""
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError among them
        return True
    return any(  # by name: the HTTP client's package differs between huggingface_hub releases
        c.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")
        and c.__name__.endswith(("Error", "Timeout"))
        and "Status" not in c.__name__
        for c in type(exc).__mro__
    )
