"""The buyer's dataset as generations: every change builds a new one, one rename makes it current.

A pull changes the buyer's dataset in two places that must agree: its episodes (a dataset
commit) and its QC manifest (``qc/manifest.json``, which names the dataset digest — the
loader refuses a QC manifest naming another digest as stale). Two writes cannot be one
commit, so the store never changes the dataset training reads. ``DIR/dataset`` is a
symbolic link to ``DIR/generations/NNNNNN/``; a change (a batch installed, a revocation
marked) is made in a new generation:

1. ``generations/NNNNNN.partial/`` is filled from the current generation: frame shards and
   content-named QC sidecars hard-linked (immutable: writers only ever add new ones), every
   other file copied, writer locks and journals left behind;
2. the change is made there (episodes appended, QC manifest rebuilt, episodes marked);
3. every directory is fsynced, the folder renamed to ``NNNNNN``;
4. a new link is renamed over ``DIR/dataset`` — **the switch** (one atomic rename).

A process killed before the switch leaves the previous generation current and complete
(the next change deletes the partial one); after it, the new one. A reader (``embodex.load``
resolves the link when it opens the dataset) keeps reading the generation it opened; the
last :data:`KEEP` generations stay on disk for such readers, older ones are deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..errors import DeliveryError
from ..fsutil import FileLock, fsync_dir

__all__ = ["KEEP", "current_generation", "new_generation"]

#: Generations kept on disk (the current one and those before it), for readers still on them.
KEEP = 3
_PARTIAL = ".partial"
#: Per-dataset writer state that must not travel to a new generation.
_SKIP = {".embodex/lock", "qc/.lock", ".embodex/txn"}


def _generations(root: Path) -> Path:
    return root / "generations"


def current_generation(link: Path) -> Path | None:
    """The generation ``link`` (``DIR/dataset``) points to; a plain directory (a store made
    before generations) counts as one; None when there is no dataset yet."""
    if link.is_symlink():
        return link.resolve()
    return link if (link / "embodex.json").exists() else None


def _numbers(gens: Path) -> list[int]:
    if not gens.is_dir():
        return []
    return sorted(int(p.name) for p in gens.iterdir() if p.name.isdigit())


def _immutable(rel: str) -> bool:
    """Files no writer changes once written (new content gets a new name): frame shards,
    stream shards and videos (format.md §7) and the QC sidecars named by their content
    (qc.md)."""
    if rel.startswith(("data/shard-", "streams/")) and rel.endswith(".arrow"):
        return True
    if rel.startswith("videos/") and rel.endswith(".mp4"):
        return True
    name = rel.removeprefix("qc/")
    return rel.startswith("qc/") and name.startswith(("findings-", "metrics-", "profile-"))


def _clone(src: Path, dest: Path) -> None:
    """``dest`` := a copy of dataset ``src``: immutable files hard-linked, the rest copied."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        dirnames[:] = [d for d in dirnames if (rel_dir / d).as_posix() not in _SKIP]
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if rel in _SKIP:
                continue
            s, d = Path(dirpath) / name, dest / rel
            if _immutable(rel):
                try:
                    os.link(s, d)
                    continue
                except OSError:
                    pass  # a file system without hard links: copy
            shutil.copy2(s, d)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, _ in os.walk(root):
        fsync_dir(dirpath)


def _switch(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (a new link renamed over the old one)."""
    tmp = link.with_name(f".{link.name}.link")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    if link.exists() and not link.is_symlink():
        # A store made before generations: its directory becomes generation 0 first. Between
        # these two renames DIR/dataset is missing for an instant (once per store, ever).
        os.replace(link, _generations(link.parent) / f"{0:06d}")
    os.replace(tmp, link)
    fsync_dir(link.parent)


def _prune(gens: Path, current: int) -> None:
    for p in gens.iterdir():
        if p.name.endswith(_PARTIAL) or (p.name.isdigit() and int(p.name) <= current - KEEP):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _held(dataset: Path | None) -> Iterator[None]:
    """Hold the current generation's dataset and QC locks: nobody writes into it while its
    successor is built from it (such a write would be lost at the switch)."""
    if dataset is None:
        yield
        return
    locks = [FileLock(dataset / ".embodex" / "lock")]
    if (dataset / "qc").is_dir():
        locks.append(FileLock(dataset / "qc" / ".lock"))
    taken: list[FileLock] = []
    try:
        for lock in locks:
            if not lock.acquire(blocking=False):
                raise DeliveryError(
                    f"{dataset} is being written by another program",
                    hint="Let it finish (a QC run or review on DIR/dataset), then pull again.",
                )
            taken.append(lock)
        yield
    finally:
        for lock in taken:
            lock.release()


@contextlib.contextmanager
def new_generation(link: Path) -> Iterator[Path]:
    """Yield a new generation of the dataset behind ``link`` to change; when the block ends
    without an error, make it current (see the module docstring). The yielded folder is a
    copy of the current dataset, or does not exist yet when there is none. On an error the
    current generation stays as it was. Raises :class:`DeliveryError` when another program
    writes into the current dataset.

    Example::

        with new_generation(store.dataset) as gen:
            copy_episodes(batch, gen, ids, append=(gen / "embodex.json").exists())
    """
    gens = _generations(link.parent)
    current = current_generation(link)
    with _held(current):
        numbers = _numbers(gens)
        number = max(numbers, default=0) + 1
        work = gens / f"{number:06d}{_PARTIAL}"
        if gens.is_dir():
            for p in gens.glob(f"*{_PARTIAL}"):
                shutil.rmtree(p)  # left by a process killed before its switch
        gens.mkdir(parents=True, exist_ok=True)
        if current is not None:
            _clone(current, work)
        yield work
        if not work.exists():
            return  # the caller changed nothing
        _fsync_tree(work)
        final = gens / f"{number:06d}"
        os.replace(work, final)
        fsync_dir(gens)
        _switch(link, final)
    _prune(gens, number)
