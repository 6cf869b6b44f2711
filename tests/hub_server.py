"""A small Hugging Face Hub-compatible HTTP server for embodex's tests (stdlib only, in memory).

No package on PyPI provides a local Hub that *writes* (see specs/storage.md §6): olah serves
git repositories read-only, and hf-local-hub's wheels lack their Go server. This server
speaks the part of the Hub's HTTP API that ``huggingface_hub`` (2.x) uses for dataset
repositories, so the client library itself runs unmodified against it:

=========================================================  =================================
``POST /api/repos/create``                                 ``HfApi.create_repo``
``GET  /api/datasets/NS/NAME[/revision/REV]``              ``repo_info`` / ``dataset_info``
``GET  /api/datasets/NS/NAME/tree/REV[/PATH]``             ``list_repo_tree`` (``recursive``)
``POST /api/datasets/NS/NAME/paths-info/REV``              ``get_paths_info``
``GET  /api/datasets/NS/NAME/commits/REV``                 ``list_repo_commits``
``GET  /api/datasets/NS/NAME/refs``                        ``list_repo_refs``
``POST /api/datasets/NS/NAME/preupload/REV``               upload modes: binary → LFS
``POST /datasets/NS/NAME.git/info/lfs/objects/batch``      LFS batch API (basic transfer)
``PUT  /_lfs/OID``                                         LFS upload (sha256 checked)
``POST /api/datasets/NS/NAME/commit/REV``                  ``create_commit`` (NDJSON)
``GET|HEAD /datasets/NS/NAME/resolve/REV/PATH``            downloads; LFS files redirect to
                                                           ``/_lfs/OID`` like the Hub's CDN;
                                                           ``Range`` answered with 206
``PUT  /api/datasets/NS/NAME/settings``                    ``update_repo_settings`` (gating)
``POST /api/datasets/NS/NAME/user-access-request/grant``   ``grant_access``
``POST /api/validate-yaml``, ``GET /api/whoami-v2``
=========================================================  =================================

Access works as on the Hub: ``--user TOKEN=NAME:ROLE`` declares accounts (ROLE ``write``:
a member of the owning organisation; ``read``: an outsider). A private repo is invisible
(401 ``RepoNotFound``) to anyone but members and granted users; a gated public repo answers
403 ``GatedRepo`` to an account not granted access; a commit by a ``read`` account is 403;
an unknown token is 401 "Invalid credentials in Authorization header".

``GET /_stats`` returns every request served so far as ``[method, path, status, body
bytes]`` — what the tests count. Xet uploads are not spoken: clients must set
``HF_HUB_DISABLE_XET=1`` and upload through the LFS basic transfer.

Usage: ``python tests/hub_server.py --port 8123 --user tok=alice:write`` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

__all__ = ["Account", "Hub", "main", "serve"]

_LFS_THRESHOLD = 10 * 1024 * 1024


@dataclass(frozen=True)
class Account:
    name: str
    role: str  # "write" (an organisation member) or "read"


@dataclass
class Commit:
    oid: str
    title: str
    message: str
    author: str
    date: str
    files: dict[str, tuple[str, bytes | str]]  # path -> ("regular", bytes) | ("lfs", sha256)


@dataclass
class Repo:
    rid: str
    private: bool
    gated: bool | str = False
    granted: set[str] = field(default_factory=set)
    commits: list[Commit] = field(default_factory=list)  # newest last
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, rev: str) -> Commit | None:
        oid = self.branches.get(rev) or self.tags.get(rev) or rev
        return next((c for c in self.commits if c.oid == oid), None)


class Hub:
    """All state: accounts, repos, LFS objects, the request log."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self.accounts = accounts
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.log: list[list[Any]] = []
        self.lock = threading.RLock()  # one request at a time: simple and enough for tests


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Denied(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


REPO = r"datasets/([^/]+/[^/]+?)"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: Hub

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -----------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes | dict[str, Any] | list[Any] = b"",
        headers: dict[str, str] | None = None,
        ctype: str = "application/json",
    ) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict | list) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            self.wfile.write(data)
            sent = len(data)
        with self.hub.lock:
            self.hub.log.append([self.command, unquote(urlparse(self.path).path), status, sent])

    def _error(self, exc: Denied) -> None:
        headers = {"X-Error-Message": exc.message}
        if exc.code:
            headers["X-Error-Code"] = exc.code
        self._send(exc.status, {"error": exc.message}, headers)

    def _body(self) -> bytes:
        if not hasattr(self, "_raw"):
            n = int(self.headers.get("Content-Length") or 0)
            self._raw = self.rfile.read(n) if n else b""
        return self._raw

    def _account(self) -> Account | None:
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return None
        account = self.hub.accounts.get(auth[7:].strip())
        if account is None:
            raise Denied(401, "Invalid credentials in Authorization header")
        return account

    def _repo(self, rid: str, *, write: bool = False) -> Repo:
        """The repo, if this request's account may read (and ``write``) it."""
        account = self._account()
        repo = self.hub.repos.get(rid)
        member = account is not None and account.role == "write"
        if repo is None or (
            repo.private and not member and account_name(account) not in repo.granted
        ):
            raise Denied(401, "Repository not found", "RepoNotFound")
        if repo.gated and not member and account_name(account) not in repo.granted:
            status = 401 if account is None else 403
            raise Denied(
                status,
                f"Access to dataset {rid} is restricted and you are not in the authorized list. "
                f"Visit /datasets/{rid} to ask for access.",
                "GatedRepo",
            )
        if write and not member:
            raise Denied(403, "You don't have the rights to create a commit in this repo")
        return repo

    def _commit_of(self, repo: Repo, rev: str) -> Commit:
        commit = repo.resolve(unquote(rev))
        if commit is None:
            raise Denied(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit

    def _content(self, entry: tuple[str, bytes | str]) -> bytes:
        kind, value = entry
        if kind == "lfs":
            return self.hub.blobs[str(value)]
        assert isinstance(value, bytes)
        return value

    def _entry_json(self, path: str, entry: tuple[str, bytes | str]) -> dict[str, Any]:
        data = self._content(entry)
        out: dict[str, Any] = {"type": "file", "path": path, "size": len(data)}
        if entry[0] == "lfs":
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{entry[1]}\n"
            out["oid"] = _git_oid(pointer.encode())
            out["lfs"] = {"oid": entry[1], "size": len(data), "pointerSize": len(pointer)}
        else:
            out["oid"] = _git_oid(data)
        return out

    # -- dispatch -----------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._dispatch(
            [
                (r"/_stats", self._stats),
                (r"/_lfs/([0-9a-f]{64})", self._lfs_get),
                (r"/api/whoami-v2", self._whoami),
                (rf"/{REPO}/resolve/([^/]+)/(.+)", self._resolve),
                (rf"/api/{REPO}/tree/([^/]+)(?:/(.*))?", self._tree),
                (rf"/api/{REPO}/commits/([^/]+)", self._commits),
                (rf"/api/{REPO}/refs", self._refs),
                (rf"/api/{REPO}(?:/revision/([^/]+))?", self._info),
            ]
        )

    def do_POST(self) -> None:
        self._dispatch(
            [
                (r"/api/repos/create", self._create),
                (r"/api/validate-yaml", lambda: self._send(200, {"errors": [], "warnings": []})),
                (rf"/api/{REPO}/preupload/([^/]+)", self._preupload),
                (rf"/api/{REPO}/paths-info/([^/]+)", self._paths_info),
                (rf"/api/{REPO}/commit/([^/]+)", self._commit),
                (rf"/{REPO}\.git/info/lfs/objects/batch", self._lfs_batch),
                (rf"/api/{REPO}/user-access-request/grant", self._grant),
            ]
        )

    def do_PUT(self) -> None:
        self._dispatch(
            [
                (r"/_lfs/([0-9a-f]{64})", self._lfs_put),
                (rf"/api/{REPO}/settings", self._settings),
            ]
        )

    def _dispatch(self, routes: list[tuple[str, Any]]) -> None:
        path = urlparse(self.path).path
        self.__dict__.pop("_raw", None)
        self._body()  # read it all before answering, or a refusal leaves it on the connection
        for pattern, fn in routes:
            m = re.fullmatch(pattern, path)
            if m:
                try:
                    with self.hub.lock:
                        fn(*[unquote(g) if g is not None else None for g in m.groups()])
                except Denied as exc:
                    self._error(exc)
                return
        self._error(Denied(404, f"no route for {self.command} {path}", "NotFound"))

    # -- reads --------------------------------------------------------------------------

    def _stats(self) -> None:
        with self.hub.lock:
            log = list(self.hub.log)
        self._send(200, {"requests": log})

    def _whoami(self) -> None:
        account = self._account()
        if account is None:
            raise Denied(401, "Invalid credentials in Authorization header")
        self._send(200, {"type": "user", "name": account.name, "auth": {}})

    def _info(self, rid: str, rev: str | None) -> None:
        repo = self._repo(rid)
        commit = self._commit_of(repo, rev or "main")
        self._send(
            200,
            {
                "id": rid, "_id": hashlib.sha1(rid.encode()).hexdigest()[:24], "author":
                rid.split("/")[0], "sha": commit.oid, "private": repo.private,
                "gated": repo.gated, "disabled": False, "downloads": 0, "likes": 0,
                "tags": [], "lastModified": commit.date, "cardData": {},
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            },
        )  # fmt: skip

    def _refs(self, rid: str) -> None:
        repo = self._repo(rid)
        ref = [
            {"name": b, "ref": f"refs/heads/{b}", "targetCommit": o}
            for b, o in repo.branches.items()
        ]
        tags = [
            {"name": t, "ref": f"refs/tags/{t}", "targetCommit": o} for t, o in repo.tags.items()
        ]
        self._send(200, {"branches": ref, "tags": tags, "converts": []})

    def _tree(self, rid: str, rev: str, sub: str | None) -> None:
        repo = self._repo(rid)
        commit = self._commit_of(repo, rev)
        recursive = parse_qs(urlparse(self.path).query).get("recursive", ["false"])[0] == "true"
        base = (sub or "").strip("/")
        prefix = base + "/" if base else ""
        if base and base in commit.files:
            self._send(200, [self._entry_json(base, commit.files[base])])
            return
        out: list[dict[str, Any]] = []
        dirs: set[str] = set()
        for path, entry in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            if recursive:
                out.append(self._entry_json(path, entry))
                dirs.update(prefix + "/".join(parts[:i]) for i in range(1, len(parts)))
            elif len(parts) == 1:
                out.append(self._entry_json(path, entry))
            else:
                dirs.add(prefix + parts[0])
        if base and not out and not dirs:
            raise Denied(404, f"{base} does not exist on {rev}", "EntryNotFound")
        out += [{"type": "directory", "path": d, "oid": _git_oid(d.encode())} for d in sorted(dirs)]
        self._send(200, out)

    def _paths_info(self, rid: str, rev: str) -> None:
        repo = self._repo(rid)
        commit = self._commit_of(repo, rev)
        form = parse_qs(self._body().decode())
        out: list[dict[str, Any]] = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                out.append(self._entry_json(path, commit.files[path]))
            elif any(p.startswith(path + "/") for p in commit.files):
                out.append({"type": "directory", "path": path, "oid": _git_oid(path.encode())})
        self._send(200, out)

    def _commits(self, rid: str, rev: str) -> None:
        repo = self._repo(rid)
        head = self._commit_of(repo, rev)
        chain = repo.commits[: repo.commits.index(head) + 1]
        self._send(
            200,
            [
                {"id": c.oid, "title": c.title, "message": c.message, "date": c.date,
                 "authors": [{"user": c.author}]}
                for c in reversed(chain)
            ],
        )  # fmt: skip

    def _resolve(self, rid: str, rev: str, path: str) -> None:
        repo = self._repo(rid)
        commit = self._commit_of(repo, rev)
        entry = commit.files.get(path)
        if entry is None:
            raise Denied(404, f"{path} does not exist on {rev}", "EntryNotFound")
        data = self._content(entry)
        headers = {"X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if entry[0] == "lfs":
            # like the Hub: LFS content is served by another origin (its CDN), so
            # huggingface_hub's metadata HEAD stops at this answer and reads the commit and
            # size here (hf_hub_download, load_dataset); this server under its other name
            cdn = f"http://{_other_origin(self.headers['Host'])}/_lfs/{entry[1]}"
            headers.update(
                {"Location": cdn, "ETag": f'"{entry[1]}"',
                 "X-Linked-Etag": f'"{entry[1]}"', "X-Linked-Size": str(len(data))}
            )  # fmt: skip
            self._send(302, b"", headers)
            return
        headers["ETag"] = f'"{_git_oid(data)}"'
        self._send_ranged(data, headers)

    def _lfs_get(self, oid: str) -> None:
        data = self.hub.blobs.get(oid)
        if data is None:
            raise Denied(404, "no such object")
        self._send_ranged(data, {"ETag": f'"{oid}"', "Accept-Ranges": "bytes"})

    def _send_ranged(self, data: bytes, headers: dict[str, str]) -> None:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if not m:
            self._send(200, data, headers, "application/octet-stream")
            return
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            return
        headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        self._send(206, data[start : end + 1], headers, "application/octet-stream")

    # -- writes -------------------------------------------------------------------------

    def _create(self) -> None:
        account = self._account()
        if account is None:
            raise Denied(401, "You must be authenticated to create a repo")
        if account.role != "write":
            raise Denied(403, "You don't have the rights to create a repo in this namespace")
        req = json.loads(self._body() or b"{}")
        if req.get("type") != "dataset":
            raise Denied(400, "this test Hub holds dataset repos only")
        rid = f"{req.get('organization') or account.name}/{req['name']}"
        if rid in self.hub.repos:
            self._send(
                409, {"error": "You already created this dataset repo", "url": self._url(rid)}
            )
            return
        private = bool(req.get("private")) or req.get("visibility") == "private"
        repo = Repo(rid=rid, private=private)
        first = Commit(
            hashlib.sha1(f"{rid}:init".encode()).hexdigest(), "initial commit", "",
            account.name, _now(), {},
        )  # fmt: skip
        repo.commits.append(first)
        repo.branches["main"] = first.oid
        self.hub.repos[rid] = repo
        self._send(200, {"url": self._url(rid), "name": rid})

    def _url(self, rid: str) -> str:
        return f"http://{self.headers['Host']}/datasets/{rid}"

    def _settings(self, rid: str) -> None:
        repo = self._repo(rid, write=True)
        req = json.loads(self._body() or b"{}")
        if "gated" in req:
            repo.gated = req["gated"] or False
        if "private" in req:
            repo.private = bool(req["private"])
        if "visibility" in req:
            repo.private = req["visibility"] == "private"
        self._send(200, {})

    def _grant(self, rid: str) -> None:
        repo = self._repo(rid, write=True)
        repo.granted.add(json.loads(self._body())["user"])
        self._send(200, {})

    def _preupload(self, rid: str, rev: str) -> None:
        repo = self._repo(rid, write=True)
        commit = self._commit_of(repo, rev)
        files = []
        for f in json.loads(self._body()).get("files", []):
            sample = base64.b64decode(f.get("sample") or "")
            lfs = f.get("size", 0) > _LFS_THRESHOLD or b"\0" in sample
            files.append(
                {"path": f["path"], "uploadMode": "lfs" if lfs else "regular",
                 "shouldIgnore": False}
            )  # fmt: skip
        self._send(200, {"files": files, "commitOid": commit.oid})

    def _lfs_batch(self, rid: str) -> None:
        self._repo(rid, write=True)
        req = json.loads(self._body())
        host = self.headers["Host"]
        objects = []
        for obj in req.get("objects", []):
            item: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.blobs:
                item["actions"] = {"upload": {"href": f"http://{host}/_lfs/{obj['oid']}"}}
            objects.append(item)
        self._send(200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, oid: str) -> None:
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise Denied(400, "the uploaded object does not hash to its oid")
        self.hub.blobs[oid] = data
        self._send(200, {})

    def _commit(self, rid: str, rev: str) -> None:
        repo = self._repo(rid, write=True)
        branch = unquote(rev)
        if branch not in repo.branches:
            raise Denied(404, f"Invalid rev id: {branch} is not a branch", "RevisionNotFound")
        parent = self._commit_of(repo, branch)
        files = dict(parent.files)
        header: dict[str, Any] = {}
        for line in self._body().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
                if value.get("parentCommit") and value["parentCommit"] != parent.oid:
                    raise Denied(412, "A commit has happened since. Please refresh and try again.")
            elif key == "file":
                content = value["content"]
                data = (
                    base64.b64decode(content)
                    if value.get("encoding") == "base64"
                    else content.encode()
                )
                files[value["path"]] = ("regular", data)
            elif key == "lfsFile":
                if value["oid"] not in self.hub.blobs:
                    raise Denied(400, f"LFS object {value['oid']} was not uploaded")
                files[value["path"]] = ("lfs", value["oid"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise Denied(404, f"{value['path']} does not exist", "EntryNotFound")
            elif key == "deletedFolder":
                pre = value["path"].rstrip("/") + "/"
                files = {p: e for p, e in files.items() if not p.startswith(pre)}
            else:
                raise Denied(400, f"unsupported commit operation {key}")
        account = self._account()
        title = header.get("summary") or "commit"
        digest = hashlib.sha1(
            json.dumps(
                [parent.oid, title, sorted((p, str(e[1])[:80]) for p, e in files.items())]
            ).encode()
        ).hexdigest()
        commit = Commit(
            digest, title, header.get("description", ""), account_name(account), _now(), files
        )
        repo.commits.append(commit)
        repo.branches[branch] = commit.oid
        self._send(
            200,
            {"commitUrl": f"{self._url(rid)}/commit/{commit.oid}", "commitOid": commit.oid,
             "success": True, "pullRequestUrl": None},
        )  # fmt: skip


def _other_origin(host: str) -> str:
    """The same loopback server under its other name (127.0.0.1 <-> localhost)."""
    name, _, port = host.rpartition(":")
    other = "localhost" if name == "127.0.0.1" else "127.0.0.1"
    return f"{other}:{port}"


def account_name(account: Account | None) -> str:
    return account.name if account is not None else ""


def serve(port: int, accounts: dict[str, Account]) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"hub": Hub(accounts)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--user", action="append", default=[], help="TOKEN=NAME:ROLE (ROLE: write or read)"
    )
    args = parser.parse_args()
    accounts = {}
    for spec in args.user:
        token, _, rest = spec.partition("=")
        name, _, role = rest.partition(":")
        accounts[token] = Account(name, role or "write")
    server = serve(args.port, accounts)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
