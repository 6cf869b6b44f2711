"""One QC run as a typed result: run every rule, store the verdicts, and the gate.

:func:`check_dataset` is what ``embodex qc run`` calls: ``run_qc`` over the dataset, the
recorded reviews applied, the QC manifest written (or only previewed), and a
:class:`QCRunSummary` holding every figure any view shows — the counts and hours by final
verdict, the top failures, the flagged episodes, the JSON document — and the gate (an
episode FAILs → :attr:`QCRunSummary.gate_failed`, :meth:`QCRunSummary.raise_for_gate`).

Example::

    from embodex.qc import check_dataset

    summary = check_dataset("datasets/week01", known_ids="delivered-ids.txt")
    print(summary.counts, summary.gate_failed)
    summary.raise_for_gate()  # QCFailedError (exit 3 in the CLI) when an episode FAILs
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import QCError, QCFailedError
from ..format.progress import ProgressCallback
from .findings import Verdict
from .manifest import MANIFEST_FILE, QCManifest, preview_qc, write_qc
from .profile import Profile, default_profile, load_profile, parse_overrides
from .runner import EpisodeResult, ImagesMode, QCResult, run_qc

__all__ = [
    "FlaggedEpisode",
    "QCRunSummary",
    "check_dataset",
    "read_known_ids",
    "resolve_profile",
]

VERDICTS: tuple[Verdict, ...] = ("PASS", "WARN", "FAIL")


def resolve_profile(
    spec: str | Path | Profile | None = None, overrides: Iterable[str] | Mapping[str, Any] = ()
) -> Profile:
    """A profile by file, built-in id or object (default ``humanoid-30fps``), with overrides
    given as ``"rule.param=value"`` strings or a mapping. Raises ``ProfileError``."""
    profile = (
        spec
        if isinstance(spec, Profile)
        else load_profile(spec)
        if spec is not None
        else default_profile()
    )
    items = overrides if isinstance(overrides, Mapping) else parse_overrides(list(overrides))
    return profile.with_overrides(items) if items else profile


def read_known_ids(path: str | Path) -> list[str]:
    """Episode ids delivered before, one per line (blank lines ignored), for the unique-id
    rule. Raises ``QCError`` when the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QCError(
            f"cannot read the known episode ids in {path}: {exc}",
            hint="Pass a UTF-8 text file with one episode id per line.",
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class FlaggedEpisode:
    """An episode whose final verdict is not PASS, and the rules that flagged it."""

    episode_id: str
    verdict: Verdict
    rules: list[str]


@dataclass(frozen=True)
class QCRunSummary:
    """What one QC run found and stored; :meth:`to_json` is ``embodex qc run --json``."""

    dataset: str
    result: QCResult
    manifest: QCManifest
    #: where the QC manifest was written (None: previewed only, nothing written)
    written: Path | None

    @property
    def profile(self) -> Profile:
        return self.result.profile

    @property
    def episodes(self) -> list[EpisodeResult]:
        return self.result.episodes

    @property
    def final(self) -> dict[str, Verdict]:
        """Each episode's final verdict (automatic, then the recorded review)."""
        return {e.episode_id: e.verdict for e in self.manifest.episodes}

    @property
    def counts(self) -> dict[str, int]:
        """Episodes by final verdict."""
        o = self.manifest.aggregates.overall
        return {"PASS": o.passed, "WARN": o.warned, "FAIL": o.failed}

    @property
    def hours(self) -> dict[str, str]:
        """Hours recorded by final verdict (decimal strings, as in the manifest)."""
        o = self.manifest.aggregates.overall
        return {"PASS": o.hours_passed, "WARN": o.hours_warned, "FAIL": o.hours_failed}

    def share(self, verdict: str) -> float:
        """The fraction of the run's episodes with this final verdict (0 for an empty run)."""
        return self.counts[verdict] / max(len(self.episodes), 1)

    @property
    def top_failures(self) -> list[dict[str, Any]]:
        """The rules failing most episodes, most first (``rule``, ``episodes``)."""
        return [t.model_dump() for t in self.manifest.aggregates.top_failures]

    @property
    def flagged(self) -> list[FlaggedEpisode]:
        """Episodes whose final verdict is WARN or FAIL, in dataset order."""
        final = self.final
        return [
            FlaggedEpisode(ep.episode_id, final[ep.episode_id], ep.rules)
            for ep in self.episodes
            if final[ep.episode_id] != "PASS"
        ]

    @property
    def gate_failed(self) -> bool:
        """True when an episode's final verdict is FAIL (``qc run`` then exits 3)."""
        return self.counts["FAIL"] > 0

    @property
    def exit_code(self) -> int:
        """0 when no episode FAILs, else :class:`QCFailedError`'s code (3)."""
        return QCFailedError.exit_code if self.gate_failed else 0

    def gate_error(self) -> QCFailedError | None:
        """The error the gate raises, or None when it passes."""
        if not self.gate_failed:
            return None
        top = self.top_failures
        return QCFailedError(
            self.counts["FAIL"], len(self.episodes), top=top[0]["rule"] if top else None
        )

    def raise_for_gate(self) -> None:
        """Raise ``QCFailedError`` when an episode FAILs (scripts gate on it)."""
        error = self.gate_error()
        if error is not None:
            raise error

    def to_json(self) -> dict[str, Any]:
        """The run as JSON data: profile, counts, aggregates and every episode's verdicts."""
        final = self.final
        profile = self.profile
        return {
            "dataset": self.dataset,
            "dataset_digest": self.result.dataset_digest,
            "profile": {"id": profile.id, "version": profile.version, "digest": profile.digest},
            "images": self.result.images,
            "episodes": len(self.episodes),
            "frames": self.result.frames,
            "seconds": round(self.result.seconds, 3),
            "counts": self.counts,
            "manifest": None if self.written is None else str(self.written),
            "aggregates": self.manifest.aggregates.model_dump(mode="json"),
            "notes": [n.as_dict() for n in self.result.notes],
            "verdicts": [
                {
                    "episode_id": ep.episode_id,
                    "auto_verdict": ep.auto_verdict,
                    "verdict": final[ep.episode_id],
                    "rules": ep.rules,
                }
                for ep in self.episodes
            ],
        }


def check_dataset(
    dataset: str | Path,
    profile: str | Path | Profile | None = None,
    *,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    images: ImagesMode = "sample",
    known_ids: str | Path | Iterable[str] | None = None,
    write: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_episode: Callable[[str], None] | None = None,
    ray: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> QCRunSummary:
    """Run QC over ``dataset`` and store the verdicts: one call, one typed summary.

    ``profile`` is a file, a built-in id or a :class:`Profile` (default humanoid-30fps),
    ``overrides`` replaces thresholds (``["timing.gap.fail=250"]``), ``known_ids`` names the
    episode ids delivered before (a file of one id per line, or the ids). With
    ``write=False`` nothing is written, yet the recorded reviews still apply (a reviewer's
    reject is final either way). ``on_start`` gets the number of episodes before the run,
    ``on_episode`` each episode id once checked (progress bars). ``ray`` (``"auto"`` or a
    cluster address) checks the chunks on a Ray cluster (:func:`run_qc`); ``on_progress``
    gets a :class:`~embodex.format.progress.Progress` per episode checked. The gate is not raised
    here: look at :attr:`QCRunSummary.gate_failed` or call
    :meth:`QCRunSummary.raise_for_gate`.

    Raises ``ProfileError``, ``CorruptDatasetError``, ``QCError`` (an unreadable known-ids
    file).
    """
    from ..format import open_dataset

    chosen = resolve_profile(profile, overrides)
    known = (
        read_known_ids(known_ids)
        if isinstance(known_ids, str | Path)
        else None
        if known_ids is None
        else list(known_ids)
    )
    ds = open_dataset(dataset)
    if on_start is not None:
        on_start(len(ds))
    result = run_qc(
        ds, chosen, images=images, on_episode=on_episode, known_episode_ids=known, ray=ray,
        on_progress=on_progress,
    )  # fmt: skip
    manifest = write_qc(dataset, result) if write else preview_qc(dataset, result)
    return QCRunSummary(
        dataset=str(dataset),
        result=result,
        manifest=manifest,
        written=Path(dataset) / MANIFEST_FILE if write else None,
    )
