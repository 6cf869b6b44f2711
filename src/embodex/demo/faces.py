"""Real faces in synthetic camera frames, for the anonymisation tests and benchmark.

Tests cannot download images, but scikit-image's wheel bundles photos; the astronaut
portrait (``skimage.data.astronaut()``, public domain, NASA) is pasted into 640×480 shop-like
frames at several sizes and positions, some partly hidden behind a shelf edge. Needs
scikit-image (in the dev extra).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = [
    "FRAME_H",
    "FRAME_W",
    "FaceScene",
    "astronaut",
    "box_iou",
    "face_scenes",
    "shop_background",
]

FRAME_W, FRAME_H = 640, 480

#: (frame, true face box x1, y1, x2, y2)
FaceScene = tuple[np.ndarray, tuple[int, int, int, int]]

#: (scale, x, y, occluded): the pasted crop's scale and top-left corner; occluded hides the
#: lower half of the face (mouth and chin) behind a shelf edge
PLACEMENTS = (
    (0.5, 40, 40, False),
    (0.7, 420, 60, False),
    (1.0, 200, 150, False),
    (1.3, 350, 180, False),
    (0.8, 60, 250, True),
    (1.0, 480, 220, True),
    (0.6, 300, 20, False),
    (1.6, 100, 100, False),
)


def shop_background(seed: int) -> np.ndarray:
    """A face-free backdrop: a gradient with shelves of coloured boxes."""
    rng = np.random.default_rng(seed)
    img = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    img[:] = np.linspace(60, 190, FRAME_W, dtype=np.uint8)[None, :, None]
    for _ in range(25):
        x, y = int(rng.integers(0, FRAME_W - 60)), int(rng.integers(0, FRAME_H - 40))
        h, w = int(rng.integers(15, 40)), int(rng.integers(20, 60))
        img[y : y + h, x : x + w] = rng.integers(0, 255, 3)
    return img


def astronaut() -> np.ndarray:
    """The 512×512 astronaut portrait from scikit-image's wheel, read with Pillow (the same
    pixels as ``skimage.data.astronaut()`` without importing scikit-image's io stack)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-image is not installed (pip install scikit-image)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def face_scenes() -> list[FaceScene]:
    """One frame per placement with the astronaut's head pasted in, and the face's box."""
    crop = astronaut()[20:260, 120:330]  # head and shoulders
    out: list[FaceScene] = []
    for i, (scale, x, y, occlude) in enumerate(PLACEMENTS):
        frame = shop_background(i)
        h, w = crop.shape[:2]
        face = np.asarray(Image.fromarray(crop).resize((int(w * scale), int(h * scale))))
        fh, fw = min(face.shape[0], FRAME_H - y), min(face.shape[1], FRAME_W - x)
        frame[y : y + fh, x : x + fw] = face[:fh, :fw]
        if occlude:
            frame[y + int(fh * 0.5) : y + fh, x : x + fw] = 90
        # the face inside the crop spans x 50..170, y 30..170
        box = (x + int(50 * scale), y + int(30 * scale), x + int(170 * scale), y + int(170 * scale))
        out.append((frame, box))
    return out


def box_iou(a: np.ndarray | tuple[float, ...], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two ``x1, y1, x2, y2`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
