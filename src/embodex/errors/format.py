"""Errors of the format layer (``embodex.format``): datasets, their files, trims, and the
importers and exporters to other ecosystems' formats."""

from __future__ import annotations

from .base import ConfigError, EmbodexError, Where

__all__ = [
    "ClusterError",
    "CorruptDatasetError",
    "DatasetExistsError",
    "DatasetLockedError",
    "DatasetNotFoundError",
    "EpisodeIndexError",
    "FormatError",
    "ImportSourceError",
    "InteropError",
    "MissingExtraError",
    "PrivacyError",
    "SchemaError",
    "TrimError",
    "UnsupportedFormatError",
    "VerificationError",
]


class FormatError(EmbodexError):
    """Something about the embodex dataset format is wrong."""


class SchemaError(FormatError):
    """Metadata or data does not match the declared schema."""

    default_hint = "Fix the metadata or data so it matches specs/format.md."


class UnsupportedFormatError(FormatError):
    """The dataset uses a format version or feature this embodex cannot read."""

    default_hint = "Upgrade embodex (pip install -U embodex)."


class DatasetNotFoundError(FormatError):
    """The path (``path``) is not an embodex dataset: ``missing`` names the file it lacks."""

    default_hint = "Check the path; a dataset directory holds embodex.json."

    def __init__(self, where: Where, *, missing: str, hint: str | None = None) -> None:
        self.missing = missing
        super().__init__(f"{where} is not an embodex dataset (no {missing})", hint=hint, path=where)


class DatasetExistsError(FormatError):
    """Creating a dataset where one already exists."""

    default_hint = "Choose a new output directory, or add to this dataset with `append=True`."


class DatasetLockedError(FormatError):
    """Another writer holds the lock of the dataset at ``path``."""

    default_hint = "Wait for the other writer to finish, then run again."

    def __init__(self, where: Where, *, hint: str | None = None) -> None:
        super().__init__(f"another process is writing {where}", hint=hint, path=where)


class CorruptDatasetError(FormatError):
    """A file of the dataset is missing, truncated or does not match its hash."""

    default_hint = (
        "Restore the file from the original delivery (or pull the batch again); "
        "`verify_dataset(root)` lists every damaged file."
    )


class VerificationError(CorruptDatasetError):
    """``Dataset.verify()`` found problems; ``problems`` lists each one."""

    def __init__(
        self, problems: list[str], *, path: Where | None = None, hint: str | None = None
    ) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"verification failed: {first}{more}", hint=hint, path=path)


class EpisodeIndexError(SchemaError, IndexError):
    """An episode position past the end of a dataset (also an ``IndexError``)."""

    default_hint = (
        "Positions run from 0 (-1 is the last); `dataset.episode_ids` lists the episodes."
    )

    def __init__(self, position: int, count: int, *, dataset: str) -> None:
        self.position = position
        self.count = count
        super().__init__(
            f"episode position {position} is out of range: {dataset} has {count} "
            f"episode{'' if count == 1 else 's'}"
        )


class TrimError(FormatError, ConfigError):
    """A trim cannot be done as asked: an unknown episode, an empty or out-of-range frame
    range, two ranges for one episode, nothing to trim."""

    default_hint = (
        "Give each episode one kept range START:END inside its frames; see specs/format.md §10."
    )


# -- importers and exporters (embodex.format.importers, embodex.format.exporters) ----------


class ImportSourceError(EmbodexError):
    """A raw recording being imported is unreadable or inconsistent (``path``,
    ``episode_id``)."""

    default_hint = "Fix or remove that recording, or pass `skip_bad=True` to package the rest."

    def __init__(
        self,
        message: str,
        *,
        path: Where | None = None,
        episode_id: str | None = None,
        hint: str | None = None,
        episode: str | None = None,
    ) -> None:
        # ``episode`` is the older name of ``episode_id``, kept so callers written before
        # the facts were named alike keep working
        episode_id = episode_id if episode_id is not None else episode
        where = []
        if episode_id is not None:
            where.append(f"episode {episode_id}")
        if path is not None:
            where.append(str(path))
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message, hint=hint, path=path, episode_id=episode_id)

    @property
    def episode(self) -> str | None:
        """The episode id (an older name of ``episode_id``)."""
        return self.episode_id


class InteropError(EmbodexError):
    """A conversion to or from another ecosystem's format cannot be done as asked."""

    default_hint = "See specs/interop.md for what each conversion supports."


class MissingExtraError(InteropError):
    """An optional dependency (``package``) is not installed; ``extra`` installs it."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"this needs the Python package {package!r}, which is not installed",
            hint=f"pip install 'embodex[{extra}]'",
        )


class ClusterError(EmbodexError):
    """The Ray cluster cannot be used (``ray=`` of packaging and QC): Ray is not installed,
    the address does not answer, or a worker died on one task more often than Ray retries."""

    default_hint = (
        "pip install 'embodex[ray]'; pass ray='auto' (a local Ray) or the address of a "
        "running cluster (host:6379 or ray://host:10001); see specs/scale.md."
    )


class PrivacyError(FormatError, ConfigError):
    """Anonymisation cannot run or was asked wrongly (specs/privacy.md): the privacy extra
    (the face detector) is not installed, a threshold or mask mode is out of range, a camera
    is unknown."""

    default_hint = (
        "Install the detector with pip install 'embodex[privacy]'; pass anonymise_dataset(...) "
        "a threshold in (0, 1) and mode blur, pixelate or box (specs/privacy.md)."
    )
