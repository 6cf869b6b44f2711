"""Storage backends chosen by URL scheme: local folders, S3-compatible stores, the HF Hub.

``open_storage(url)`` looks the scheme up in ``SCHEMES``: a plain path or ``file://`` gives
:class:`FileStorage`, ``s3://bucket/prefix`` gives :class:`S3Storage`, and
``hf://datasets/owner/repo[/prefix]`` a Hugging Face Hub dataset repo
(:class:`~embodex.storage.hf.HFStorage`, one commit per ``put_group``). Every
backend offers the same small interface over *keys* (relative ``/``-separated paths below the URL):
``get_bytes``, ``get_range``, ``put_bytes``, ``upload_file``, ``download_file``, ``list``,
``exists``, ``size``, ``delete``.

S3 endpoint and credentials come from the standard AWS variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles...), so
any S3-compatible store works. boto3 is imported lazily, and clients are never pickled:
a backend handed to a DataLoader worker (fork or spawn) makes its own client there.

Downloads are resumable and verified: bytes go to ``<dest>.incomplete`` (continued from
where a previous attempt stopped), and only a file with the promised size and sha256 is
renamed to ``dest``.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import os
import queue
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..errors import (
    ObjectNotFoundError,
    StorageAccessError,
    StorageError,
    StorageIntegrityError,
    UnsafeKeyError,
)
from ..fsutil import (
    FileLock,
    UnsafePathError,
    atomic_write_bytes,
    file_mode,
    fsync_dir,
    replace_durably,
    safe_join,
    unsafe_path_reason,
)
from ..parsing import MAX_DOCUMENT_BYTES, read_bounded

__all__ = [
    "SCHEMES",
    "FileStorage",
    "ObjectInfo",
    "S3Storage",
    "Storage",
    "join_key",
    "open_storage",
    "validate_key",
]

_CHUNK = 1024 * 1024
#: What a retry cannot fix: raised at once (by a resuming download and by transfer's retries).
_PERMANENT = (ObjectNotFoundError, StorageAccessError, StorageIntegrityError, UnsafeKeyError)
_RESUME_ATTEMPTS = 5
INCOMPLETE_SUFFIX = ".incomplete"


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key (relative to the storage URL) and size in bytes."""

    key: str
    size: int


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ``UnsafeKeyError``.

    Safe: non-empty, ``/``-separated, not absolute, no ``.``/``..``/empty segments, no
    backslashes or NUL bytes (which some stores and file systems treat as separators).
    """
    reason = unsafe_path_reason(key)
    if reason is not None:
        raise UnsafeKeyError(f"storage key {key!r} is unsafe: {reason}")
    return key


def join_key(*parts: str) -> str:
    """Join key segments with ``/``, skipping empty ones (``join_key("a/", "b")`` = ``a/b``)."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class Storage(ABC):
    """A place holding objects under keys. Subclasses implement the primitive operations."""

    #: the URL this storage was opened from
    url: str

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object. Raises ``ObjectNotFoundError``, ``StorageError``."""

    @abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from offset ``start`` (fewer at the end of the object)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; readers see the old object or the new one."""

    @abstractmethod
    def upload_file(self, key: str, src: str | Path) -> None:
        """Store the file ``src`` under ``key`` (multipart with retries on S3)."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes. Raises ``ObjectNotFoundError``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone)."""

    @abstractmethod
    def _stream(self, key: str, start: int) -> Iterator[bytes]:
        """The object's bytes from offset ``start``, in chunks."""

    def get_document(self, key: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
        """The whole object when it is at most ``limit`` bytes: for metadata documents (a
        head, a manifest, a notice, a receipt), whose size nothing signed has bounded yet.

        The read stops one chunk past ``limit`` whatever the store serves (backends that
        can say the size first refuse before reading). Raises ``StorageIntegrityError``
        (too large), ``ObjectNotFoundError``, ``StorageError``.
        """
        validate_key(key)
        out = bytearray()
        for chunk in self._stream(key, 0):
            out += chunk
            if len(out) > limit:
                raise self._too_large(key, len(out), limit)
        return bytes(out)

    def _too_large(self, key: str, size: int, limit: int) -> StorageIntegrityError:
        return StorageIntegrityError(
            f"{self._where(key)} is {size} bytes or more, over the {limit}-byte bound for "
            "this document",
            hint="Do not use this channel's data: it was padded or replaced. Tell the centre.",
        )

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFoundError:
            return False
        return True

    def location_exists(self) -> bool:
        """Whether anything is at this URL: a mistyped location is not an empty one. A
        folder counts once it exists; an object store (no folders) once any object lies
        under the prefix."""
        return bool(self.list())

    def download_file(
        self,
        key: str,
        dest: str | Path,
        *,
        size: int | None = None,
        sha256: str | None = None,
        progress: Callable[[int], None] | None = None,
        durable: bool = True,
    ) -> Path:
        """Download ``key`` to ``dest``, resumably, verified before it appears.

        Bytes are appended to ``<dest>.incomplete`` (a download cut off earlier continues
        where it stopped) and hashed as they arrive; once the object is complete its size
        and sha256 are checked against ``size`` and ``sha256`` when given, and only then is
        it renamed to ``dest``. Concurrent downloads of the same ``dest`` (threads or
        processes) are serialised by a lock file, and the second finds the file done.
        ``progress`` is called with each chunk's byte count. ``durable=False`` skips the
        fsyncs of the file and of its folder: for callers that check the hash again before
        trusting a file found after a restart (a power cut can leave it unwritten).

        Raises ``StorageIntegrityError`` (size or hash differ; the partial file is
        removed), ``ObjectNotFoundError`` or ``StorageError``.

        Example::

            store = open_storage("s3://bucket/deliveries/acme")
            store.download_file("data/shard-000000.arrow", "cache/shard", size=n, sha256=h)
        """
        validate_key(key)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + INCOMPLETE_SUFFIX)
        with FileLock(dest.with_name(dest.name + ".lock")).held():
            if dest.exists() and _matches(dest, size, sha256):
                return dest
            # a second try from scratch only when a partial file was there to blame: a
            # fresh download that fails its hash is not fetched twice
            tries = 2 if part.exists() and part.stat().st_size > 0 else 1
            for attempt in range(tries):
                try:
                    digest = self._fetch_into(key, part, size, progress, durable)
                    got_size = part.stat().st_size
                    if size is not None and got_size != size:
                        raise StorageIntegrityError(
                            f"{self._where(key)} is {got_size} bytes, expected {size}",
                            url=self._where(key),
                        )
                    if sha256 is not None and digest != sha256:
                        raise StorageIntegrityError(
                            f"{self._where(key)} does not match its sha256 (expected {sha256})",
                            url=self._where(key),
                        )
                except StorageIntegrityError:
                    with contextlib.suppress(FileNotFoundError):
                        part.unlink()
                    if attempt + 1 < tries:
                        continue  # a stale partial file from another object: start clean once
                    raise
                if durable:
                    replace_durably(part, dest)
                else:
                    os.replace(part, dest)
                return dest
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch_into(
        self,
        key: str,
        part: Path,
        size: int | None,
        progress: Callable[[int], None] | None,
        durable: bool = True,
    ) -> str:
        """Append the missing tail of ``key`` to ``part``, resuming after dropped streams;
        return the sha256 (hex) of the whole file, hashed as the bytes arrive."""
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        last: Exception | None = None
        for _ in range(_RESUME_ATTEMPTS):
            # What is on disk is hashed again at each (re)start: after a failed write the
            # file, not what was handed to it, is the truth.
            hasher = _BackgroundHash(_sha256_of(part) if have else hashlib.sha256())
            if size is not None and have == size:
                return hasher.finish()
            try:
                with open(part, "ab") as out:
                    for chunk in self._stream(key, have):
                        if size is not None and have + len(chunk) > size:
                            # served larger than promised: stop now, not at the end of
                            # however much the server is willing to send
                            raise StorageIntegrityError(
                                f"{self._where(key)} is {have + len(chunk)}+ bytes, expected "
                                f"{size}: reading stopped past the declared size"
                            )
                        out.write(chunk)
                        hasher.update(chunk)
                        have += len(chunk)
                        if progress is not None:
                            progress(len(chunk))
                    out.flush()
                    if durable:
                        os.fsync(out.fileno())
                return hasher.finish()
            except _PERMANENT:
                hasher.finish()
                raise
            except (OSError, StorageError) as exc:  # a dropped connection: resume from `have`
                hasher.finish()
                last = exc
                have = part.stat().st_size if part.exists() else 0
            except BaseException:
                hasher.finish()
                raise
        raise StorageError(
            f"{self._where(key)}: download kept failing ({last})", url=self._where(key)
        )

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
        """Store one publication: ``files`` (key, local path), then ``documents`` (key, bytes)
        in order, so a document never appears before the files it names.

        The default uploads the files in parallel with retries, then puts each document.
        A backend with commits (a Hub repository) overrides this to make the whole group one
        commit described by ``message``. ``on_file(key, size)`` is called as each is stored.
        Raises ``StorageError`` after ``attempts`` tries of one object.
        """
        from .transfer import upload_group

        upload_group(self, files, documents, workers=workers, attempts=attempts, on_file=on_file)

    def _where(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _matches(path: Path, size: int | None, sha256: str | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    return sha256 is None or _sha256_file(path) == sha256


class _BackgroundHash:
    """sha256 on a thread of its own, fed chunk by chunk: hashing overlaps the network and
    the disk (hashlib releases the GIL), so verifying costs no extra pass and little time."""

    def __init__(self, h: hashlib._Hash) -> None:
        self._h = h
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="embodex-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._h.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> str:
        """Wait for every chunk fed so far; the hex digest. Safe to call more than once."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        return self._h.hexdigest()


def _sha256_file(path: Path) -> str:
    return _sha256_of(path).hexdigest()


def _sha256_of(path: Path) -> hashlib._Hash:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * _CHUNK):
            h.update(chunk)
    return h


class FileStorage(Storage):
    """Objects as files below a root directory (a plain path or a ``file://`` URL)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = self.root.as_uri() if self.root.is_absolute() else str(self.root)

    def location_exists(self) -> bool:
        return self.root.is_dir()

    def _path(self, key: str, *, final: bool = True) -> Path:
        """The file of ``key``; no symbolic link below the root is followed (a link planted
        in a channel folder must not redirect a read or, worse, a write out of it).
        ``final=False`` allows the last component to be a link (deleting removes the link)."""
        validate_key(key)
        try:
            if final:
                return safe_join(self.root, key, what="storage key")
            parent, _, name = key.rpartition("/")
            base = safe_join(self.root, parent, what="storage key") if parent else self.root
            return base / name
        except UnsafePathError as exc:
            raise UnsafeKeyError(f"{self._where(key)}: {exc.message}", hint=exc.hint) from None

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(self._where(key)) from None

    def get_document(self, key: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
        path = self._path(key)
        try:
            return read_bounded(
                path, limit=limit, error=StorageIntegrityError, name=self._where(key),
                follow_symlinks=False, directory_is_missing=True,
            )  # fmt: skip
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(self._where(key)) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(start)
                return f.read(length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(self._where(key)) from None

    @contextlib.contextmanager
    def _writing(self, key: str, source: str | Path | None = None) -> Iterator[None]:
        """A folder this account may not write to (permissions, a read-only mount) is an
        access error, like a 403 from a remote store: retrying cannot help. (A ``source``
        file that cannot be read is not.)"""
        try:
            yield
        except OSError as exc:
            denied = isinstance(exc, PermissionError) or exc.errno == errno.EROFS
            if denied and (source is None or exc.filename != str(source)):
                raise StorageAccessError(
                    f"{self._where(key)}: this account may not write to {self.root} "
                    f"({exc.strerror or exc})",
                    hint="Ask the folder's owner for write access (or use an account that has it).",
                    url=self._where(key),
                    path=self.root,
                ) from None
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._writing(key):
            atomic_write_bytes(self._path(key), data, mode=file_mode())

    def upload_file(self, key: str, src: str | Path) -> None:
        with self._writing(key, src):
            self._upload_file(key, src)

    def _upload_file(self, key: str, src: str | Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._path(key)  # mkdir above must not have raced with a planted link
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, 8 * _CHUNK)
                out.flush()
                os.fchmod(out.fileno(), file_mode())  # readable by a buyer's account (umask)
                os.fsync(out.fileno())
            replace_durably(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        if prefix:
            validate_key(prefix.rstrip("/") or "x")
        out: list[ObjectInfo] = []
        if not self.root.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                full = Path(dirpath) / name
                key = full.relative_to(self.root).as_posix()
                if key.startswith(prefix) and not name.endswith(".tmp"):
                    # lstat: a planted link is listed as itself (and cleaned up as one)
                    out.append(ObjectInfo(key, full.lstat().st_size))
        return sorted(out, key=lambda o: o.key)

    def remove_temporaries(self, prefix: str) -> builtins.list[str]:
        """Delete the temporary files (``.NAME.*.tmp``) of writes killed midway below
        ``prefix``; return their keys. Only for a writer that knows none is in use."""
        base = safe_join(self.root, prefix.rstrip("/"), what="storage prefix")
        gone: builtins.list[str] = []
        if not base.is_dir():
            return gone
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    full = Path(dirpath) / name
                    with contextlib.suppress(FileNotFoundError):
                        full.unlink()
                        gone.append(full.relative_to(self.root).as_posix())
        return sorted(gone)

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(self._where(key))
        return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key, final=False)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)

    def _stream(self, key: str, start: int) -> Iterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(self._where(key))
        with open(path, "rb") as f:
            f.seek(start)
            while chunk := f.read(_CHUNK):
                yield chunk


class S3Storage(Storage):
    """Objects in an S3 bucket below a prefix (``s3://bucket/prefix``).

    The client is built on first use in each process from the standard AWS environment
    (``AWS_ENDPOINT_URL`` points it at MinIO, Ceph, moto or any S3-compatible store) and is
    dropped when the object is pickled.
    """

    def __init__(self, bucket: str, prefix: str = "") -> None:
        if not bucket:
            raise StorageError("an s3:// URL needs a bucket name", hint="Use s3://BUCKET/PREFIX.")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client: Any = None
        self._client_pid = -1
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["bucket"], state["prefix"])  # type: ignore[misc]

    @property
    def client(self) -> Any:
        # One client per process: a client inherited through fork shares its sockets.
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    self._client = _make_s3_client()
                    self._client_pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return join_key(self.prefix, validate_key(key))

    def _call(self, key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            raise _map_s3_error(exc, self._where(key)) from exc

    def get_bytes(self, key: str) -> bytes:
        obj = self._key(key)
        resp = self._call(key, lambda: self.client.get_object(Bucket=self.bucket, Key=obj))
        return bytes(self._call(key, resp["Body"].read))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length <= 0:
            return b""
        rng = f"bytes={start}-{start + length - 1}"
        resp = self._call(
            key,
            lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=rng),
        )
        return bytes(self._call(key, resp["Body"].read))

    def get_document(self, key: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
        # Asking for limit+1 bytes: the store never sends more than the bound allows
        rng = f"bytes=0-{limit}"
        try:
            resp = self._call(
                key,
                lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range=rng),
            )
        except StorageError as exc:
            if "InvalidRange" in exc.message:  # an empty object has no byte 0
                return b""
            raise
        data = bytes(self._call(key, resp["Body"].read))
        if len(data) > limit:
            raise self._too_large(key, len(data), limit)
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        # A PUT is atomic in S3: readers see the old object or the new one.
        self._call(
            key, lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        )

    def upload_file(self, key: str, src: str | Path) -> None:
        from boto3.s3.transfer import TransferConfig

        # Multipart above 16 MiB in 8 MiB parts sent in parallel (a 64 MiB shard goes up as 8
        # concurrent parts), each retried by the transfer manager; the object appears only
        # when CompleteMultipartUpload succeeds, so a cut upload leaves nothing visible.
        config = TransferConfig(multipart_threshold=16 * _CHUNK, multipart_chunksize=8 * _CHUNK)
        self._call(
            key,
            lambda: self.client.upload_file(str(src), self.bucket, self._key(key), Config=config),
        )

    def location_exists(self) -> bool:
        full = f"{self.prefix}/" if self.prefix else ""
        resp = self._call(
            "", lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=1)
        )
        return bool(resp.get("KeyCount") or resp.get("Contents"))

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        if prefix:
            validate_key(prefix.rstrip("/") or "x")
        full = join_key(self.prefix, prefix)
        if prefix.endswith("/") or (not prefix and self.prefix):
            full += "/"
        base = len(self.prefix) + 1 if self.prefix else 0
        out: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            prefix, lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full))
        )
        for page in pages:
            for obj in page.get("Contents", []):
                out.append(ObjectInfo(obj["Key"][base:], int(obj["Size"])))
        return sorted(out, key=lambda o: o.key)

    def size(self, key: str) -> int:
        resp = self._call(
            key, lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        )
        return int(resp["ContentLength"])

    def delete(self, key: str) -> None:
        self._call(key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    def _stream(self, key: str, start: int) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start:
            kwargs["Range"] = f"bytes={start}-"
        resp = self._call(key, lambda: self.client.get_object(**kwargs))
        body = resp["Body"]
        try:
            while True:
                chunk = self._call(key, lambda: body.read(_CHUNK))
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()


def _make_s3_client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is a main dependency
        raise StorageError(
            "s3:// URLs need boto3", hint="pip install boto3 (it is an embodex dependency)."
        ) from exc
    config = Config(
        retries={"mode": "standard"},  # attempts: AWS_MAX_ATTEMPTS, else 3
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {},
    )
    return boto3.session.Session().client("s3", config=config)


def _map_s3_error(exc: Exception, where: str) -> Exception:
    """botocore's exceptions as embodex errors naming the object."""
    if isinstance(exc, StorageError):
        return exc
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    name = type(exc).__name__
    if code in ("404", "NoSuchKey", "NotFound"):
        return ObjectNotFoundError(where)
    if code == "NoSuchBucket":
        return ObjectNotFoundError(
            where,
            detail="the bucket does not exist",
            hint="Check the bucket name and the endpoint.",
        )
    if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        # refused credentials: retrying the same request cannot help
        return StorageAccessError(
            f"{where}: access denied ({code})",
            hint="Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy.",
            url=where,
        )
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return StorageError(
            f"{where}: no S3 credentials found",
            hint="Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile).",
            url=where,
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return StorageError(
            f"{where}: cannot reach the S3 endpoint ({exc})",
            hint="Check AWS_ENDPOINT_URL and the network, then run again (downloads resume).",
            url=where,
        )
    return StorageError(f"{where}: {name}: {exc}", url=where)


def _open_file(url: str) -> Storage:
    if url.startswith("file://"):
        parsed = urlparse(url)
        if parsed.netloc not in ("", "localhost"):
            raise StorageError(f"file URL {url!r} names a remote host", hint="Use file:///path.")
        return FileStorage(unquote(parsed.path))
    return FileStorage(url)


def _open_s3(url: str) -> Storage:
    parsed = urlparse(url)
    return S3Storage(parsed.netloc, unquote(parsed.path))


def _open_hf(url: str) -> Storage:
    from .hf import open_hf  # huggingface_hub is imported on first use only

    return open_hf(url)


#: URL scheme -> backend factory; a plain path has the scheme "".
SCHEMES: dict[str, Callable[[str], Storage]] = {
    "": _open_file,
    "file": _open_file,
    "s3": _open_s3,
    "hf": _open_hf,
}


def open_storage(url: str | Path) -> Storage:
    """The backend for ``url``: a path or ``file://`` URL, ``s3://bucket/prefix`` or
    ``hf://datasets/owner/repo[@revision][/prefix]``.

    Raises ``StorageError`` for a scheme with no backend.

    Example::

        store = open_storage("s3://acme-data/deliveries/week01")
        manifest = store.get_bytes("manifest.json")
    """
    text = str(url)
    scheme = urlparse(text).scheme if "://" in text else ""
    factory = SCHEMES.get(scheme.lower())
    if factory is None:
        raise StorageError(
            f"no storage backend for {scheme}:// URLs ({text})",
            hint=f"Use a local path or one of: {', '.join(s + '://' for s in SCHEMES if s)}.",
        )
    return factory(text)
