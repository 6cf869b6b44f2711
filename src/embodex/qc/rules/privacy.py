"""Privacy: faces left visible in an anonymised dataset (specs/privacy.md §4).

Runs only on a dataset that says it was anonymised (``embodex.json``
``extra.privacy.faces``): each colour camera the record lists is re-checked with the same
detector at a lower threshold than anonymisation used, on ``sample_frames`` evenly spread
frames per episode (every frame with ``qc run --images all``). A face still found is a
residual face; the finding names its frames. Datasets without the record are not checked
here (a contract that requires anonymisation refuses them at publish).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...format.images import decode_image
from ..chunk import Chunk
from .base import Graded, RuleSpec
from .context import Plan
from .images import _video_frames, sample_indices

__all__ = ["SPECS", "check_chunk"]


class Faces(Graded):
    threshold: float
    sample_frames: int


SPECS = [
    RuleSpec(
        "privacy.faces",
        Faces,
        "frames",
        "Frames of an anonymised dataset (extra.privacy.faces) where the face detector, run "
        "again at `threshold` (below anonymisation's), still finds a face.",
        "images",
    ),
]


def check_chunk(plan: Plan, c: Chunk) -> None:
    p = plan.get("privacy.faces", Faces)
    record = (c.meta.extra.get("privacy") or {}).get("faces")
    if p is None or plan.images is None or not isinstance(record, dict):
        return
    cameras = record.get("cameras")
    if not isinstance(cameras, dict):
        return
    from ...errors import PrivacyError
    from ...format.faces import FaceDetector

    try:
        detector = FaceDetector(p.threshold)
    except PrivacyError as exc:
        plan.note("privacy.faces", f"residual faces not checked: {exc}")
        return
    for cam in c.meta.cameras:
        if cam.name not in cameras or cam.column not in c.table.column_names:
            continue
        picks = [
            np.arange(int(n)) if plan.images.all_frames else sample_indices(int(n), p.sample_frames)
            for n in c.counts
        ]
        wanted = np.unique(
            np.concatenate([pk + int(s) for pk, s in zip(picks, c.starts, strict=True)])
        )
        by_row: dict[int, Any]
        if cam.is_video:
            by_row = _video_frames(c, cam, wanted)
        else:
            blobs = c.table.column(cam.column).take(wanted).to_pylist()
            by_row = dict(zip(wanted.tolist(), blobs, strict=True))
        for e, pick in enumerate(picks):
            start = int(c.starts[e])
            hits: list[int] = []
            for i in pick.tolist():
                data = by_row.get(start + i)
                if isinstance(data, bytes):
                    rgb = decode_image(data, cam.encoding)
                elif isinstance(data, np.ndarray):
                    rgb = data
                else:
                    continue  # missing or undecodable: the integrity and images rules' finding
                if len(detector.detect(rgb)):
                    hits.append(i)
            if hits:
                plan.grade(
                    "privacy.faces",
                    p,
                    c.ids[e],
                    float(len(hits)),
                    f"camera {cam.name}: a face is still visible in {len(hits)} of {len(pick)} "
                    f"checked frames (first at frame {hits[0]})",
                    frames=(hits[0], hits[-1] + 1),
                    subject=cam.name,
                )
