"""Blur the faces in a dataset's colour cameras (specs/privacy.md §2, ``embodex anonymise``).

Writes a new dataset; the source is never changed. Frame cameras: only the frames with a
face (after margin and temporal filling) are decoded, masked and encoded again; every other
frame keeps its stored bytes. Video cameras: in an episode whose clip shows a face only the
GOPs holding a masked frame are encoded again and spliced between the other GOPs' packets,
copied as stored (:mod:`.videosplice`); a clip where that cannot be exact (another encoder's
parameter sets, open GOPs, a cut clip) is re-encoded whole; an episode without a face is
copied packet for packet. Depth cameras are untouched.
The step is recorded in ``embodex.json`` (``extra.privacy.faces``) and in each changed
episode's ``extra.privacy``.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import DatasetExistsError, PrivacyError
from . import layout
from .classification import CLASSIFICATION_KEY, classify
from .copy import copy_episodes
from .episode import Episode
from .faces import DEFAULT_THRESHOLD, FaceDetector, MaskMode, expand_boxes, fill_gaps, mask_faces
from .images import decode_image, encode_image
from .reader import Dataset, open_dataset
from .videosplice import reencode_gops
from .videostore import VideoClip

__all__ = ["PRIVACY_KEY", "AnonymiseResult", "anonymise_dataset"]

#: The key of ``embodex.json`` ``extra`` (and of an episode's ``extra``) holding the record.
PRIVACY_KEY = "privacy"
MODES: tuple[str, ...] = ("blur", "pixelate", "box")


@dataclass
class CameraCount:
    frames: int = 0  # frames checked
    changed: int = 0  # frames masked
    boxes: int = 0  # boxes masked (after filling)
    filled: int = 0  # frames masked only by temporal filling
    gops_reencoded: int = 0  # video: GOPs encoded anew and spliced in (the rest copied)
    clips_reencoded: int = 0  # video: episodes whose clip had to be re-encoded whole

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AnonymiseResult:
    """What :func:`anonymise_dataset` wrote."""

    dataset: Dataset
    record: dict[str, Any]
    cameras: dict[str, CameraCount] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--json``)."""
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "dataset": str(self.dataset.root),
            "digest": self.dataset.digest,
            "episodes": len(self.dataset),
            "cameras": {k: v.as_dict() for k, v in self.cameras.items()},
            "record": self.record,
        }


def anonymise_dataset(
    source: Dataset | str | Path,
    dest: str | Path,
    *,
    mode: str = "blur",
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = 0.25,
    fill: int = 3,
    cameras: Sequence[str] | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> AnonymiseResult:
    """Write ``source`` to the new dataset ``dest`` with every face in its colour cameras
    (those in ``cameras``, default all colour cameras) masked by ``mode`` (blur, pixelate,
    box). A face is a CenterFace detection scoring above ``threshold``; its box grows by
    ``margin`` × its size on each side; a frame within ``fill`` frames of detections on both
    sides is masked too (temporal filling).

    Raises ``PrivacyError`` (detector not installed, bad mode/threshold, unknown or depth
    camera), ``DatasetExistsError`` (``dest`` holds a dataset). ``dest`` is published
    atomically at the end.

    Example::

        anonymise_dataset("datasets/week01", "outbox/week01", mode="blur")
    """
    if mode not in MODES:
        raise PrivacyError(f"unknown face mask {mode!r}", hint=f"Use one of {', '.join(MODES)}.")
    if not 0 <= margin <= 2 or fill < 0:
        raise PrivacyError(
            f"margin {margin} / fill {fill} out of range",
            hint="Use a margin in [0, 2] (share of the box) and fill >= 0 frames.",
        )
    src = source if isinstance(source, Dataset) else open_dataset(source)
    if layout.resolve(Path(dest), layout.META_FILE).exists():
        raise DatasetExistsError(
            f"{dest} already holds a dataset",
            hint="Choose a new output folder: anonymise writes a new dataset.",
        )
    colour = [c.name for c in src.meta.cameras if c.kind == "color"]
    chosen = list(cameras) if cameras is not None else colour
    bad = [c for c in chosen if c not in colour]
    if bad:
        raise PrivacyError(
            f"camera {bad[0]!r} is not a colour camera of {src.root}",
            hint=f"Colour cameras: {colour}; depth cameras are left as they are.",
        )
    detector = FaceDetector(threshold)
    counts = {name: CameraCount() for name in chosen}
    settings = {
        "detector": detector.info.as_dict(),
        "threshold": threshold,
        "margin": margin,
        "fill": fill,
        "mode": mode,
    }

    work: list[Path] = []
    names = itertools.count()

    def convert(ep: Episode) -> Episode:
        images = dict(ep.images)
        per_episode: dict[str, dict[str, int]] = {}
        for name in chosen:
            cam = src.meta.camera(name)
            before = dataclasses.replace(counts[name])
            spliced = work[0] / f"{next(names)}.mp4"
            images[name] = _anonymise_camera(
                images[name], cam.encoding, detector, mode, margin, fill, counts[name],
                spliced=spliced, fps=src.meta.fps,
            )  # fmt: skip
            per_episode[name] = {
                "frames": counts[name].changed - before.changed,
                "boxes": counts[name].boxes - before.boxes,
            }
        extra = {
            **ep.meta.extra,
            PRIVACY_KEY: {"faces": {"cameras": per_episode}},
            CLASSIFICATION_KEY: label,
        }
        meta = ep.meta.model_copy(update={"extra": extra})
        return dataclasses.replace(ep, meta=meta, images=images)

    record_cams: dict[str, Any] = {}
    record = {
        **settings,
        "cameras": record_cams,
        "source_digest": src.digest,
        "tool": f"embodex {__version__}",
    }
    previous = dict(src.meta.extra.get(PRIVACY_KEY) or {})
    label = {**classify(src.meta), "personal_information": "anonymised"}
    # the record is filled in as episodes go; the writer serialises meta at the end
    meta = src.meta.model_copy(
        update={
            "extra": {
                **src.meta.extra,
                PRIVACY_KEY: {**previous, "faces": record},
                CLASSIFICATION_KEY: label,
            }
        }
    )

    def progress(eid: str) -> None:
        record_cams.update({k: v.as_dict() for k, v in counts.items()})
        if on_episode is not None:
            on_episode(eid)

    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    # spliced videos wait here until the writer has copied them
    with tempfile.TemporaryDirectory(prefix=".anonymise-", dir=Path(dest).parent) as tmp:
        work.append(Path(tmp))
        out = copy_episodes(src, dest, meta=meta, transform=convert, on_episode=progress)
    return AnonymiseResult(dataset=out, record=record, cameras=counts)


def _anonymise_camera(
    frames: Any,
    encoding: str,
    detector: FaceDetector,
    mode: str,
    margin: float,
    fill: int,
    count: CameraCount,
    *,
    spliced: Path,
    fps: float,
) -> Any:
    mask_mode: MaskMode = "blur" if mode == "blur" else "pixelate" if mode == "pixelate" else "box"
    if isinstance(frames, VideoClip):
        rgb = list(frames.decode())
    elif isinstance(frames, np.ndarray):
        rgb = list(frames)
    else:
        rgb = [decode_image(bytes(b), encoding) for b in frames]
    found = [detector.detect(f) for f in rgb]
    boxes = fill_gaps(found, fill)
    count.frames += len(rgb)
    changed: dict[int, np.ndarray] = {}
    for i, (frame, b) in enumerate(zip(rgb, boxes, strict=True)):
        grown = expand_boxes(b, margin, frame.shape[:2])
        if len(grown) == 0:
            continue
        changed[i] = mask_faces(frame, grown, mask_mode)
        count.changed += 1
        count.boxes += len(grown)
        count.filled += int(len(found[i]) == 0)
    if not changed:
        return frames  # stored bytes (or packets) unchanged
    if isinstance(frames, VideoClip):
        masked = [changed.get(i, f) for i, f in enumerate(rgb)]
        gops = reencode_gops(frames, masked, changed.keys(), spliced, fps=fps)
        if gops is not None:
            count.gops_reencoded += gops
            return VideoClip(spliced, verbatim=True)
        count.clips_reencoded += 1
        return np.stack(masked)
    if isinstance(frames, np.ndarray):
        return np.stack([changed.get(i, f) for i, f in enumerate(rgb)])
    return [
        encode_image(changed[i], encoding) if i in changed else frames[i] for i in range(len(rgb))
    ]
