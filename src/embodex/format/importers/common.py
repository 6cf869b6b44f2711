"""What every importer shares: the report, the output checks, the episode sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...errors import ConfigError, DatasetExistsError, ImportSourceError, SchemaError
from .. import layout
from ..episode import Episode
from ..models import DatasetMeta
from ..reader import open_dataset
from ..staging import StagedEpisode
from ..videostore import VideoEncoding
from ..writer import DatasetWriter

__all__ = [
    "REPAIRS_KEY",
    "EpisodeSink",
    "ImportReport",
    "VideoPolicy",
    "already_imported",
    "existing_episode_ids",
    "record_repair",
]


#: Key of an episode's ``extra`` listing what an importer repaired or dropped.
REPAIRS_KEY = "import_repairs"

#: The policy that appends to a dataset storing its cameras one way (the CLI names its flag).
_POLICY_HINT = {
    "jpeg": "`video=VideoPolicy(cameras='jpeg')`",
    "video": "`video=VideoPolicy(cameras='video')`",
}


def record_repair(
    extra: dict[str, Any],
    kind: str,
    message: str,
    frames: tuple[int, int] | None = None,
) -> None:
    """Note in an episode's ``extra`` that the importer changed what the recording said
    (a clipped segment, filled actions, padded camera frames): ``extra["import_repairs"]``
    is a list of ``{kind, message, frame_start, frame_end}`` (frames half-open, null when
    the repair concerns no frames). The packaging report lists them and QC turns each into
    an ``episode.import_repairs`` finding, so a repair is never only a key in ``extra``."""
    extra.setdefault(REPAIRS_KEY, []).append(
        {
            "kind": kind,
            "message": message,
            "frame_start": None if frames is None else int(frames[0]),
            "frame_end": None if frames is None else int(frames[1]),
        }
    )


@dataclass(frozen=True)
class VideoPolicy:
    """How an importer stores cameras recorded as video (specs/format.md §9.1.2).

    ``cameras="video"`` keeps the recorder's bitstream (remux: packets copied, nothing
    decoded) when its codec is one a dataset stores (H.264, H.265, AV1) and its key frames
    are at most ``max_gop`` frames apart; otherwise, with ``reencode="auto"``, the frames are
    encoded once as ``codec`` with a key frame every ``gop`` frames. ``reencode="always"``
    encodes every video; ``"never"`` makes an unusable video a bad episode.
    ``cameras="jpeg"`` stores one JPEG per frame (format 1.0's way). The policy is recorded
    in ``embodex.json`` (``extra.<importer>.video``) and each episode's choice in its
    ``extra.<importer>.video``.
    """

    cameras: Literal["video", "jpeg"] = "video"
    reencode: Literal["auto", "always", "never"] = "auto"
    max_gop: int = 60
    codec: Literal["h264", "h265", "av1"] = "h264"
    gop: int = 30

    def __post_init__(self) -> None:
        if self.max_gop < 1 or self.gop < 1:
            raise ConfigError("key-frame intervals must be at least 1 frame")

    def as_json(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras,
            "reencode": self.reencode,
            "max_gop": self.max_gop,
            "codec": self.codec,
            "gop": self.gop,
        }


@dataclass
class ImportReport:
    """What an importer did.

    ``skipped`` holds ``(episode id, one-line reason)`` for every episode left out with
    ``skip_bad=True``; ``notes`` holds things worth knowing that were not errors (folders
    no index names, streams or features that are not imported) and one line per repair an
    importer made to an episode (:func:`record_repair`; QC reports each as an
    ``episode.import_repairs`` finding too).
    """

    dataset: Path
    episodes: int = 0
    frames: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: episodes a Ray run took from an earlier (interrupted) run's staging area
    reused: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset),
            "episodes": self.episodes,
            "frames": self.frames,
            "skipped": [{"episode": e, "reason": r} for e, r in self.skipped],
            "notes": self.notes,
            "reused": self.reused,
        }


def existing_episode_ids(out: Path, append: bool, meta: DatasetMeta) -> set[str]:
    """Ids already in ``out``; checks up front what the writer would reject later.

    Raises ``DatasetExistsError`` (a dataset is there and ``append`` is false),
    ``ConfigError`` (another licence) and ``SchemaError`` (other features, cameras or fps).
    """
    if not (out / layout.META_FILE).exists():
        return set()
    if not append:
        raise DatasetExistsError(f"{out} already holds a dataset", path=out)
    ds = open_dataset(out)
    if ds.meta.licence != meta.licence:
        raise ConfigError(
            f"{out} is licensed {ds.meta.licence}, the sidecar says {meta.licence}",
            hint="A dataset has one licence: import into a new dataset instead.",
            path=out,
        )
    if ds.meta.schema_fingerprint() != meta.schema_fingerprint():
        old = {c.name: c.storage for c in ds.meta.cameras}
        new = {c.name: c.storage for c in meta.cameras}
        if old.keys() == new.keys() and old != new:
            stored = "jpeg" if "frame" in old.values() else "video"
            raise SchemaError(
                f"{out} stores its cameras as {stored}; these episodes would be stored otherwise",
                hint=f"Append with {_POLICY_HINT[stored]}, or import into a separate dataset.",
                path=out,
            )
        raise SchemaError(
            f"{out}: these episodes' features, cameras or fps differ from the dataset's",
            hint="Import them into a separate dataset, or set the sidecar so they match.",
            path=out,
        )
    return set(ds.episode_ids)


class EpisodeSink:
    """Where an importer puts its episodes: published together, or not at all.

    The writer is opened on the first good episode (a run where every episode fails
    leaves no folder behind) and publishes at :meth:`finish`; leaving the ``with`` block
    on an error aborts it, so nothing new is published. Use::

        with EpisodeSink(out, report, append=append, on_episode=cb) as sink:
            for source in sources:
                try:
                    episode = load(source)
                except ImportSourceError as exc:
                    sink.skip(source_id, exc, skip_bad)
                    continue
                sink.add(meta, episode)
            sink.finish(src, listed=len(sources))
    """

    def __init__(
        self,
        out: Path,
        report: ImportReport,
        *,
        append: bool,
        on_episode: Callable[[str], None] | None,
        video_encoding: VideoEncoding | None = None,
    ) -> None:
        self.out = out
        self.video_encoding = video_encoding
        self.report = report
        self.append = append
        self.on_episode = on_episode
        self._writer: DatasetWriter | None = None

    def __enter__(self) -> EpisodeSink:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None and self._writer is not None:
            self._writer.abort()

    def add(self, meta: DatasetMeta, episode: Episode) -> None:
        self._open(meta).add_episode(episode)
        self._count(episode.meta.episode_id, episode.num_frames, episode.meta.extra)

    def add_staged(self, meta: DatasetMeta, staged: StagedEpisode) -> None:
        """Commit an episode a Ray worker staged (:mod:`embodex.format.staging`)."""
        self._open(meta).add_staged(staged)
        if staged.reused:
            self.report.reused += 1
        self._count(staged.episode_id, staged.frames, {REPAIRS_KEY: staged.repairs})

    def _open(self, meta: DatasetMeta) -> DatasetWriter:
        if self._writer is None:
            self._writer = DatasetWriter(
                self.out, meta, append=self.append, video_encoding=self.video_encoding
            )
        return self._writer

    def _count(self, episode_id: str, frames: int, extra: dict[str, Any]) -> None:
        for r in extra.get(REPAIRS_KEY, []):
            where = (
                f" (frames [{r['frame_start']}, {r['frame_end']}))"
                if r.get("frame_start") is not None
                else ""
            )
            self.report.notes.append(f"{episode_id}: repaired: {r['message']}{where}")
        self.report.episodes += 1
        self.report.frames += frames
        if self.on_episode is not None:
            self.on_episode(episode_id)

    def skip(self, episode: str, exc: ImportSourceError, skip_bad: bool) -> None:
        """Record a bad episode with its one-line reason, or re-raise without ``skip_bad``."""
        if not skip_bad:
            raise exc
        self.report.skipped.append((episode, " ".join(exc.message.split())))

    def finish(self, src: Path, listed: int) -> None:
        """Publish; ``ImportSourceError`` when no episode could be imported."""
        if self._writer is None:
            skipped = self.report.skipped
            first = f"; first: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
            raise ImportSourceError(
                f"no episode could be imported ({listed} listed, {len(skipped)} skipped{first})",
                path=str(src),
                hint="Fix the recordings listed in the report, then import again.",
            )
        self._writer.close()


def already_imported(out: Path, episode_id: str, skip_hint: str) -> ImportSourceError:
    """The error for an episode whose id the dataset at ``out`` already holds."""
    return ImportSourceError(
        "is already in the dataset",
        path=str(out),
        episode_id=episode_id,
        hint="Episode ids are stable, so it was imported before; " + skip_hint,
    )
