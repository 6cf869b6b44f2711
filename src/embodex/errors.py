"""The whole embodex exception tree.

Every error carries the facts (a path, an episode id, a key id...) in its message and a
``hint`` that tells the user how to fix the problem. The CLI prints ``message`` and
``hint`` on one line and exits non-zero; library callers catch the class they care about.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptDatasetError",
    "DatasetExistsError",
    "DatasetLockedError",
    "DatasetNotFoundError",
    "EmbodexError",
    "FormatError",
    "ImportSourceError",
    "ProfileError",
    "QCError",
    "QCFailedError",
    "QCManifestError",
    "ReviewError",
    "SchemaError",
    "UnsupportedFormatError",
    "VerificationError",
]


class EmbodexError(Exception):
    """Root of every error embodex raises on purpose."""

    default_hint = "Run the command again with EMBODEX_DEBUG=1 for details."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def one_line(self) -> str:
        """The message and the fix, on one line, as the CLI prints it."""
        text = f"{self.message} — {self.hint}" if self.hint else self.message
        return " ".join(text.split())


class ConfigError(EmbodexError):
    """A setting or an input file the user wrote is wrong."""

    default_hint = "Check the option or file named above."


class FormatError(EmbodexError):
    """Something about the embodex dataset format is wrong."""


class SchemaError(FormatError):
    """Metadata or data does not match the declared schema."""

    default_hint = "Fix the metadata or data so it matches specs/format.md."


class UnsupportedFormatError(FormatError):
    """The dataset uses a format version or feature this embodex cannot read."""

    default_hint = "Upgrade embodex (pip install -U embodex)."


class DatasetNotFoundError(FormatError):
    """The path is not an embodex dataset."""

    default_hint = "Check the path; a dataset directory holds embodex.json."


class DatasetExistsError(FormatError):
    """Creating a dataset where one already exists."""

    default_hint = "Choose a new output directory, or pass append=True / --append to add to it."


class DatasetLockedError(FormatError):
    """Another writer holds the dataset's lock."""

    default_hint = "Wait for the other writer to finish, then run again."


class CorruptDatasetError(FormatError):
    """A file of the dataset is missing, truncated or does not match its hash."""

    default_hint = (
        "Restore the file from the original delivery (or pull the batch again); "
        "run `embodex verify DATASET` to list every damaged file."
    )


class VerificationError(CorruptDatasetError):
    """``Dataset.verify()`` found problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = problems
        first = problems[0] if problems else "unknown problem"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"verification failed: {first}{more}", hint=hint)


class ImportSourceError(EmbodexError):
    """A raw recording being imported is unreadable or inconsistent."""

    default_hint = "Fix or remove that recording, or pass --skip-bad to package the rest."

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        episode: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = []
        if episode is not None:
            where.append(f"episode {episode}")
        if path is not None:
            where.append(str(path))
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message, hint=hint)
        self.path = path
        self.episode = episode


# --- quality control (embodex.qc) ---------------------------------------------------------


class QCError(EmbodexError):
    """Quality control could not run or its results are unusable."""

    default_hint = "Run `embodex qc run DATASET` again; see specs/qc.md."


class ProfileError(QCError, ConfigError):
    """A QC profile file or override is invalid (unknown rule, bad threshold...)."""

    default_hint = (
        "Fix the profile: see specs/qc.md for every rule and parameter, or print the default "
        "with `embodex qc profile`."
    )


class QCManifestError(QCError):
    """The QC manifest of a dataset is missing, unreadable, stale or damaged."""

    default_hint = "Run `embodex qc run DATASET` to (re)create qc/manifest.json."


class QCFailedError(QCError):
    """QC ran and at least one episode FAILs (the CLI exits 1 so scripts can gate on it)."""

    default_hint = (
        "Failed episodes are kept and labelled; see `embodex qc show DATASET EPISODE` or "
        "`embodex qc report DATASET`."
    )

    def __init__(self, failed: int, total: int, *, top: str | None = None) -> None:
        self.failed = failed
        self.total = total
        top_text = f" (most common: {top})" if top else ""
        super().__init__(f"{failed} of {total} episodes FAIL quality control{top_text}")


class ReviewError(QCError):
    """A manual review cannot be recorded (unknown episode, bad reason code...)."""

    default_hint = "See `embodex review set --help` for the verdicts and reason codes."
