"""Errors of the quality-control layer (``embodex.qc``): profiles, the QC manifest, the
verdict gate and manual review."""

from __future__ import annotations

from .base import ConfigError, EmbodexError, Where

__all__ = ["ProfileError", "QCError", "QCFailedError", "QCManifestError", "ReviewError"]


class QCError(EmbodexError):
    """Quality control could not run or its results are unusable."""

    default_hint = "Run `run_qc(dataset)` again; see specs/qc.md."


class ProfileError(QCError, ConfigError):
    """A QC profile file or override is invalid (unknown rule, bad threshold...)."""

    default_hint = (
        "Fix the profile: see specs/qc.md for every rule and parameter, or start from "
        "`default_profile()`."
    )


class QCManifestError(QCError):
    """The QC manifest of a dataset (``path``) is missing, unreadable, stale or damaged."""

    default_hint = "Run `run_qc(dataset)` to (re)create qc/manifest.json."


class QCFailedError(QCError):
    """QC ran and at least one episode FAILs. The CLI exits 3 (not 1, which means the check
    could not run: bad input, damaged data), so scripts can gate on the verdict."""

    exit_code = 3
    default_hint = (
        "Failed episodes are kept and labelled; `describe_episode(dataset, episode_id)` "
        "explains one."
    )

    def __init__(
        self, failed: int, total: int, *, top: str | None = None, path: Where | None = None
    ) -> None:
        self.failed = failed
        self.total = total
        self.top = top
        top_text = f" (most common: {top})" if top else ""
        super().__init__(f"{failed} of {total} episodes FAIL quality control{top_text}", path=path)


class ReviewError(QCError):
    """A manual review cannot be recorded (unknown episode, bad reason code...)."""

    default_hint = "`record_review` takes verdict accept or reject and a code from `REASONS`."
