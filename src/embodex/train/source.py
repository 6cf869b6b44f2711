"""Where a loaded dataset's files come from: a local directory, or an object store streamed
into a local cache.

For a URL such as ``s3://bucket/deliveries/week01`` the manifest is read from the store,
the metadata files are downloaded and checked against it (size and sha256) into
``<cache>/datasets/<digest>/``, and frame shards are downloaded on demand — and ahead of
demand by background threads — into the content-addressed ``<cache>/objects/``. A shard
is renamed into place only after its sha256 matched the manifest, so a file in the cache
is always a verified one, and training can start before the whole dataset is local.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from .. import config
from ..errors import (
    CorruptDatasetError,
    DatasetNotFoundError,
    ObjectNotFoundError,
    StorageIntegrityError,
)
from ..format import FileEntry, Manifest, layout
from ..fsutil import atomic_write_bytes
from ..parsing import parse_document
from ..storage.stores import Storage, open_storage
from .select import QC_MANIFEST

__all__ = ["LocalSource", "Source", "StreamingSource", "open_source"]


class Source:
    """A dataset's files as local paths: ``root`` holds the metadata files."""

    root: Path
    url: str

    def shard_path(self, name: str) -> Path:
        """Local path of frame shard ``name``, downloading (and verifying) it first if needed."""
        raise NotImplementedError

    def prefetch(self, names: list[str]) -> None:
        """Start bringing these shards local in the background, in this order."""

    def qc_manifest(self) -> bytes | None:
        """The bytes of ``qc/manifest.json``, or None when the dataset has none."""
        raise NotImplementedError


class LocalSource(Source):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def shard_path(self, name: str) -> Path:
        return self.root / name

    def qc_manifest(self) -> bytes | None:
        path = self.root / QC_MANIFEST
        return path.read_bytes() if path.is_file() else None


class StreamingSource(Source):
    """A dataset in an object store, mirrored shard by shard into a local cache."""

    def __init__(self, url: str, cache: Path, *, workers: int = 2) -> None:
        self.url = url.rstrip("/")
        self.cache = cache
        self.workers = max(1, workers)
        self.storage: Storage = open_storage(self.url)
        try:
            manifest_bytes = self.storage.get_document(layout.MANIFEST_FILE)
        except ObjectNotFoundError:
            raise DatasetNotFoundError(self.url, missing=layout.MANIFEST_FILE) from None
        manifest = parse_document(
            manifest_bytes, Manifest, CorruptDatasetError,
            name=f"{self.url}/{layout.MANIFEST_FILE}",
        )  # fmt: skip
        self.entries: dict[str, FileEntry] = {f.path: f for f in manifest.files}
        self.digest = manifest.digest
        self.root = cache / "datasets" / manifest.digest.removeprefix("sha256:")
        self._mirror_metadata(manifest_bytes)
        try:
            self._qc: bytes | None = self.storage.get_document(QC_MANIFEST)
        except ObjectNotFoundError:
            self._qc = None
        self._fetcher = _Fetcher(self.storage, cache / "objects", self.entries, self.workers)

    def __getstate__(self) -> dict[str, Any]:
        # the fetcher's threads and the storage client stay behind; entries are O(files)
        state = self.__dict__.copy()
        state["_fetcher"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fetcher = _Fetcher(self.storage, self.cache / "objects", self.entries, self.workers)
        if not (self.root / layout.MANIFEST_FILE).exists():
            # unpickled on another machine (a Ray worker): its cache has no metadata yet
            manifest_bytes = self.storage.get_document(layout.MANIFEST_FILE)
            manifest = parse_document(
                manifest_bytes, Manifest, CorruptDatasetError,
                name=f"{self.url}/{layout.MANIFEST_FILE}",
            )  # fmt: skip
            if manifest.digest != self.digest:
                raise CorruptDatasetError(
                    f"{self.url} changed while it was being read (digest {manifest.digest}, "
                    f"opened as {self.digest})",
                    hint="Load the dataset again; a delivery is never changed in place.",
                    url=self.url,
                )
            self._mirror_metadata(manifest_bytes)

    def _mirror_metadata(self, manifest_bytes: bytes) -> None:
        if (self.root / layout.MANIFEST_FILE).exists():
            return  # complete: the manifest is written last
        self.root.mkdir(parents=True, exist_ok=True)
        for name in (layout.META_FILE, layout.EPISODES_FILE, layout.STATS_FILE):
            entry = self.entries.get(name)
            if entry is None:
                raise CorruptDatasetError(
                    f"{self.url}/{layout.MANIFEST_FILE} does not list {name}", url=self.url
                )
            obj = self._fetcher_path(entry)
            try:
                self.storage.download_file(name, obj, size=entry.size, sha256=entry.sha256)
            except StorageIntegrityError as exc:
                raise CorruptDatasetError(
                    f"{self.url}/{name} does not match the dataset manifest ({exc.message})",
                    url=self.url,
                ) from None
            except ObjectNotFoundError:
                raise CorruptDatasetError(f"{self.url}/{name} is missing", url=self.url) from None
            atomic_write_bytes(self.root / name, obj.read_bytes())
        atomic_write_bytes(self.root / layout.MANIFEST_FILE, manifest_bytes)

    def _fetcher_path(self, entry: FileEntry) -> Path:
        return _object_path(self.cache / "objects", entry.sha256)

    def shard_path(self, name: str) -> Path:
        return self._fetcher.path(name)

    def prefetch(self, names: list[str]) -> None:
        self._fetcher.prefetch(names)

    def qc_manifest(self) -> bytes | None:
        return self._qc


def _object_path(objects: Path, sha256: str) -> Path:
    return objects / sha256[:2] / sha256


_FETCHERS: weakref.WeakSet[_Fetcher] = weakref.WeakSet()


def _reset_fetchers_after_fork() -> None:
    for fetcher in list(_FETCHERS):
        fetcher._reset()


os.register_at_fork(after_in_child=_reset_fetchers_after_fork)


class _Fetcher:
    """Downloads shards into the object cache: on demand, and ahead of demand in daemon
    threads. A shard asked for while queued is fetched at once by the asking thread."""

    def __init__(
        self, storage: Storage, objects: Path, entries: dict[str, FileEntry], workers: int
    ) -> None:
        self.storage = storage
        self.objects = objects
        self.entries = entries
        self.workers = workers
        self._reset()
        _FETCHERS.add(self)

    def _reset(self) -> None:
        # also runs in a forked child: the parent's threads do not exist there
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._inflight: dict[str, threading.Event] = {}
        self._errors: dict[str, Exception] = {}
        self._threads: list[threading.Thread] = []

    def _local(self, name: str) -> Path:
        entry = self.entries.get(name)
        if entry is None:
            raise CorruptDatasetError(f"{self.storage.url}: shard {name} is not in the manifest")
        return _object_path(self.objects, entry.sha256)

    def _ready(self, name: str) -> bool:
        path = self._local(name)
        try:
            return path.stat().st_size == self.entries[name].size
        except FileNotFoundError:
            return False

    def path(self, name: str) -> Path:
        if self._ready(name):
            return self._local(name)
        with self._cond:
            pending = self._inflight.get(name)
            if pending is None:
                event = self._inflight[name] = threading.Event()
                self._errors.pop(name, None)  # an earlier failure: this is the retry
        if pending is None:
            self._download(name, event)
        else:
            pending.wait()
        with self._cond:
            error = self._errors.get(name)
        if error is not None:
            raise error
        return self._local(name)

    def prefetch(self, names: list[str]) -> None:
        with self._cond:
            self._queue.extend(n for n in names if n not in self._inflight)
            while len(self._threads) < self.workers:
                t = threading.Thread(target=self._work, name="embodex-prefetch", daemon=True)
                self._threads.append(t)
                t.start()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                name = self._queue.popleft()
                if name in self._inflight:
                    continue
                event = self._inflight[name] = threading.Event()
            if self._ready(name):
                with self._cond:
                    del self._inflight[name]
                event.set()
                continue
            self._download(name, event)

    def _download(self, name: str, event: threading.Event) -> None:
        entry = self.entries[name]
        error: Exception | None = None
        try:
            self.storage.download_file(
                name, self._local(name), size=entry.size, sha256=entry.sha256
            )
        except StorageIntegrityError as exc:
            error = CorruptDatasetError(
                f"shard {name} from {self.storage.url} does not match the dataset manifest "
                f"({exc.message}); it was not used",
                hint="Ask the sender to upload the shard again, then rerun (good shards stay "
                "cached).",
            )
        except ObjectNotFoundError:
            error = CorruptDatasetError(f"shard {name} is missing from {self.storage.url}")
        except Exception as exc:  # reported to whoever waits for this shard
            error = exc
        with self._cond:
            if error is not None:
                self._errors[name] = error
            self._inflight.pop(name, None)
        event.set()


def open_source(path_or_url: str | Path, *, cache_dir: Path | None, prefetch: int) -> Source:
    """A local directory (plain path or ``file://``) or a streamed object-store URL."""
    text = str(path_or_url)
    if "://" in text and not text.startswith("file://"):
        cache = Path(cache_dir) if cache_dir is not None else config.cache_dir()
        return StreamingSource(text, cache, workers=prefetch)
    root = Path(text.removeprefix("file://")) if text.startswith("file://") else Path(text)
    with contextlib.suppress(OSError):
        root = root.resolve()
    return LocalSource(root)
