"""What every importer shares: the report it returns and the output-folder checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError, DatasetExistsError, SchemaError
from .. import layout
from ..models import DatasetMeta
from ..reader import open_dataset

__all__ = ["ImportReport", "existing_episode_ids"]


@dataclass
class ImportReport:
    """What an importer did.

    ``skipped`` holds ``(episode id, one-line reason)`` for every episode left out with
    ``skip_bad=True``; ``notes`` holds things worth knowing that were not errors (folders
    no index names, streams or features that are not imported).
    """

    dataset: Path
    episodes: int = 0
    frames: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def existing_episode_ids(out: Path, append: bool, meta: DatasetMeta) -> set[str]:
    """Ids already in ``out``; checks up front what the writer would reject later.

    Raises ``DatasetExistsError`` (a dataset is there and ``append`` is false),
    ``ConfigError`` (another licence) and ``SchemaError`` (other features, cameras or fps).
    """
    if not (out / layout.META_FILE).exists():
        return set()
    if not append:
        raise DatasetExistsError(f"{out} already holds a dataset")
    ds = open_dataset(out)
    if ds.meta.licence != meta.licence:
        raise ConfigError(
            f"{out} is licensed {ds.meta.licence}, the sidecar says {meta.licence}",
            hint="A dataset has one licence: import into a new dataset instead.",
        )
    if ds.meta.schema_fingerprint() != meta.schema_fingerprint():
        raise SchemaError(
            f"{out}: these episodes' features, cameras or fps differ from the dataset's",
            hint="Import them into a separate dataset, or set the sidecar so they match.",
        )
    return set(ds.episode_ids)
