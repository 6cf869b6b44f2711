"""What the console shows, as JSON-ready data: the review queue with its filters, one
episode (metadata, segments, findings, joint series, cameras, review history), and camera
frames. No web framework here, so it is tested and benchmarked on its own.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import QCManifestError, SchemaError, SignatureError
from ..format import Dataset, open_dataset
from ..format.images import decode_image
from ..format.models import Camera
from ..qc.manifest import QCManifest, load_findings, load_qc_manifest, stale_reason
from ..qc.review import review_queue
from ..qc.reviewlog import REASONS, ReviewEntry, read_log
from ..trust.keys import Identity
from ..trust.reviews import verify_review

__all__ = [
    "FILTERS",
    "MAX_PLOT_POINTS",
    "ConsoleData",
    "Frame",
    "NotFound",
    "reason_codes",
]

#: Query parameter -> the manifest field the queue is filtered on.
FILTERS = {
    "scene_type": "scene_type",
    "skill": "skill",
    "operator": "operator_id",
    "robot": "robot_model",
    "verdict": "verdict",
    "rule": "rules",
}
#: Joint plots carry at most this many points per joint (a 3-minute take at 30 fps has 5,400
#: frames; a plot 800 px wide shows no more).
MAX_PLOT_POINTS = 1200
_EPISODE_CACHE = 16


class NotFound(LookupError):
    """An episode, camera or frame the dataset does not have (HTTP 404)."""


@dataclass(frozen=True)
class Frame:
    """One camera frame as the browser gets it."""

    data: bytes
    media_type: str


def _mime(encoding: str) -> str:
    return "image/jpeg" if encoding == "jpeg" else "image/png"


def _depth_png(data: bytes) -> bytes:
    """A 16-bit depth frame scaled to 8 bits (browsers show 16-bit PNGs nearly black)."""
    arr = decode_image(data, "png16").astype(np.float32)
    valid = arr[arr > 0]
    lo, hi = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
    out = np.clip((arr - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _joint_groups(names: list[str]) -> list[tuple[str, list[int]]]:
    """Left arm, right arm, grippers, other joints (at most 8 lines a plot)."""
    grip = [j for j, n in enumerate(names) if "gripper" in n or "hand" in n]
    left = [j for j, n in enumerate(names) if n.startswith("left_") and j not in grip]
    right = [j for j, n in enumerate(names) if n.startswith("right_") and j not in grip]
    rest = [j for j in range(len(names)) if j not in grip + left + right]
    out = []
    for label, idx in (
        ("left arm", left),
        ("right arm", right),
        ("grippers", grip),
        ("other joints", rest),
    ):
        for k in range(0, len(idx), 8):
            out.append((label if k == 0 else f"{label} (cont.)", idx[k : k + 8]))
    return [g for g in out if g[1]]


def _finite(values: np.ndarray) -> list[float | None]:
    """Floats for JSON: NaN and ±Inf (which QC flags) become null, the plot shows a gap."""
    rounded = np.round(values.astype(np.float64), 5)
    ok = np.isfinite(rounded)
    if ok.all():  # the usual case: one C-level conversion, no per-value Python check
        out: list[float | None] = rounded.tolist()
        return out
    return [v if good else None for v, good in zip(rounded.tolist(), ok.tolist(), strict=True)]


class ConsoleData:
    """The dataset a console serves: opened once, episodes cached, QC read on each call
    (several consoles and the CLI may write reviews at the same time)."""

    def __init__(self, dataset: str | Path, trusted: list[Identity] | None = None) -> None:
        self.root = Path(dataset)
        self.dataset: Dataset = open_dataset(self.root)
        load_qc_manifest(self.root)  # fail at start, with the fix, when QC has not run
        self.trusted = list(trusted or [])
        self._views: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        if len(self.dataset):
            # reading timestamps loads pandas inside pyarrow once (~0.5 s): pay it at start,
            # not when the first reviewer opens the first episode
            self.dataset.episode(0).timestamp_ns  # noqa: B018

    # -- the queue -------------------------------------------------------------------------

    def manifest(self) -> QCManifest:
        return load_qc_manifest(self.root)

    def flags(self) -> dict[str, ReviewEntry]:
        """Episodes whose latest log entry is a flag for a second look."""
        latest: dict[str, ReviewEntry] = {}
        for entry in read_log(self.root, expect=self.manifest().review_log):
            latest[entry.episode_id] = entry
        return {eid: e for eid, e in latest.items() if e.verdict == "flag"}

    def queue(self, scope: str = "queue", **filters: str) -> dict[str, Any]:
        """Rows of the review queue (``scope="queue"``: the sampling plan of ``review next``,
        WARNs first, then each operator's sample) or of every episode (``"all"``), filtered
        on equal values of :data:`FILTERS` (``rule``: the episode has a finding of it;
        ``verdict=flagged``: flagged for a second look)."""
        manifest = self.manifest()
        flags = self.flags()
        by_id = {e.episode_id: e for e in manifest.episodes}
        order: list[tuple[str, str | None]]
        if scope == "all":
            order = [(e.episode_id, None) for e in manifest.episodes]
        else:
            order = [(q.episode_id, q.why) for q in review_queue(self.root)]
            # flagged episodes stay in view until someone accepts or rejects them
            queued = {eid for eid, _ in order}
            order += [(eid, "flag") for eid in flags if eid not in queued and eid in by_id]
        rows = []
        for eid, why in order:
            ev = by_id[eid]
            row = {
                "episode_id": eid,
                "why": why,
                "auto_verdict": ev.auto_verdict,
                "verdict": ev.verdict,
                "review": ev.review.model_dump(mode="json") if ev.review else None,
                "flagged": eid in flags,
                "scene_type": ev.scene_type,
                "skill": ev.skill,
                "operator_id": ev.operator_id,
                "robot_model": ev.robot_model,
                "rules": ev.rules,
                "seconds": round(float(ev.hours) * 3600, 1),
            }
            if self._matches(row, filters):
                rows.append(row)
        options: dict[str, list[str]] = {}
        for key, field in FILTERS.items():
            values: set[str] = set()
            for e in manifest.episodes:
                v = getattr(e, field)
                values.update(v if isinstance(v, list) else [v] if v else [])
            options[key] = sorted(values)
        options["verdict"] = ["PASS", "WARN", "FAIL", "flagged"]
        return {
            "rows": rows,
            "filters": options,
            "total": len(manifest.episodes),
            "stale": stale_reason(self.root, manifest),
            # said once for the dataset (a camera without calibration...), never a verdict
            "notes": [n.model_dump(mode="json") for n in manifest.notes],
        }

    @staticmethod
    def _matches(row: dict[str, Any], filters: dict[str, str]) -> bool:
        for key, want in filters.items():
            if not want or key not in FILTERS:
                continue
            if key == "verdict" and want == "flagged":
                if not row["flagged"]:
                    return False
                continue
            have = row[FILTERS[key]]
            if (want not in have) if isinstance(have, list) else (have != want):
                return False
        return True

    # -- one episode -----------------------------------------------------------------------

    def _view(self, episode_id: str) -> Any:
        with self._lock:
            view = self._views.get(episode_id)
            if view is not None:
                self._views.move_to_end(episode_id)
                return view
        try:
            view = self.dataset.episode(episode_id)
        except SchemaError:
            raise NotFound(f"episode {episode_id!r} is not in this dataset") from None
        with self._lock:
            self._views[episode_id] = view
            while len(self._views) > _EPISODE_CACHE:
                self._views.popitem(last=False)
        return view

    def episode(self, episode_id: str) -> dict[str, Any]:
        """Everything the episode view shows, JSON-ready."""
        manifest = self.manifest()
        try:
            ev = manifest.episode(episode_id)
        except QCManifestError:
            raise NotFound(f"episode {episode_id!r} is not in the QC manifest") from None
        view = self._view(episode_id)
        meta = view.meta
        ds_meta = self.dataset.meta
        n = view.frame_count
        ts = view.timestamp_ns
        t = ((ts - ts[0]) * 1e-9) if n else np.zeros(0)
        step = max(1, int(np.ceil(n / MAX_PLOT_POINTS)))
        picks = np.arange(0, n, step)
        plots = []
        state_name = next((k for k, f in ds_meta.feature_items() if f.role == "state"), None)
        if state_name is not None and n:
            state = view.feature(state_name)
            spec = ds_meta.features[state_name]
            names = list(spec.names or []) or [f"{state_name}[{j}]" for j in range(state.shape[1])]
            for label, idx in _joint_groups(names):
                plots.append(
                    {
                        "label": label,
                        "feature": state_name,
                        "names": [names[j] for j in idx],
                        "series": [_finite(state[picks, j]) for j in idx],
                    }
                )
        findings = [
            {
                k: f[k]
                for k in (
                    "rule",
                    "severity",
                    "frame_start",
                    "frame_end",
                    "measured",
                    "threshold",
                    "unit",
                    "subject",
                    "message",
                )
            }
            for f in load_findings(self.root, manifest).to_pylist()
            if f["episode_id"] == episode_id
        ]
        for f in findings:
            for k in ("measured", "threshold"):
                v = f[k]
                f[k] = None if v is None or not np.isfinite(v) else float(v)
        history = []
        for entry in read_log(self.root, expect=manifest.review_log):
            if entry.episode_id != episode_id:
                continue
            try:
                who = verify_review(entry, self.trusted)
                signed = "signed" if who else "unsigned" if entry.signature is None else "untrusted"
            except SignatureError:  # shown as such, never hidden
                who, signed = None, "bad signature"
            history.append(
                {
                    **entry.model_dump(mode="json", exclude={"signature", "prev"}),
                    "keyid": entry.signature.keyid if entry.signature else None,
                    "signed": signed,
                    "signer": who.name if who else None,
                }
            )
        cameras = []
        for cam in ds_meta.cameras:
            cameras.append(
                {
                    "name": cam.name,
                    "kind": cam.kind,
                    "mount": cam.mount,
                    "width": cam.width,
                    "height": cam.height,
                    # "frames": one image per frame (GET .../frames/N); "video": one MP4
                    # streamed with range requests (GET .../video), for video cameras
                    "source": "video" if cam.is_video else "frames",
                    "frame_count": n,
                }
            )
        return {
            "episode_id": episode_id,
            "auto_verdict": ev.auto_verdict,
            "verdict": ev.verdict,
            "review": ev.review.model_dump(mode="json") if ev.review else None,
            "rules": ev.rules,
            "frame_count": n,
            "fps": ds_meta.fps,
            "duration_s": view.duration_s,
            "time_s": _finite(t),
            "plot_frames": picks.tolist(),
            "plots": plots,
            "meta": {
                "scene_type": meta.scene_type,
                "scene_id": meta.scene_id,
                "site": meta.site,
                "skill": meta.skill,
                "instruction_en": meta.instruction_en,
                "instruction_zh": meta.instruction_zh,
                "operator_id": meta.operator_id,
                "operator_level": meta.operator_level,
                "robot_model": meta.robot_model,
                "robot_serial": meta.robot_serial,
                "objects": meta.objects,
                "success": meta.success,
                "failure_cause": meta.failure_cause,
            },
            "segments": [s.model_dump(mode="json") for s in meta.segments],
            "findings": findings,
            "history": history,
            "cameras": cameras,
        }

    def _camera(self, camera: str) -> Camera:
        try:
            return self.dataset.meta.camera(camera)
        except KeyError:
            raise NotFound(f"camera {camera!r} is not in this dataset") from None

    def video_file(self, episode_id: str, camera: str) -> Path:
        """The MP4 of a video camera's frames of this episode, checked to lie inside the
        dataset as a regular file (the browser streams it with range requests)."""
        view = self._view(episode_id)
        cam = self._camera(camera)
        if not cam.is_video:
            raise NotFound(f"camera {camera!r} stores one image per frame: GET its frames/N")
        path = Path(view.video_path(camera))
        root = self.root.resolve()
        if path.is_symlink() or not path.resolve().is_relative_to(root) or not path.is_file():
            raise NotFound(f"the video of camera {camera!r} is not a file inside the dataset")
        return path

    def frame(self, episode_id: str, camera: str, index: int) -> Frame:
        """One stored frame of one camera (depth scaled to 8-bit PNG)."""
        view = self._view(episode_id)
        cam = self._camera(camera)
        if cam.is_video:
            raise NotFound(f"camera {camera!r} is a video: GET its video (range requests)")
        if not 0 <= index < view.frame_count:
            raise NotFound(f"frame {index} is outside the episode (0..{view.frame_count - 1})")
        data = view.images(camera).encoded(index)
        if data is None:
            raise NotFound(f"camera {camera!r} recorded no image at frame {index}")
        if cam.encoding == "png16":
            return Frame(_depth_png(data), "image/png")
        return Frame(data, _mime(cam.encoding))


def reason_codes() -> list[dict[str, Any]]:
    """The reason codes with the verdicts each goes with, for the decision keys."""
    return [
        {"code": code, "verdicts": list(verdicts), "meaning": text}
        for code, (verdicts, text) in REASONS.items()
    ]
