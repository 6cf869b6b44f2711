"""File names of a dataset directory and the commit protocol that keeps it readable.

Metadata files (``embodex.json``, ``episodes.arrow``, ``stats.json``, ``manifest.json``) are
replaced together through a journal directory: the writer stages all of them in
``.embodex/txn/``, renames that directory to ``.embodex/commit/`` (the commit point, one
atomic rename), then moves each file into place and removes the journal. Readers resolve
each metadata file through ``.embodex/commit/`` first, so from the commit point on they see
the new state, before it they see the old one. Frame shards are new files with new names,
unreferenced until a commit names them, so they never need replacing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..fsutil import fsync_dir

__all__ = [
    "COMMIT_DIR",
    "CONTROL_DIR",
    "DATA_DIR",
    "EPISODES_FILE",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "METADATA_FILES",
    "META_FILE",
    "STATS_FILE",
    "STREAM_DIR",
    "TXN_DIR",
    "VIDEO_DIR",
    "apply_commit",
    "is_content_file",
    "recover",
    "resolve",
    "shard_name",
    "stream_shard_name",
    "video_name",
]

META_FILE = "embodex.json"
EPISODES_FILE = "episodes.arrow"
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.json"
METADATA_FILES = (META_FILE, EPISODES_FILE, STATS_FILE, MANIFEST_FILE)
DATA_DIR = "data"
VIDEO_DIR = "videos"
STREAM_DIR = "streams"
CONTROL_DIR = ".embodex"
TXN_DIR = f"{CONTROL_DIR}/txn"
COMMIT_DIR = f"{CONTROL_DIR}/commit"
LOCK_FILE = f"{CONTROL_DIR}/lock"
PARTIAL_SUFFIX = ".partial"


def shard_name(seq: int) -> str:
    return f"{DATA_DIR}/shard-{seq:06d}.arrow"


def stream_shard_name(stream: str, seq: int) -> str:
    """A shard of one stream at its own rate (format 1.1): the stream's samples of the
    episodes in frame shard ``seq`` (the two roll over together)."""
    return f"{STREAM_DIR}/{stream}/shard-{seq:06d}.arrow"


def video_name(camera: str, episode_index: int) -> str:
    """The MP4 of one video camera's frames of one episode (format 1.1)."""
    return f"{VIDEO_DIR}/{camera}/episode-{episode_index:06d}.mp4"


def is_content_file(path: str) -> bool:
    """Frame shards, videos and stream shards: the files a manifest lists besides the
    metadata files."""
    return path.startswith((DATA_DIR + "/", VIDEO_DIR + "/", STREAM_DIR + "/"))


def resolve(root: Path, name: str) -> Path:
    """Where a reader finds metadata file ``name`` now (the committed-but-unapplied copy wins)."""
    staged = root / COMMIT_DIR / name
    return staged if staged.exists() else root / name


def apply_commit(root: Path) -> None:
    """Move a committed journal's files into place; idempotent, safe to re-run after a crash."""
    commit = root / COMMIT_DIR
    if not commit.is_dir():
        return
    for name in METADATA_FILES:
        src = commit / name
        if src.exists():
            os.replace(src, root / name)
    fsync_dir(root)
    shutil.rmtree(commit)
    fsync_dir(root / CONTROL_DIR)


def recover(root: Path, referenced_shards: set[str] | None) -> list[str]:
    """Bring a dataset directory back to its last committed state (writer lock held).

    Finishes a committed journal, drops an uncommitted one, and deletes shards, videos and
    partial files that no committed state references. Returns the paths removed.
    """
    removed: list[str] = []
    apply_commit(root)
    txn = root / TXN_DIR
    if txn.exists():
        shutil.rmtree(txn)
        removed.append(TXN_DIR)
    data = root / DATA_DIR
    if data.is_dir():
        for entry in sorted(data.iterdir()):
            rel = f"{DATA_DIR}/{entry.name}"
            ours = entry.name.startswith("shard-")
            orphan = referenced_shards is not None and rel not in referenced_shards
            if ours and (entry.name.endswith(PARTIAL_SUFFIX) or orphan):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                removed.append(rel)
        if removed:
            fsync_dir(data)
    for top, prefix in ((VIDEO_DIR, "episode-"), (STREAM_DIR, "shard-")):
        removed += _recover_subdirs(root, top, prefix, referenced_shards)
    return removed


def _recover_subdirs(root: Path, top: str, prefix: str, referenced: set[str] | None) -> list[str]:
    """Delete partial and unreferenced files named ``prefix*`` in ``root/top/<name>/``
    (per-camera base, per-stream shards)."""
    removed: list[str] = []
    base = root / top
    if base.is_dir():
        for sub in sorted(p for p in base.iterdir() if p.is_dir()):
            dropped = False
            for entry in sorted(sub.iterdir()):
                rel = f"{top}/{sub.name}/{entry.name}"
                ours = entry.name.startswith(prefix)
                orphan = referenced is not None and rel not in referenced
                if ours and (entry.name.endswith(PARTIAL_SUFFIX) or orphan):
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()
                    removed.append(rel)
                    dropped = True
            if dropped:
                fsync_dir(sub)
    return removed
