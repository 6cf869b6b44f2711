"""Crash-safe file operations: atomic writes, directory fsync, advisory locks."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .errors import UnsafePathError  # re-exported: the safe-path rule and its error

__all__ = [
    "FileLock",
    "UnsafePathError",
    "atomic_write_bytes",
    "file_mode",
    "fsync_dir",
    "fsync_path",
    "replace_durably",
    "safe_join",
    "unsafe_path_reason",
]

_DRIVE = re.compile(r"^[A-Za-z]:")  # "C:x" and "C:/x" name a drive on Windows


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` is not a plain relative path inside its root, or None when it is.

    The one rule for every path a manifest, a batch manifest or a storage key names:
    non-empty, ``/``-separated, not absolute, no drive letter, no ``.``/``..``/empty segment,
    no backslash or NUL (which some stores and file systems treat as separators).
    """
    if not isinstance(path, str) or not path:
        return "it is empty"
    if path.startswith("/") or _DRIVE.match(path):
        return "it is absolute"
    if "\\" in path or "\x00" in path:
        return "it holds a backslash or NUL byte"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return f"it has a {part or 'empty'!r} segment"
    return None


def safe_join(root: str | Path, rel: str, *, what: str = "path") -> Path:
    """``root / rel`` for a safe ``rel`` (:func:`unsafe_path_reason`), with no symbolic link
    on the way below ``root``: what a writer or reader of a folder it owns may touch.

    Components that do not exist yet are fine (a writer creates them). Raises
    :class:`UnsafePathError`.
    """
    reason = unsafe_path_reason(rel)
    if reason is not None:
        raise UnsafePathError(f"{what} {rel!r} is unsafe: {reason}", path=rel)
    base = Path(root)
    here = base
    for part in PurePosixPath(rel).parts:
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            break
        except NotADirectoryError:
            break
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePathError(
                f"{what} {rel!r} goes through the symbolic link {here}; embodex does not "
                f"follow links inside {base}",
                hint="Remove the link (whoever planted it may be redirecting writes).",
                path=rel,
            )
    return base.joinpath(*PurePosixPath(rel).parts)


def file_mode(secret: bool = False) -> int:
    """The mode a new file gets: 0600 for secrets, else 0666 less the process umask (0644
    under the usual umask 022, 0664 under 002 for a group-shared folder) — what ``cp`` does,
    so a folder channel shared by a centre account and a buyer account stays readable."""
    return 0o600 if secret else 0o666 & ~_UMASK


def _read_umask() -> int:
    # os.umask can only be read by setting it: done once, at import, before any thread
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def fsync_path(path: str | Path) -> None:
    """Flush the file ``path`` to disk (written through another handle, or by a library that
    does not fsync: PyAV, pyarrow)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fsync_path(path)


def replace_durably(src: str | Path, dst: str | Path) -> None:
    """Rename ``src`` over ``dst`` (atomic on POSIX) and fsync the directory."""
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same directory, are fsynced, then renamed
    over ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        replace_durably(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class FileLock:
    """An exclusive advisory lock on a file (``fcntl.flock``), released on process death.

    ``FileLock(path).acquire(blocking=False)`` returns False when another process holds it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, *, blocking: bool = True) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def held(self, *, blocking: bool = True) -> Iterator[bool]:
        got = self.acquire(blocking=blocking)
        try:
            yield got
        finally:
            if got:
                self.release()
