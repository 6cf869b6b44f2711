"""``DatasetWriter``: create or append to a dataset, one episode at a time, crash-safe."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import mmap
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..canonical import canonical_json, digest_json, sha256_bytes, sha256_file, to_pretty_json
from ..errors import CorruptDatasetError, DatasetExistsError, DatasetLockedError, SchemaError
from ..fsutil import FileLock, fsync_dir, fsync_path
from ..parsing import parse_document
from . import layout
from .episode import Episode, episode_meta_from_row
from .models import (
    FORMAT_VERSION,
    Camera,
    DatasetMeta,
    EpisodeMeta,
    FileEntry,
    Manifest,
    Stream,
)
from .schema import (
    episodes_schema,
    feature_arrow_type,
    frames_schema,
    stream_schema,
    upgrade_episodes,
)
from .stats import episode_feature_stats
from .videostore import VideoClip, VideoEncoding, encode_frames, probe_index, write_clip

if TYPE_CHECKING:
    from .staging import StagedEpisode

__all__ = ["DEFAULT_SHARD_BYTES", "DatasetWriter", "EpisodeEncoder", "write_video_file"]

DEFAULT_SHARD_BYTES = 256 * 1024 * 1024
#: Image bytes per record batch; keeps int32 binary offsets far from their 2 GiB limit.
BATCH_BYTES = 64 * 1024 * 1024
#: The background hasher is woken per this many new bytes, not per episode: each wake-up
#: takes the GIL from the writing thread, which costs far more than it saves when the
#: machine has no idle core.
HASH_STEP = 8 * 1024 * 1024
#: Episode rows not yet finalized are kept as Python dicts this many at a time, then as Arrow.
ROWS_PER_TABLE = 64


def _load_sync_file_range() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # start writeback, do not wait


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask Linux to start writing a range to disk without waiting (no-op elsewhere)."""
    if _SYNC_FILE_RANGE is not None and length > 0:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


class _ShardHasher:
    """Hashes a shard file while it is being written, in a background thread, and then
    asks the kernel to start writing the hashed range to disk.

    hashlib releases the GIL on large updates, so on two cores hashing overlaps with
    encoding and writing the next episode instead of costing a second pass at finalize;
    starting writeback here keeps that syscall off the writing thread too, and leaves
    closing the shard only the tail to fsync.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._hash = hashlib.sha256()
        self._done = 0
        self._target = 0
        self._closed = False
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embodex-hash", daemon=True)
        self._thread.start()

    def advance(self, upto: int) -> None:
        with self._cond:
            self._target = max(self._target, upto)
            self._cond.notify()

    def _run(self) -> None:
        try:
            with open(self._path, "rb") as f:
                while True:
                    with self._cond:
                        while self._done >= self._target and not self._closed:
                            self._cond.wait()
                        target, closed = self._target, self._closed
                    if self._done >= target and closed:
                        return
                    if target > self._done:
                        # hash straight from the page cache: no copy into Python bytes
                        with (
                            mmap.mmap(f.fileno(), target, access=mmap.ACCESS_READ) as m,
                            memoryview(m) as view,
                        ):
                            self._hash.update(view[self._done : target])
                        _start_writeback(f.fileno(), self._done, target - self._done)
                        self._done = target

        except BaseException as exc:  # surfaced in finish()
            self._error = exc

    def finish(self, size: int) -> str:
        self.advance(size)
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._hash.hexdigest()


class _OpenShard:
    def __init__(self, root: Path, name: str, schema: pa.Schema) -> None:
        self.name = name
        self.final = root / self.name
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.partial = root / (self.name + layout.PARTIAL_SUFFIX)
        self.sink = pa.OSFile(str(self.partial), "wb")
        self.writer = pa.ipc.new_file(self.sink, schema)
        self.hasher = _ShardHasher(self.partial)
        self.rows = 0
        self._advanced = 0

    def written(self) -> int:
        return int(self.sink.tell())

    def flushed(self) -> None:
        """After each episode: once HASH_STEP new bytes have piled up, hash them and start
        writing them to disk, both in the background, so closing the shard has only the
        tail left to wait for."""
        end = self.written()
        if end - self._advanced >= HASH_STEP:
            self.hasher.advance(end)
            self._advanced = end

    def close(self) -> FileEntry:
        self.end_writing()
        return self.seal()

    def end_writing(self) -> None:
        """Write the IPC footer; no more batches."""
        self.writer.close()

    def seal(self) -> FileEntry:
        """Make the shard durable under its final name: fsync, finish the hash, rename,
        fsync the folder. Safe to run in another thread once ``end_writing`` returned."""
        size = int(self.sink.tell())
        fsync_path(self.partial)
        self.sink.close()
        digest = self.hasher.finish(size)
        os.replace(self.partial, self.final)
        fsync_dir(self.final.parent)
        return FileEntry(path=self.name, size=size, sha256=digest)

    def abort(self) -> None:
        try:
            self.writer.close()
            self.sink.close()
        finally:
            self.hasher.finish(0)
            self.partial.unlink(missing_ok=True)


class EpisodeEncoder:
    """Turns an episode into the Arrow record batches and the episode-table row a dataset
    stores: the part of writing that needs no dataset folder, so a staging worker
    (:mod:`.staging`) builds exactly the bytes :class:`DatasetWriter` writes."""

    meta: DatasetMeta
    video_encoding: VideoEncoding

    def __init__(self, meta: DatasetMeta, video_encoding: VideoEncoding | None = None) -> None:
        self.meta = meta
        self.video_encoding = video_encoding or VideoEncoding()
        self._schemas()

    def _schemas(self) -> None:
        self._frames_schema = frames_schema(self.meta)
        self._episodes_schema = episodes_schema(self.meta)
        self._stream_schemas = {s.name: stream_schema(self.meta, s) for s in self.meta.streams}

    def _image_arrays(self, ep: Episode, n: int, videos: dict[str, _StoredVideo]) -> list[Any]:
        """Per camera, the encoded frames (or the video frames' timestamps) and the capture
        times as Arrow arrays (built once per episode; batches are zero-copy slices)."""
        arrays: list[Any] = []  # pa.Array, or pa.ChunkedArray past 2 GiB
        for cam in self.meta.cameras:
            video = videos.get(cam.name)
            if video is not None:
                arrays.append(pa.array(video.pts, pa.int64()))
                arrays.append(pa.array(video.key_pts, pa.int64()))
                cam_ts = ep.image_timestamps_ns.get(cam.name)
                arrays.append(pa.array(cam_ts if cam_ts is not None else [None] * n, pa.int64()))
                continue
            frames = ep.images.get(cam.name)
            # over 2 GiB of frames pyarrow returns int32-offset chunks: sliced per batch below
            arrays.append(pa.array(frames if frames is not None else [None] * n, pa.binary()))
            cam_ts = ep.image_timestamps_ns.get(cam.name)
            arrays.append(pa.array(cam_ts if cam_ts is not None else [None] * n, pa.int64()))
        return arrays

    def _stream_batch(self, stream: Stream, ep: Episode, index: int) -> pa.RecordBatch:
        ts, values = ep.streams[stream.name]
        cols: list[pa.Array] = [
            pa.array(np.full(len(ts), index, dtype=np.int64)),
            pa.array(ts, pa.int64()),
        ]
        for fname, spec in stream.feature_items():
            flat = pa.array(np.ascontiguousarray(values[fname]).reshape(-1))
            cols.append(pa.FixedSizeListArray.from_arrays(flat, type=feature_arrow_type(spec)))
        return pa.RecordBatch.from_arrays(cols, schema=self._stream_schemas[stream.name])

    def _frames_batch(
        self, ep: Episode, images: list[Any], index: int, lo: int, hi: int
    ) -> pa.RecordBatch:
        n = hi - lo
        cols: list[pa.Array] = [
            pa.array(np.full(n, index, dtype=np.int64)),
            pa.array(np.arange(lo, hi, dtype=np.int32)),
            pa.array(ep.timestamp_ns[lo:hi]),
        ]
        for name, spec in self.meta.feature_items():
            values = ep.features[name][lo:hi]
            flat = pa.array(np.ascontiguousarray(values).reshape(-1))
            cols.append(pa.FixedSizeListArray.from_arrays(flat, type=feature_arrow_type(spec)))
        for arr in images:
            part = arr.slice(lo, n)
            cols.append(part.combine_chunks() if isinstance(part, pa.ChunkedArray) else part)
        return pa.RecordBatch.from_arrays(cols, schema=self._frames_schema)

    def _episode_row(self, ep: Episode, index: int, shard: str, row_start: int) -> dict[str, Any]:
        m = ep.meta
        ts = ep.timestamp_ns
        start, end = int(ts[0]), int(ts[-1])
        duration = (end - start) / 1e9 + 1.0 / self.meta.fps
        row = m.model_dump(exclude={"extra", "segments"})
        row.update(
            episode_index=index,
            shard=shard,
            row_start=row_start,
            frame_count=ep.num_frames,
            start_time_ns=start,
            end_time_ns=end,
            duration_s=duration,
            segments=[s.model_dump() for s in m.segments],
            stats={name: episode_feature_stats(arr) for name, arr in ep.features.items()},
            extra=canonical_json(m.extra).decode(),
        )
        return row


class DatasetWriter(EpisodeEncoder):
    """Write episodes into a dataset directory; ``finalize()`` publishes them atomically.

    Create a new dataset with ``DatasetWriter(path, meta)``; add to an existing one with
    ``DatasetWriter(path, append=True)`` (old shards are never rewritten). Memory is bounded
    by one episode. Until ``finalize()`` returns, readers (and a crash) see the previous
    finalized state; ``finalize()`` may be called repeatedly to checkpoint. Used as a
    context manager, it finalizes on success and discards the unfinalized part on error.

    Example::

        with DatasetWriter("out/ds", meta) as w:
            for ep in episodes:
                w.add_episode(ep)

    Raises ``DatasetExistsError``, ``DatasetLockedError`` and ``SchemaError``.
    """

    def __init__(
        self,
        path: str | Path,
        meta: DatasetMeta | None = None,
        *,
        append: bool = False,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        wait_for_lock: bool = False,
        video_encoding: VideoEncoding | None = None,
    ) -> None:
        self.root = Path(path)
        self.shard_bytes = shard_bytes
        self.video_encoding = video_encoding or VideoEncoding()
        if (
            self.root.is_dir()
            and not (self.root / layout.CONTROL_DIR).is_dir()
            and any(self.root.iterdir())
        ):
            raise DatasetExistsError(
                f"{self.root} is not empty and is not an embodex dataset",
                hint="Choose a new or empty output directory; embodex never writes over files.",
                path=self.root,
            )
        for sub in (layout.DATA_DIR, layout.CONTROL_DIR, *layout.METADATA_FILES):
            # the writer owns this folder: it never writes through a link out of it
            if (self.root / sub).is_symlink():
                raise CorruptDatasetError(
                    f"{self.root / sub} is a symbolic link; a dataset holds plain files",
                    hint="Remove the link (a writer would write through it).",
                )
        (self.root / layout.CONTROL_DIR).mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.root / layout.LOCK_FILE)
        if not self._lock.acquire(blocking=wait_for_lock):
            raise DatasetLockedError(self.root)
        try:
            # Checked under the lock: a writer that just finished may have committed.
            exists = (self.root / layout.META_FILE).exists() or (
                self.root / layout.COMMIT_DIR / layout.META_FILE
            ).exists()
            if exists and not append:
                raise DatasetExistsError(f"{self.root} already holds a dataset", path=self.root)
            if not exists and meta is None:
                raise SchemaError(
                    f"{self.root} holds no dataset and no metadata was given",
                    hint="Pass the DatasetMeta (with its licence) to create a new dataset.",
                    path=self.root,
                )
            (self.root / layout.DATA_DIR).mkdir(exist_ok=True)
            self._load_state(meta if not exists else None)
            if exists and meta is not None:
                self._check_compatible(meta)
        except BaseException:
            self._lock.release()
            raise
        self._schemas()
        self._shard: _OpenShard | None = None
        #: the open shard of each stream; streams roll over with the frame shard
        self._stream_shards: dict[str, _OpenShard] = {}
        self._closed = False

    # -- state -------------------------------------------------------------------------

    def _load_state(self, new_meta: DatasetMeta | None) -> None:
        layout.apply_commit(self.root)
        self._committed_files: dict[str, FileEntry] = {}
        self._rows: list[dict[str, Any]] = []
        self._row_tables: list[pa.Table] = []
        self._old_episodes: pa.Table | None = None
        # Every dataset written is in the current format; appending to a 1.0 dataset
        # rewrites its episode table in 1.1 form (old shards stay as they are).
        if new_meta is not None:
            self.meta = new_meta.model_copy(update={"format_version": FORMAT_VERSION})
            layout.recover(self.root, referenced_shards=set())
        else:
            old_meta = parse_document(
                self.root / layout.META_FILE, DatasetMeta, SchemaError, follow_symlinks=False
            )
            self.meta = old_meta.model_copy(update={"format_version": FORMAT_VERSION})
            manifest = parse_document(
                self.root / layout.MANIFEST_FILE, Manifest, CorruptDatasetError,
                follow_symlinks=False,
            )  # fmt: skip
            self._committed_files = {f.path: f for f in manifest.files}
            content = {p for p in self._committed_files if layout.is_content_file(p)}
            layout.recover(self.root, referenced_shards=content)
            with pa.memory_map(str(self.root / layout.EPISODES_FILE)) as src:
                self._old_episodes = upgrade_episodes(pa.ipc.open_file(src).read_all())
        old = self._old_episodes
        self._ids: set[str] = (
            set(old.column("episode_id").to_pylist()) if old is not None else set()
        )
        self._next_index = old.num_rows if old is not None else 0
        seqs = [
            int(p.rsplit("-", 1)[1].split(".")[0])
            for p in self._committed_files
            if p.startswith((layout.DATA_DIR + "/shard-", layout.STREAM_DIR + "/"))
        ]
        self._next_seq = max(seqs) + 1 if seqs else 0
        self._pending_files: dict[str, FileEntry] = {}
        self._updates: dict[str, dict[str, Any]] = {}

    def _check_compatible(self, meta: DatasetMeta) -> None:
        if meta.schema_fingerprint() != self.meta.schema_fingerprint():
            raise SchemaError(
                f"{self.root}: the new episodes' features, cameras or fps differ from "
                "the dataset's",
                hint="Package them into a separate dataset, or convert them to this schema first.",
                path=self.root,
            )

    @property
    def num_episodes(self) -> int:
        """Episodes in the dataset including those not yet finalized."""
        return self._next_index

    # -- writing -----------------------------------------------------------------------

    def add_episode(self, episode: Episode) -> int:
        """Append one episode; returns its ``episode_index``.

        Raises ``SchemaError`` if the episode does not fit the dataset schema or its id is
        already in the dataset (ids are unique and stable across deliveries).
        """
        self._check_open()
        ep = episode.validated(self.meta)
        eid = ep.meta.episode_id
        self._check_new_id(eid)
        index = self._next_index
        n = ep.num_frames
        videos = self._write_videos(ep, index, n)
        shard = self._current_shard()
        row_start = shard.rows
        images = self._image_arrays(ep, n, videos)
        for lo, hi in _batch_ranges(images, n):
            shard.writer.write_batch(self._frames_batch(ep, images, index, lo, hi))
        shard.rows += n
        shard.flushed()
        row = self._episode_row(ep, index, shard.name, row_start)
        row.update({self.meta.camera(cam).video_column: v.path for cam, v in videos.items()})
        for stream in self.meta.streams:
            row.update(self._write_stream(stream, ep, index))
        return self._added(row, eid, shard)

    def _check_new_id(self, eid: str) -> None:
        if eid in self._ids:
            raise SchemaError(
                f"episode id {eid} is already in {self.root}",
                hint="Episode ids are global and stable: give a re-recording a new id.",
                path=self.root,
                episode_id=eid,
            )

    def _added(self, row: dict[str, Any], eid: str, shard: _OpenShard) -> int:
        """Keep an episode's row, roll the shard over when full; the episode's index."""
        self._rows.append(row)
        if len(self._rows) >= ROWS_PER_TABLE:
            # Python dicts of per-episode stats cost ~25 KB an episode; as Arrow ~6 KB
            self._row_tables.append(pa.Table.from_pylist(self._rows, schema=self._episodes_schema))
            self._rows = []
        self._ids.add(eid)
        index = self._next_index
        self._next_index += 1
        if shard.written() >= self.shard_bytes:
            self._close_shard()
        return index

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        for ep in episodes:
            self.add_episode(ep)

    def add_staged(self, staged: StagedEpisode) -> int:
        """Append an episode a worker already turned into files (:func:`.staging.stage_episode`):
        its video files are hard-linked into ``videos/`` (nothing re-encoded or re-hashed),
        its record batches copied into the current shard with this dataset's episode index.
        The bytes are those :meth:`add_episode` writes for the same episode, and the shard
        boundaries fall in the same places. Returns the ``episode_index``."""
        from .staging import read_staged_row, staged_batches

        self._check_open()
        eid = staged.episode_id
        self._check_new_id(eid)
        folder = Path(staged.folder)
        index = self._next_index
        video_cams = {c.name for c in self.meta.cameras if c.is_video}
        if set(staged.videos) != video_cams:  # names become paths below: only ours
            raise CorruptDatasetError(
                f"staged episode {eid} in {folder} has videos {sorted(staged.videos)}, the "
                f"dataset's video cameras are {sorted(video_cams)}",
                hint="Delete the staging folder and run the job again.",
            )
        row = read_staged_row(folder, self._episodes_schema)
        linked: list[str] = []
        try:
            for cam_name, (size, sha) in staged.videos.items():
                rel = layout.video_name(cam_name, index)
                final = self.root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                final.unlink(missing_ok=True)  # an orphan of a killed run (never committed)
                _link_or_copy(folder / f"{cam_name}.mp4", final, size)
                linked.append(rel)
                self._pending_files[rel] = FileEntry(path=rel, size=size, sha256=sha)
                row[self.meta.camera(cam_name).video_column] = rel
            for parent in {(self.root / rel).parent for rel in linked}:
                fsync_dir(parent)
        except BaseException:
            for rel in linked:
                (self.root / rel).unlink(missing_ok=True)
                self._pending_files.pop(rel, None)
            raise
        shard = self._current_shard()
        row.update(episode_index=index, shard=shard.name, row_start=shard.rows)
        for batch in staged_batches(folder, "frames", index):
            shard.writer.write_batch(batch)
        shard.rows += staged.frames
        shard.flushed()
        for stream in self.meta.streams:
            out = self._stream_shard(stream)
            m = staged.streams.get(stream.name, 0)
            row.update(
                {stream.shard_column: out.name, stream.start_column: out.rows,
                 stream.count_column: m}
            )  # fmt: skip
            if m:
                for batch in staged_batches(folder, f"stream-{stream.name}", index):
                    out.writer.write_batch(batch)
                out.rows += m
                out.flushed()
        return self._added(row, eid, shard)

    def _current_shard(self) -> _OpenShard:
        if self._shard is None:
            name = layout.shard_name(self._next_seq)
            self._shard = _OpenShard(self.root, name, self._frames_schema)
            self._next_seq += 1
        return self._shard

    def _close_shard(self) -> None:
        if self._shard is not None:
            entry = self._shard.close()
            self._pending_files[entry.path] = entry
            self._shard = None
        for stream_shard in self._stream_shards.values():
            entry = stream_shard.close()
            self._pending_files[entry.path] = entry
        self._stream_shards = {}

    def _write_stream(self, stream: Stream, ep: Episode, index: int) -> dict[str, Any]:
        """Append the episode's samples of one stream to the stream's shard of the current
        frame shard (same sequence number); returns the episode-table columns naming them."""
        ts = ep.streams[stream.name][0]
        out = self._stream_shard(stream)
        row_start, m = out.rows, len(ts)
        if m:
            out.writer.write_batch(self._stream_batch(stream, ep, index))
            out.rows += m
            out.flushed()
        return {
            stream.shard_column: out.name,
            stream.start_column: row_start,
            stream.count_column: m,
        }

    def _stream_shard(self, stream: Stream) -> _OpenShard:
        """The open shard of ``stream`` that goes with the current frame shard."""
        out = self._stream_shards.get(stream.name)
        if out is None:
            assert self._shard is not None  # opened for the episode's frames first
            seq = int(self._shard.name.rsplit("-", 1)[1].split(".")[0])
            name = layout.stream_shard_name(stream.name, seq)
            out = _OpenShard(self.root, name, self._stream_schemas[stream.name])
            self._stream_shards[stream.name] = out
        return out

    def _write_videos(self, ep: Episode, index: int, n: int) -> dict[str, _StoredVideo]:
        """Write the episode's video cameras into ``videos/`` (remuxed or encoded); each
        file is durable and hashed before the episode's rows name it."""
        out: dict[str, _StoredVideo] = {}
        try:
            for cam in self.meta.cameras:
                if cam.is_video:
                    out[cam.name] = self._write_video(ep, cam, index, n)
        except BaseException:
            for video in out.values():
                (self.root / video.path).unlink(missing_ok=True)
                self._pending_files.pop(video.path, None)
            raise
        return out

    def _write_video(self, ep: Episode, cam: Camera, index: int, n: int) -> _StoredVideo:
        rel = layout.video_name(cam.name, index)
        final = self.root / rel
        partial = self.root / (rel + layout.PARTIAL_SUFFIX)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            pts, key_pts = write_video_file(self.meta, self.video_encoding, ep, cam, n, partial)
            fsync_path(partial)
            size = partial.stat().st_size
            entry = FileEntry(path=rel, size=size, sha256=sha256_file(partial))
            os.replace(partial, final)
            fsync_dir(final.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self._pending_files[rel] = entry
        return _StoredVideo(rel, pts, key_pts)

    # -- committing --------------------------------------------------------------------

    def finalize(self) -> str:
        """Publish every episode added so far, atomically. Returns the dataset digest."""
        self._check_open()
        txn = self.root / layout.TXN_DIR
        if txn.exists():
            shutil.rmtree(txn)
        txn.mkdir(parents=True)
        # The open shard is sealed (fsync, hash, rename) in a worker while the metadata is
        # built; the metadata files are then fsynced concurrently, so the filesystem can
        # commit them in one journal transaction instead of one each. Inside the journal
        # plain fsynced writes suffice: the directory rename below is what makes them
        # visible, all together.
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="embodex-commit") as pool:
            sealing: list[Future[FileEntry]] = []
            open_shards = [self._shard] if self._shard is not None else []
            open_shards += self._stream_shards.values()
            for open_shard in open_shards:
                open_shard.end_writing()
                sealing.append(pool.submit(open_shard.seal))
            self._shard = None
            self._stream_shards = {}
            try:
                episodes, blobs = self._write_metadata(txn)
            finally:
                for seal in sealing:  # on error too: abort() must see the shard to delete it
                    entry = seal.result()
                    self._pending_files[entry.path] = entry
            files = dict(self._committed_files)
            files.update(self._pending_files)
            ep_path = txn / layout.EPISODES_FILE
            files[layout.EPISODES_FILE] = FileEntry(
                path=layout.EPISODES_FILE,
                size=ep_path.stat().st_size,
                sha256=sha256_file(ep_path),
            )
            for name, data in blobs.items():
                files[name] = FileEntry(path=name, size=len(data), sha256=sha256_bytes(data))
            entries = sorted(files.values(), key=lambda e: e.path)
            digest = dataset_digest(entries)
            manifest = Manifest(files=entries, digest=digest)
            blobs[layout.MANIFEST_FILE] = to_pretty_json(manifest.model_dump(mode="json"))
            jobs = [pool.submit(fsync_path, ep_path)]
            jobs += [pool.submit(_write_durable, txn / name, data) for name, data in blobs.items()]
            for job in jobs:
                job.result()
        fsync_dir(txn)
        os.replace(txn, self.root / layout.COMMIT_DIR)  # the commit point
        fsync_dir(self.root / layout.CONTROL_DIR)
        layout.apply_commit(self.root)
        self._committed_files = files
        self._pending_files = {}
        self._old_episodes = episodes
        self._rows = []
        self._row_tables = []
        self._updates = {}
        return digest

    def _write_metadata(self, txn: Path) -> tuple[pa.Table, dict[str, bytes]]:
        """Write ``episodes.arrow`` into ``txn`` (not yet fsynced); return the episode table
        and the bytes of ``embodex.json`` and ``stats.json``."""
        from .reader import compute_dataset_stats  # the reader owns stats merging

        episodes = self._episodes_table()
        stats = compute_dataset_stats(self.meta, episodes)
        with (
            pa.OSFile(str(txn / layout.EPISODES_FILE), "wb") as sink,
            pa.ipc.new_file(sink, self._episodes_schema) as w,
        ):
            w.write_table(episodes)
        return episodes, {
            layout.META_FILE: to_pretty_json(self.meta.model_dump(mode="json")),
            layout.STATS_FILE: to_pretty_json(stats.model_dump(mode="json")),
        }

    def update_episodes(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Change metadata of episodes already in the dataset (published at ``finalize``).

        ``updates`` maps episode id -> ``EpisodeMeta`` fields to replace (not
        ``episode_id``); ``extra`` is merged key by key. Frames are never touched. Raises
        ``SchemaError`` for an unknown episode or field, or a value the model rejects.
        """
        self._check_open()
        fields = set(EpisodeMeta.model_fields) - {"episode_id"}
        for eid, changes in updates.items():
            if eid not in self._ids:
                raise SchemaError(
                    f"episode {eid} is not in {self.root}", path=self.root, episode_id=eid
                )
            unknown = set(changes) - fields
            if unknown:
                raise SchemaError(
                    f"cannot update {sorted(unknown)} of episode {eid}",
                    hint=f"Updatable fields: {', '.join(sorted(fields))}.",
                    episode_id=eid,
                )
            try:  # validate the values now, not at finalize
                EpisodeMeta.model_validate({"episode_id": eid, **changes})
            except ValueError as exc:
                raise SchemaError(f"episode {eid}: invalid update: {exc}", episode_id=eid) from exc
            pending = self._updates.setdefault(eid, {})
            for key, value in changes.items():
                if key == "extra":
                    pending.setdefault("extra", {}).update(value)
                else:
                    pending[key] = value

    def _apply_updates(self, table: pa.Table) -> pa.Table:
        if not self._updates:
            return table
        rows = table.to_pylist()
        for row in rows:
            changes = self._updates.get(row["episode_id"])
            if not changes:
                continue
            meta = episode_meta_from_row(row)
            data = meta.model_dump()
            for key, value in changes.items():
                data[key] = {**data["extra"], **value} if key == "extra" else value
            try:
                updated = EpisodeMeta.model_validate(data)
            except ValueError as exc:
                raise SchemaError(f"episode {row['episode_id']}: invalid update: {exc}") from exc
            row.update(updated.model_dump(exclude={"extra", "segments"}))
            row["segments"] = [seg.model_dump() for seg in updated.segments]
            row["extra"] = canonical_json(updated.extra).decode()
        return pa.Table.from_pylist(rows, schema=self._episodes_schema)

    def _episodes_table(self) -> pa.Table:
        new = pa.concat_tables(
            [*self._row_tables, pa.Table.from_pylist(self._rows, schema=self._episodes_schema)]
        )
        if self._old_episodes is None:
            return self._apply_updates(new)
        old = self._old_episodes.cast(self._episodes_schema)
        return self._apply_updates(pa.concat_tables([old, new]))

    def abort(self) -> None:
        """Discard everything added since the last finalize and release the lock."""
        if self._closed:
            return
        try:
            if self._shard is not None:
                self._shard.abort()
                self._shard = None
            for stream_shard in self._stream_shards.values():
                stream_shard.abort()
            self._stream_shards = {}
            for entry in self._pending_files.values():
                (self.root / entry.path).unlink(missing_ok=True)
            self._pending_files = {}
            self._rows = []
            self._row_tables = []
            self._updates = {}
        finally:
            self._release()

    def close(self) -> str:
        """Finalize and release the lock."""
        try:
            return self.finalize()
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        self._lock.release()

    def _check_open(self) -> None:
        if self._closed:
            raise SchemaError("this DatasetWriter is closed", hint="Open a new DatasetWriter.")

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _StoredVideo:
    """A video written for one camera of one episode: its path and the kept frames' PTS
    and key-frame DTS."""

    __slots__ = ("key_pts", "path", "pts")

    def __init__(self, path: str, pts: np.ndarray, key_pts: np.ndarray) -> None:
        self.path = path
        self.pts = pts
        self.key_pts = key_pts


def write_video_file(
    meta: DatasetMeta, encoding: VideoEncoding, ep: Episode, cam: Camera, n: int, dst: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Write camera ``cam``'s video of episode ``ep`` to ``dst`` (remuxed or encoded, not
    yet fsynced) and check it against the camera; returns the kept frames' PTS and
    key-frame PTS. The writer and a staging worker (:mod:`.staging`) share it."""
    eid = ep.meta.episode_id
    source = ep.images.get(cam.name)
    if source is None:
        raise SchemaError(
            f"episode {eid}: video camera {cam.name!r} has no frames",
            hint="A video camera needs its frames in every episode (a VideoClip or an "
            "array of RGB frames).",
        )
    if isinstance(source, VideoClip) and not source.reencode:
        offset = write_clip(source, dst)
    else:
        frames = (
            source.decode()
            if isinstance(source, VideoClip)
            else source
            if isinstance(source, np.ndarray)
            else np.stack(list(source))
        )
        offset = 0
        encode_frames(
            frames, dst, codec=cam.encoding, fps=meta.fps,
            width=cam.width, height=cam.height, encoding=encoding,
        )  # fmt: skip
    index_ = probe_index(dst)
    if index_.codec != cam.encoding or (index_.width, index_.height) != (cam.width, cam.height):
        raise SchemaError(
            f"episode {eid}: camera {cam.name!r} video is {index_.codec_name} "
            f"{index_.width}x{index_.height}, the camera is {cam.encoding} "
            f"{cam.width}x{cam.height}",
            hint="Re-encode the recording to the camera's codec and size "
            "(`transcode_dataset(...)`, or the importer's "
            "`VideoPolicy(reencode='auto')`).",
            episode_id=eid,
        )
    kept = slice(offset, offset + n)
    if offset + n > index_.frames or not index_.has_key[kept].all():
        raise SchemaError(
            f"episode {eid}: camera {cam.name!r} video holds "
            f"{index_.frames - offset} usable frames, the episode has {n} timestamps",
            hint="Drop or pad frames so the camera and joint streams align.",
        )
    return index_.pts[kept].copy(), index_.key_pts[kept].copy()


def dataset_digest(entries: Iterable[FileEntry]) -> str:
    """The dataset digest: sha256 of the canonical JSON of the sorted file list."""
    files = sorted((e.model_dump() for e in entries), key=lambda d: str(d["path"]))
    return digest_json({"files": files})


def _batch_ranges(images: list[Any], n: int) -> list[tuple[int, int]]:
    """Row ranges whose image bytes stay under BATCH_BYTES (one range for most episodes)."""
    binaries = [a for a in images if pa.types.is_binary(a.type)]
    if sum(a.nbytes for a in binaries) <= BATCH_BYTES:
        return [(0, n)]
    sizes = np.zeros(n, dtype=np.int64)
    for arr in binaries:
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        sizes += np.concatenate(
            [pc.binary_length(c).fill_null(0).to_numpy().astype(np.int64) for c in chunks]
        )
    ends = np.cumsum(sizes)
    ranges: list[tuple[int, int]] = []
    lo = 0
    while lo < n:
        base = int(ends[lo - 1]) if lo else 0
        hi = int(np.searchsorted(ends, base + BATCH_BYTES, side="right"))
        hi = max(hi, lo + 1)  # a single frame larger than a batch still gets one
        ranges.append((lo, hi))
        lo = hi
    return ranges


def _link_or_copy(src: Path, dst: Path, size: int) -> None:
    """Make the staged file ``src`` appear at ``dst``: a hard link (the staged copy stays
    until the run is published, so a re-run after a crash can still use it), or a durable
    copy where the file system cannot link."""
    if src.stat().st_size != size:
        raise CorruptDatasetError(
            f"staged file {src} is {src.stat().st_size} bytes, its record says {size}",
            hint="Delete the staging folder and run the job again.",
        )
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(dst.name + layout.PARTIAL_SUFFIX)
        shutil.copyfile(src, tmp)
        fsync_path(tmp)
        os.replace(tmp, dst)


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
