"""Training loader: frame-level access with temporal windows, PyTorch and Hugging Face
adapters, streaming from object stores (specs/train.md).

Example::

    from embodex.train import load
    ds = load("deliveries/week01", features=["state", "action"], horizon=50, qc="pass")
    batch = ds[123]
"""

from .dataset import EpisodeDataset, LoadSpec
from .load import load
from .select import EpisodeRecord, parse_qc_manifest
from .windows import Window

__all__ = ["EpisodeDataset", "EpisodeRecord", "LoadSpec", "Window", "load", "parse_qc_manifest"]
