"""Moving many files at once: parallel transfers with retries and backoff.

Storage backends move one object at a time (S3 parts are parallel inside one upload);
these helpers run many of them on a thread pool, retry transient failures with exponential
backoff, and stop at the first permanent one (missing object, wrong hash, unsafe key).
Downloads resume from their ``.incomplete`` file (``Storage.download_file``), so a retry or a
later run continues where the last attempt stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..errors import StorageError
from .stores import _PERMANENT, Storage

__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_WORKERS",
    "Download",
    "TransferStats",
    "download_files",
    "run_parallel",
    "upload_group",
    "with_retries",
]

T = TypeVar("T")
DEFAULT_WORKERS = 8
DEFAULT_ATTEMPTS = 3


def with_retries(
    fn: Callable[[], T], *, attempts: int = DEFAULT_ATTEMPTS, backoff: float = 0.5
) -> T:
    """Call ``fn``; on a transient ``StorageError`` (or ``OSError``) wait and try again.

    Waits ``backoff``, ``2×backoff``, … between attempts. Permanent errors (missing
    object, integrity, unsafe key) are raised at once; after the last attempt the last
    error is raised, its message saying how many attempts were made.
    """
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return fn()
        except _PERMANENT:
            raise
        except (StorageError, OSError) as exc:
            if attempt >= attempts:
                if isinstance(exc, StorageError):
                    raise type(exc)(
                        f"{exc.message} (gave up after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''})",
                        hint=exc.hint,
                    ) from exc
                raise
            time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def run_parallel(tasks: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """Run ``tasks`` on ``workers`` threads; results in task order.

    On the first failure the tasks not yet started are cancelled, the running ones are
    waited for, and that first error is raised.
    """
    if workers <= 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        futures: list[Future[T]] = [pool.submit(t) for t in tasks]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            wait(pending)
            raise failed[0].exception()  # type: ignore[misc]
        return [f.result() for f in futures]


@dataclass
class TransferStats:
    """Bytes and files moved by one call (files already present count as reused)."""

    bytes: int = 0
    files: int = 0
    reused_files: int = 0
    reused_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n


@dataclass(frozen=True)
class Download:
    """One file to fetch: the key, where it goes, and the size and sha256 it must have."""

    key: str
    dest: Path
    size: int
    sha256: str


def download_files(
    store: Storage,
    items: Sequence[Download],
    *,
    workers: int = DEFAULT_WORKERS,
    attempts: int = DEFAULT_ATTEMPTS,
    on_bytes: Callable[[int], None] | None = None,
    backoff: float = 0.5,
    stats: TransferStats | None = None,
) -> TransferStats:
    """Download ``items`` in parallel, verified and resumable; return what was moved.

    A destination that already holds the promised bytes is kept (checked by size and
    sha256, not fetched again). Raises ``StorageIntegrityError`` (a file does not match
    its hash), ``ObjectNotFoundError`` or ``StorageError`` after ``attempts`` tries. Pass
    ``stats`` to keep the count of bytes fetched when it raises (a rejected batch's bytes
    were downloaded all the same).
    """
    stats = stats if stats is not None else TransferStats()

    def progress(n: int) -> None:
        stats.add(n)
        if on_bytes is not None:
            on_bytes(n)

    def one(item: Download) -> None:
        if _complete(item):
            with stats._lock:
                stats.reused_files += 1
                stats.reused_bytes += item.size
            if on_bytes is not None:
                on_bytes(item.size)
            return
        # durable=False: no fsync per file. A file found after a restart is hashed again
        # before use (``_complete`` above), so a power cut cannot slip a bad file in.
        with_retries(
            lambda: store.download_file(
                item.key,
                item.dest,
                size=item.size,
                sha256=item.sha256,
                progress=progress,
                durable=False,
            ),
            attempts=attempts,
            backoff=backoff,
        )
        with stats._lock:
            stats.files += 1

    run_parallel([lambda i=i: one(i) for i in items], workers)  # type: ignore[misc]
    return stats


def _complete(item: Download) -> bool:
    from ..canonical import sha256_file

    dest = item.dest
    return dest.is_file() and dest.stat().st_size == item.size and sha256_file(dest) == item.sha256


def upload_group(
    store: Storage,
    files: Sequence[tuple[str, Path]],
    documents: Sequence[tuple[str, bytes]],
    *,
    workers: int = DEFAULT_WORKERS,
    attempts: int = DEFAULT_ATTEMPTS,
    on_file: Callable[[str, int], None] | None = None,
    backoff: float = 0.5,
) -> None:
    """Upload ``files`` in parallel (with retries), then put ``documents`` one by one, in
    order. ``on_file(key, size)`` is called as each file or document is stored.

    This is the default of ``Storage.put_group``: readers see documents only after every
    file they name is stored.
    """

    def one(key: str, path: Path) -> None:
        with_retries(lambda: store.upload_file(key, path), attempts=attempts, backoff=backoff)
        if on_file is not None:
            on_file(key, path.stat().st_size)

    run_parallel([lambda k=k, p=p: one(k, p) for k, p in files], workers)  # type: ignore[misc]
    for key, data in documents:
        with_retries(lambda: store.put_bytes(key, data), attempts=attempts, backoff=backoff)  # noqa: B023
        if on_file is not None:
            on_file(key, len(data))
