"""Errors of the training loader (``embodex.train``)."""

from __future__ import annotations

from .base import ConfigError

__all__ = ["LoaderConfigError", "QCManifestMissingError"]


class LoaderConfigError(ConfigError):
    """An argument of ``embodex.load`` does not fit the dataset; ``field`` names it."""

    default_hint = "Check the argument named above against `open_dataset(root)`."


class QCManifestMissingError(LoaderConfigError):
    """A QC filter was asked for but the dataset (``path``) has no QC manifest."""

    default_hint = "Run `run_qc(dataset)` first, or load every episode: `qc='all'`."
