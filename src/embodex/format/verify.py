"""Full verification of a dataset: hashes, schema and frame/episode bookkeeping."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..canonical import sha256_file
from ..errors import CorruptDatasetError, SchemaError, VerificationError
from ..units import count
from . import layout
from .models import Camera, Stream
from .reader import Dataset, compute_dataset_stats, open_dataset
from .schema import episodes_schema, frames_schema, stream_schema
from .videostore import probe_index
from .writer import dataset_digest

__all__ = ["VerifyReport", "check_files", "verify_dataset"]


@dataclass
class VerifyReport:
    """What ``verify_dataset`` checked and every problem it found."""

    path: str
    digest: str
    files: int = 0
    bytes: int = 0
    episodes: int = 0
    frames: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: ids of the episodes whose frames are in a damaged, missing or unreadable shard
    damaged_episodes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "digest": self.digest,
            "files": self.files,
            "bytes": self.bytes,
            "episodes": self.episodes,
            "frames": self.frames,
            "problems": self.problems,
            "damaged_episodes": self.damaged_episodes,
            "notes": self.notes,
        }

    def raise_for_problems(self) -> None:
        """Raise ``VerificationError`` listing every problem, when there is one."""
        if self.problems:
            raise VerificationError(self.problems)


#: What a dataset folder holds outside its manifest: the manifest itself, the writer's
#: control folder and the QC results (which the QC manifest lists and hashes).
_OUTSIDE_MANIFEST = {layout.MANIFEST_FILE}
_OUTSIDE_DIRS = (layout.CONTROL_DIR + "/", "qc/")


def _unlisted(root: Path, listed: set[str]) -> list[tuple[str, bool]]:
    """Every file (or link) below ``root`` the manifest does not cover, with whether it is a
    symbolic link; links to folders are reported, not followed."""
    out: list[tuple[str, bool]] = []
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                out.append(((here / name).relative_to(root).as_posix(), True))
        for name in sorted(files):
            rel = (here / name).relative_to(root).as_posix()
            is_link = (here / name).is_symlink()
            if is_link and rel not in listed:
                out.append((rel, True))
            elif rel not in listed | _OUTSIDE_MANIFEST and not rel.startswith(_OUTSIDE_DIRS):
                out.append((rel, False))
    return sorted(out)


def _symlink_below(root: Path, rel: str) -> Path | None:
    """The first symbolic link on the way from ``root`` to ``rel``, or None."""
    here = root
    for part in rel.split("/"):
        here = here / part
        if here.is_symlink():
            return here
    return None


def check_files(ds: Dataset, names: Iterable[str]) -> None:
    """Check that the files ``names`` (paths in the manifest) are plain files with the size
    and sha256 the manifest gives: before their bytes are copied on (a publish must not sign
    and ship damage). Raises ``VerificationError`` listing each bad file."""
    entries = {e.path: e for e in ds.manifest.files}
    problems = []
    for name in sorted(set(names)):
        entry = entries.get(name)
        p = ds.root / name
        link = _symlink_below(ds.root, name)
        if entry is None:
            problems.append(f"{name}: not in the manifest")
        elif link is not None:
            problems.append(f"{name}: {link} is a symbolic link")
        elif not p.is_file():
            problems.append(f"{name}: missing")
        elif p.stat().st_size != entry.size or sha256_file(p) != entry.sha256:
            problems.append(f"{name}: does not match the manifest (size or sha256)")
    if problems:
        raise VerificationError(
            [f"{ds.root}/{p}" for p in problems],
            hint="Restore the damaged files first; `verify_dataset(root)` lists them all.",
            path=ds.root,
        )


def verify_dataset(
    path: str | Path | Dataset,
    *,
    hashes: bool = True,
    raise_on_error: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check every file's size and sha256, the schemas and the bookkeeping.

    Raises ``VerificationError`` listing every problem (unless ``raise_on_error=False``, when
    the problems are only in the report). For progress bars, ``on_start`` gets the bytes to
    check and ``on_bytes`` each file's size as it is hashed.
    """
    ds = path if isinstance(path, Dataset) else open_dataset(path)
    if on_start is not None:
        on_start(sum(f.size for f in ds.manifest.files))
    root = ds.root
    report = VerifyReport(path=str(root), digest=ds.digest)
    problems = report.problems
    shard_col = ds.episodes.column("shard").to_pylist()
    in_shard: dict[str, list[str]] = {}  # a shard or video → the episodes whose frames it holds
    episode_ids = ds.episodes.column("episode_id").to_pylist()
    for eid, shard in zip(episode_ids, shard_col, strict=True):
        in_shard.setdefault(shard, []).append(eid)
    video_cols = [c.video_column for c in ds.meta.cameras if c.is_video]
    for col in video_cols:
        for eid, video in zip(episode_ids, ds.episodes.column(col).to_pylist(), strict=True):
            in_shard.setdefault(str(video), []).append(eid)
    for stream in ds.meta.streams:
        for eid, shard in zip(
            episode_ids, ds.episodes.column(stream.shard_column).to_pylist(), strict=True
        ):
            if eid not in in_shard.get(str(shard), []):
                in_shard.setdefault(str(shard), []).append(eid)
    damaged: set[str] = set()

    def bad_file(name: str, problem: str) -> None:
        """A problem with a file; for a shard, name the episodes whose frames it holds."""
        ids = in_shard.get(name, [])
        damaged.update(ids)
        problems.append(f"{name}: {problem}{_episodes_note(ids)}")

    # 1. files against the manifest
    for entry in ds.manifest.files:
        p = layout.resolve(root, entry.path) if "/" not in entry.path else root / entry.path
        link = _symlink_below(root, entry.path)
        if link is not None:
            # a link could make verify hash (and a copy ship) a file outside the dataset
            bad_file(entry.path, f"{link} is a symbolic link; a dataset holds plain files")
            continue
        if not p.exists():
            bad_file(entry.path, "missing")
            continue
        size = p.stat().st_size
        if size != entry.size:
            bad_file(entry.path, f"{size} bytes, manifest says {entry.size}")
        elif hashes and sha256_file(p) != entry.sha256:
            bad_file(entry.path, "sha256 does not match the manifest")
        report.files += 1
        report.bytes += size
        if on_bytes is not None:
            on_bytes(size)
    if dataset_digest(ds.manifest.files) != ds.manifest.digest:
        problems.append("manifest.json: digest does not match its file list")
    listed = {e.path for e in ds.manifest.files}
    for rel, is_link in _unlisted(root, listed):
        if is_link:
            problems.append(f"{rel}: a symbolic link inside the dataset (not in the manifest)")
        elif layout.is_content_file(rel):
            report.notes.append(f"{rel}: not in the manifest (left by an interrupted write)")
        else:
            report.notes.append(f"{rel}: not in the manifest (not part of the dataset)")
    for col in video_cols:
        for eid, video in zip(episode_ids, ds.episodes.column(col).to_pylist(), strict=True):
            if video not in listed:
                damaged.add(eid)
                problems.append(f"{video}: named by episode {eid} but not in the manifest")

    # 2. schemas
    if not ds.episodes.schema.equals(episodes_schema(ds.meta), check_metadata=False):
        problems.append("episodes.arrow: schema differs from the one embodex.json implies")
    expected_frames = frames_schema(ds.meta)

    # 3. bookkeeping
    ep = ds.episodes
    report.episodes = ep.num_rows
    indices = ep.column("episode_index").to_numpy()
    if not np.array_equal(np.sort(indices), np.arange(len(indices))):
        problems.append("episodes.arrow: episode_index is not 0..N-1")
    ids = ep.column("episode_id")
    if pc.count_distinct(ids).as_py() != len(ids):
        problems.append("episodes.arrow: episode_id values are not unique")
    by_shard: dict[str, list[dict[str, int]]] = {}
    for row in ep.select(
        [
            "episode_index",
            "episode_id",
            "shard",
            "row_start",
            "frame_count",
            "start_time_ns",
            "end_time_ns",
        ]
    ).to_pylist():
        by_shard.setdefault(row["shard"], []).append(row)
    for shard_name, rows in sorted(by_shard.items()):
        table = _open_shard(
            ds, shard_name, listed, in_shard, expected_frames, problems, damaged,
            unlisted_damages=(), schema_differs="the one embodex.json implies",
        )  # fmt: skip
        if table is None:
            continue
        _check_shard(shard_name, table, rows, problems)
        report.frames += sum(r["frame_count"] for r in rows)
    stream_shards: set[str] = set()
    for stream in ds.meta.streams:
        stream_shards |= _check_stream(ds, stream, listed, in_shard, damaged, problems)
    unused = {
        p for p in listed if p.startswith((layout.DATA_DIR + "/", layout.STREAM_DIR + "/"))
    } - (set(by_shard) | stream_shards)
    for name in sorted(unused):
        report.notes.append(f"{name}: listed but holds no episode")
    if hashes:  # demuxing every video costs about what hashing it does
        for cam in (c for c in ds.meta.cameras if c.is_video):
            _check_videos(ds, cam, listed, damaged, problems)

    # 4. derived statistics
    if not ds.is_view:
        recomputed = compute_dataset_stats(ds.meta, ep)
        if recomputed.frames != ds.stats.frames or recomputed.episodes != ds.stats.episodes:
            problems.append("stats.json: frame or episode count disagrees with episodes.arrow")

    report.damaged_episodes = [eid for eid in ds.episode_ids if eid in damaged]
    if problems and raise_on_error:
        raise VerificationError(problems, path=ds.root)
    return report


def _check_videos(
    ds: Dataset, cam: Camera, listed: set[str], damaged: set[str], problems: list[str]
) -> None:
    """Each episode's video holds the frames its rows name (by PTS), each decodable from
    the key frame its row names (format §4.3): demuxed, no frame decoded."""
    for view in ds:
        rel = str(view.row[cam.video_column])
        if rel not in listed or not (ds.root / rel).is_file():
            continue  # reported with the files
        rows = view.arrow([cam.column, cam.key_column])
        pts = rows.column(0).to_numpy()
        keys = rows.column(1).to_numpy()
        try:
            index = probe_index(ds.root / rel)
        except (SchemaError, av.error.FFmpegError, OSError) as exc:
            damaged.add(view.episode_id)
            problems.append(f"{rel}: unreadable video ({exc}) (holds episode {view.episode_id})")
            continue
        at = np.searchsorted(index.pts, pts)
        found = (at < index.frames) & (index.pts[np.minimum(at, index.frames - 1)] == pts)
        if not found.all():
            damaged.add(view.episode_id)
            missing = int((~found).sum())
            problems.append(
                f"{rel}: {count(missing, 'frame')} episode {view.episode_id} names "
                f"{'is' if missing == 1 else 'are'} not in the video"
            )
            continue
        if not (index.has_key[at].all() and np.array_equal(index.key_pts[at], keys)):
            damaged.add(view.episode_id)
            problems.append(
                f"{rel}: the key frames episode {view.episode_id}'s rows name are not the "
                "video's (a seek would decode from the wrong frame)"
            )


def _open_shard(
    ds: Dataset,
    name: str,
    listed: set[str],
    in_shard: dict[str, list[str]],
    expected: pa.Schema,
    problems: list[str],
    damaged: set[str],
    *,
    unlisted_damages: Iterable[str],
    schema_differs: str,
) -> pa.Table | None:
    """A frame or stream shard the episodes name, opened and of the expected schema; None
    (with the problem recorded) when the manifest does not list it, it does not open, or its
    schema differs from ``schema_differs``."""
    if name not in listed:
        problems.append(f"{name}: named by episodes but not in the manifest")
        damaged.update(unlisted_damages)
        return None
    try:
        table = ds.shard_table(name)
    except CorruptDatasetError as exc:
        ids = in_shard.get(name, [])
        damaged.update(ids)
        problems.append(f"{exc}{_episodes_note(ids)}")
        return None
    if not table.schema.equals(expected, check_metadata=False):
        problems.append(f"{name}: schema differs from {schema_differs}")
        return None
    return table


def _check_stream(
    ds: Dataset,
    stream: Stream,
    listed: set[str],
    in_shard: dict[str, list[str]],
    damaged: set[str],
    problems: list[str],
) -> set[str]:
    """Each episode's samples of ``stream``: in a listed shard of the right schema, rows
    contiguous and covering the shard, the episode's own index, times strictly increasing.
    Returns the stream shards the episodes name."""
    expected = stream_schema(ds.meta, stream)
    cols = ["episode_index", "episode_id", stream.shard_column, stream.start_column]
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for row in ds.episodes.select([*cols, stream.count_column]).to_pylist():
        by_shard.setdefault(str(row[stream.shard_column]), []).append(row)
    for name, rows in sorted(by_shard.items()):
        table = _open_shard(
            ds, name, listed, in_shard, expected, problems, damaged,
            unlisted_damages=[r["episode_id"] for r in rows],
            schema_differs=f"stream {stream.name!r} in embodex.json",
        )  # fmt: skip
        if table is None:
            continue
        ep_col = table.column("episode_index").to_numpy()
        ts_col = table.column("timestamp_ns").to_numpy()
        covered = 0
        for row in sorted(rows, key=lambda r: (r[stream.start_column], r["episode_index"])):
            lo, n, eid = row[stream.start_column], row[stream.count_column], row["episode_id"]
            if lo != covered or lo + n > table.num_rows:
                problems.append(
                    f"{name}: episode {eid}: stream rows {lo}..{lo + n} leave a gap, overlap "
                    f"or run past the shard's {table.num_rows} rows"
                )
                damaged.add(eid)
                covered = max(covered, lo + n)
                continue
            if not (ep_col[lo : lo + n] == row["episode_index"]).all():
                problems.append(f"{name}: episode {eid}: samples carry another episode_index")
                damaged.add(eid)
            if n > 1 and not (np.diff(ts_col[lo : lo + n]) > 0).all():
                problems.append(f"{name}: episode {eid}: stream times are not strictly increasing")
                damaged.add(eid)
            covered = lo + n
        if covered != table.num_rows:
            problems.append(
                f"{name}: {table.num_rows - covered} trailing rows belong to no episode"
            )
    return set(by_shard)


def _episodes_note(ids: list[str], show: int = 5) -> str:
    if not ids:
        return ""
    more = f" and {len(ids) - show} more" if len(ids) > show else ""
    word = "episode" if len(ids) == 1 else "episodes"
    return f" (holds {word} {', '.join(ids[:show])}{more})"


def _check_shard(
    name: str, table: pa.Table, rows: list[dict[str, int]], problems: list[str]
) -> None:
    ep_col = table.column("episode_index").to_numpy()
    fi_col = table.column("frame_index").to_numpy()
    ts_col = table.column("timestamp_ns").to_numpy()
    covered = 0
    for row in sorted(rows, key=lambda r: r["row_start"]):
        lo, n = row["row_start"], row["frame_count"]
        eid = row["episode_id"]
        if lo != covered:
            problems.append(
                f"{name}: rows {covered}..{lo} belong to no episode, or overlap ({eid})"
            )
        if lo + n > table.num_rows:
            problems.append(f"{name}: episode {eid} rows {lo}..{lo + n} past the shard's end")
            covered = lo + n
            continue
        if not (ep_col[lo : lo + n] == row["episode_index"]).all():
            problems.append(f"{name}: episode {eid}: frames carry another episode_index")
        if not np.array_equal(fi_col[lo : lo + n], np.arange(n)):
            problems.append(f"{name}: episode {eid}: frame_index is not 0..{n - 1}")
        ts = ts_col[lo : lo + n]
        if n > 1 and not (np.diff(ts) > 0).all():
            problems.append(f"{name}: episode {eid}: timestamps are not strictly increasing")
        if n and (int(ts[0]) != row["start_time_ns"] or int(ts[-1]) != row["end_time_ns"]):
            problems.append(f"{name}: episode {eid}: start/end times disagree with its frames")
        covered = lo + n
    if covered != table.num_rows:
        problems.append(f"{name}: {table.num_rows - covered} trailing rows belong to no episode")
