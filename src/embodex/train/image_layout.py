"""Image layouts of the PyTorch adapters: ``(C, H, W)`` float32 in [0, 1] or as stored.

The loader decodes a camera's frames as they are stored, ``(H, W, 3)`` uint8 (depth:
``(H, W)`` uint16), and numpy samples (``ds[i]``, ``get_batch``, ``iter_batches``,
iterating a stream) keep that layout. The torch adapters deliver what torchvision's
``ToTensor``/``ToDtype(scale=True)`` and LeRobot's datasets deliver unless asked otherwise:
``image_format="chw_float"`` (the default) gives ``(3, H, W)`` float32 = uint8 / 255, and
depth ``(1, H, W)`` float32 = uint16 / 65535 (multiply by 65535 for the stored unit, e.g.
mm); a window adds its axis first (``(w, 3, H, W)``), a batch its own before that.
``image_format="hwc_uint8"`` keeps the stored layout (four times smaller batches; convert on
the GPU). Encoded frames (``decode_images=False``) are never converted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import LoaderConfigError
from ..format import DatasetMeta

__all__ = [
    "DEFAULT_IMAGE_FORMAT",
    "IMAGE_FORMATS",
    "check_image_format",
    "chw_float",
    "chw_shape",
    "image_columns",
]

#: ``image_format=`` values: (C, H, W) float32 in [0, 1]; (H, W, C) as stored
IMAGE_FORMATS = ("chw_float", "hwc_uint8")
DEFAULT_IMAGE_FORMAT = "chw_float"


def check_image_format(image_format: str) -> str:
    """``image_format`` if known, else ``LoaderConfigError``."""
    if image_format not in IMAGE_FORMATS:
        raise LoaderConfigError(
            f"image_format={image_format!r} is not an image layout",
            hint="Use 'chw_float' ((C, H, W) float32 in [0, 1], as torchvision and LeRobot "
            "give) or 'hwc_uint8' ((H, W, C) as stored).",
        )
    return image_format


def image_columns(meta: DatasetMeta, cameras: Sequence[str]) -> dict[str, bool]:
    """The image keys of a sample for ``cameras``: ``image.<camera>`` -> is it depth."""
    return {meta.camera(c).column: meta.camera(c).kind == "depth" for c in cameras}


def chw_shape(shape: tuple[int, ...], depth: bool) -> tuple[int, ...]:
    """The ``chw_float`` shape of frames of ``shape`` (``(..., H, W, 3)`` or depth
    ``(..., H, W)``)."""
    if depth:
        return (*shape[:-2], 1, *shape[-2:])
    return (*shape[:-3], shape[-1], *shape[-3:-1])


def chw_float(
    frames: np.ndarray, *, depth: bool = False, out: np.ndarray | None = None
) -> np.ndarray:
    """Decoded frames ``(..., H, W, 3)`` uint8 (depth ``(..., H, W)`` uint16) as
    ``(..., C, H, W)`` float32 divided by the dtype's maximum (255 or 65535), written into
    ``out`` when given (a C-contiguous float32 array of :func:`chw_shape`). The values equal
    ``frames.astype(float32) / 255`` moved to channel-first, exactly."""
    src = frames[..., None, :, :] if depth else np.moveaxis(frames, -1, -3)
    if out is None:
        out = np.empty(src.shape, dtype=np.float32)
    # channel-first in the small dtype first, then cast and divide over contiguous memory:
    # measured faster than one division reading the strided view
    out[...] = np.ascontiguousarray(src)
    np.divide(out, np.float32(np.iinfo(frames.dtype).max), out=out)
    return out
