"""embodex: package, quality-check, sign, deliver and load embodied-AI training data.

The SDK is the product; the ``embodex`` command is a thin layer over it.

The dataset API and the loader are re-exported lazily (PEP 562): ``import embodex`` (and so
every ``import embodex.config``) stays light, and ``embodex --version`` starts without
loading pyarrow or the video stack (issue 16, fast start).
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

if TYPE_CHECKING:
    from .errors import EmbodexError
    from .format import (
        Camera,
        Dataset,
        DatasetMeta,
        DatasetWriter,
        Embodiment,
        Episode,
        EpisodeMeta,
        Feature,
        Provenance,
        Segment,
        open_dataset,
        verify_dataset,
    )
    from .train import load

__all__ = [
    "Camera",
    "Dataset",
    "DatasetMeta",
    "DatasetWriter",
    "EmbodexError",
    "Embodiment",
    "Episode",
    "EpisodeMeta",
    "Feature",
    "Provenance",
    "Segment",
    "__version__",
    "load",
    "open_dataset",
    "verify_dataset",
]

_FORMAT = (
    "Camera",
    "Dataset",
    "DatasetMeta",
    "DatasetWriter",
    "Embodiment",
    "Episode",
    "EpisodeMeta",
    "Feature",
    "Provenance",
    "Segment",
    "open_dataset",
    "verify_dataset",
)
__getattr__ = lazy_exports(
    __name__, {**dict.fromkeys(_FORMAT, "format"), "load": "train", "EmbodexError": "errors"}
)
