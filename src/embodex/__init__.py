"""embodex: package, quality-check, sign, deliver and load embodied-AI training data.

The SDK is the product; the ``embodex`` command is a thin layer over it.
"""

from ._version import __version__
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
