"""Trim episodes to a kept frame range, into a new dataset (specs/format.md §10).

A trim keeps the half-open frame range ``[start, end)`` of an episode: every feature,
camera and timestamp column is cut to it (images copied as stored, capture times kept),
sub-task segments are clipped and shifted, per-episode statistics are recomputed by the
writer, and the episode keeps its id (it is the same recording). What was cut is recorded in
the episode's ``extra.trim`` (:class:`TrimRecord`), which the provenance chain reads.

The source is never modified: the result is a new dataset written with
:func:`~embodex.format.copy_episodes` (atomic publish, like any writer).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .._version import __version__
from ..errors import DatasetExistsError, TrimError
from . import layout
from .copy import copy_episodes
from .episode import Episode, StreamInput
from .models import Segment, TrimRecord
from .reader import Dataset, open_dataset

__all__ = [
    "TRIM_KEY",
    "Cut",
    "TrimRecord",
    "TrimResult",
    "clip_segments",
    "collect_cuts",
    "parse_frame_range",
    "trim_episodes",
]

#: The key of ``EpisodeMeta.extra`` that records a trim.
TRIM_KEY = "trim"
_RANGE = re.compile(r"^\s*(\d+)\s*:\s*(\d*)\s*$")


@dataclass(frozen=True)
class Cut:
    """Keep frames ``[start, end)`` of an episode (``end=None``: to its last frame)."""

    start: int
    end: int | None = None
    reason: str = "manual"

    def __str__(self) -> str:
        return f"{self.start}:{'' if self.end is None else self.end}"


@dataclass(frozen=True)
class TrimResult:
    """What :func:`trim_episodes` wrote: the new dataset and each trimmed episode's record."""

    dataset: Dataset
    trimmed: dict[str, TrimRecord]
    frames_before: int
    frames_after: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json``)."""
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json``)."""
        return {
            "dataset": str(self.dataset.root),
            "digest": self.dataset.digest,
            "episodes": len(self.dataset),
            "frames_before": self.frames_before,
            "frames_after": self.frames_after,
            "trimmed": {
                eid: {
                    "kept": list(r.kept),
                    "original_frames": r.original_frames,
                    "removed": r.removed,
                    "reason": r.reason,
                }
                for eid, r in self.trimmed.items()
            },
        }


def parse_frame_range(text: str) -> tuple[int, int | None]:
    """``"76:300"`` → ``(76, 300)``; ``"76:"`` → ``(76, None)`` (to the last frame).

    Raises :class:`TrimError` for anything else.
    """
    m = _RANGE.match(text)
    if m is None:
        raise TrimError(
            f"{text!r} is not a frame range START:END",
            hint="Give the kept frames as START:END (END exclusive, may be left out), e.g. 76:300.",
        )
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


def collect_cuts(
    specs: Iterable[tuple[str, Cut | tuple[int, int | None] | str]],
) -> dict[str, Cut]:
    """Cuts by episode id from ``(episode_id, cut)`` pairs; a cut is a :class:`Cut`, a
    ``(start, end)`` pair or ``"START:END"`` text (reason ``manual``).

    Raises :class:`TrimError` when an episode is given more than one range.
    """
    out: dict[str, Cut] = {}
    for eid, spec in specs:
        cut = _as_cut(spec)
        if eid in out:
            raise TrimError(
                f"episode {eid} is given two kept ranges ({out[eid]} and {cut})",
                hint="Give one START:END range per episode: the frames to keep.",
                episode_id=eid,
            )
        out[eid] = cut
    return out


def _as_cut(spec: Cut | tuple[int, int | None] | str) -> Cut:
    if isinstance(spec, Cut):
        return spec
    if isinstance(spec, str):
        return Cut(*parse_frame_range(spec))
    return Cut(int(spec[0]), None if spec[1] is None else int(spec[1]))


def clip_segments(segments: Sequence[Segment], start: int, end: int) -> list[Segment]:
    """Segments clipped to frames ``[start, end)`` and shifted so ``start`` becomes 0;
    segments wholly outside are dropped."""
    out = []
    for s in segments:
        a, b = max(s.start_frame, start), min(s.end_frame, end)
        if a < b:
            out.append(s.model_copy(update={"start_frame": a - start, "end_frame": b - start}))
    return out


def _resolve(src: Dataset, cuts: Mapping[str, Cut | tuple[int, int | None]]) -> dict[str, Cut]:
    """Check every cut against the source before anything is written; drop no-op cuts."""
    known = set(src.episode_ids)
    out: dict[str, Cut] = {}
    for eid, spec in cuts.items():
        cut = _as_cut(spec)
        if eid not in known:
            raise TrimError(
                f"episode {eid} is not in {src.root}",
                hint="List the ids with `dataset.episode_ids`.",
                path=src.root,
                episode_id=eid,
            )
        n = src.episode(eid).frame_count
        end = n if cut.end is None else cut.end
        if cut.start < 0 or end > n:
            raise TrimError(
                f"episode {eid}: frames {cut.start}:{end} are out of range (it has {n} frames, "
                f"0..{n - 1})",
                hint=f"Give a range inside 0:{n} (START:END, END exclusive).",
                episode_id=eid,
            )
        if cut.start >= end:
            raise TrimError(
                f"episode {eid}: frames {cut.start}:{end} keep no frame",
                hint="START must be below END (END is exclusive); to drop the whole episode, "
                "copy the others instead.",
                episode_id=eid,
            )
        if (cut.start, end) != (0, n):  # keeping everything leaves the episode as it is
            out[eid] = Cut(cut.start, end, cut.reason)
    return out


def _record(old: Any, n: int, cut: Cut, tool: str) -> TrimRecord:
    """The new ``extra.trim``: composed with an earlier embodex trim, so ``kept`` always
    counts frames of the original recording; another tool's record is kept as found."""
    assert cut.end is not None
    prev = None
    if isinstance(old, dict):
        with contextlib.suppress(ValidationError):  # not ours: kept as ``previous``
            prev = TrimRecord.model_validate(old)
    if prev is None:
        return TrimRecord(
            original_frames=n, kept=(cut.start, cut.end), reason=cut.reason, tool=tool, previous=old
        )
    offset = prev.kept[0]
    reasons = list(dict.fromkeys([*prev.reason.split("+"), cut.reason]))
    return TrimRecord(
        original_frames=prev.original_frames,
        kept=(offset + cut.start, offset + cut.end),
        reason="+".join(reasons),
        tool=tool,
        previous=prev.previous,
    )


def _trimmer(
    cuts: Mapping[str, Cut], tool: str, records: dict[str, TrimRecord]
) -> Callable[[Episode], Episode]:
    def trim(episode: Episode) -> Episode:
        cut = cuts.get(episode.meta.episode_id)
        if cut is None:
            return episode
        assert cut.end is not None
        a, b = cut.start, cut.end
        record = _record(episode.meta.extra.get(TRIM_KEY), episode.num_frames, cut, tool)
        records[episode.meta.episode_id] = record
        meta = episode.meta.model_copy(
            update={
                "segments": clip_segments(episode.meta.segments, a, b),
                "extra": {
                    **episode.meta.extra,
                    TRIM_KEY: record.model_dump(mode="json", exclude_none=True),
                },
            }
        )
        return Episode(
            meta=meta,
            timestamp_ns=episode.timestamp_ns[a:b],
            features={k: v[a:b] for k, v in episode.features.items()},
            images={k: v[a:b] for k, v in episode.images.items()},
            image_timestamps_ns={k: v[a:b] for k, v in episode.image_timestamps_ns.items()},
            streams={
                k: cut_stream(v, episode.timestamp_ns, a, b) for k, v in episode.streams.items()
            },
        )

    return trim


def cut_stream(samples: StreamInput, frame_ts: np.ndarray, a: int, b: int) -> StreamInput:
    """The samples of a stream that fall in kept frames ``[a, b)``, cut by time (§10): from
    the capture time of frame ``a`` up to (not including) that of frame ``b``. An end that is
    not cut keeps every sample beyond it (a stream may start before the first frame or run on
    after the last)."""
    ts, values = samples
    lo = 0 if a == 0 else int(np.searchsorted(ts, frame_ts[a], side="left"))
    hi = len(ts) if b >= len(frame_ts) else int(np.searchsorted(ts, frame_ts[b], side="left"))
    return ts[lo:hi], {k: v[lo:hi] for k, v in values.items()}


def trim_episodes(
    source: Dataset | str | Path,
    dest: str | Path,
    cuts: Mapping[str, Cut | tuple[int, int | None]],
    *,
    on_episode: Callable[[str], None] | None = None,
    shard_bytes: int | None = None,
) -> TrimResult:
    """Write every episode of ``source`` to the new dataset ``dest``, those in ``cuts`` cut
    to their kept frame range.

    ``cuts`` maps episode id → :class:`Cut` or ``(start, end)`` (half-open, ``end=None`` for
    the last frame; reason ``manual``). Images are copied as stored, capture times kept,
    segments clipped, statistics recomputed, ids unchanged; each trimmed episode gets
    ``extra.trim`` (:class:`TrimRecord`). A range covering the whole episode changes nothing.
    The dataset metadata (licence, provenance) is carried over; QC results are not (run QC
    on ``dest``). Every cut is checked before anything is written.

    Raises :class:`TrimError` (unknown episode, empty or out-of-range range),
    ``DatasetExistsError`` (``dest`` holds a dataset or other files). ``source`` is never
    modified; a crash leaves ``dest`` without a published dataset and a re-run starts over.

    Example::

        trim_episodes("datasets/week01", "datasets/week01-trimmed",
                      {"hubei:0007": (76, 300), "hubei:0012": Cut(0, 250, "manual")})
    """

    src = source if isinstance(source, Dataset) else open_dataset(source)
    if layout.resolve(Path(dest), layout.META_FILE).exists():
        raise DatasetExistsError(
            f"{dest} already holds a dataset",
            hint="Choose a new output folder: trim writes a new dataset and never changes one.",
            path=dest,
        )
    resolved = _resolve(src, cuts)
    records: dict[str, TrimRecord] = {}
    out = copy_episodes(
        src,
        dest,
        transform=_trimmer(resolved, f"embodex {__version__}", records),
        on_episode=on_episode,
        shard_bytes=shard_bytes,
    )
    return TrimResult(
        dataset=out, trimmed=records, frames_before=src.num_frames, frames_after=out.num_frames
    )
