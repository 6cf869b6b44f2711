"""Trims QC suggests: the idle head and tail ``motion.idle_ends`` found, as cuts.

:func:`suggested_trims` reads a dataset's current QC results; :func:`trim_dataset` joins
those suggestions with cuts given by hand and writes the trimmed dataset
(:func:`embodex.format.trim_episodes` does the mechanics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow.compute as pc

from ..errors import QCManifestError, TrimError
from ..format import Cut, Dataset, TrimResult, open_dataset, trim_episodes
from ..format.trim import collect_cuts
from .manifest import load_findings, load_qc_manifest, stale_reason

__all__ = ["IDLE_ENDS", "suggested_trims", "trim_dataset"]

#: The rule whose findings' frame ranges are the suggested trims.
IDLE_ENDS = "motion.idle_ends"


def suggested_trims(dataset: Dataset | str | Path) -> dict[str, Cut]:
    """The kept range QC suggests for each episode with an idle start or end.

    From the ``motion.idle_ends`` findings of the dataset's QC manifest: an idle start of
    frames ``0..k-1`` keeps from ``k``, an idle end of frames ``m..n-1`` keeps up to ``m``
    (reason ``idle_ends``). Episodes idle from start to end (nothing would be left) are not
    suggested: they need a review, not a trim. An empty dict when QC found no idle ends.

    Raises ``QCManifestError`` when the dataset has no QC results, or they are stale (the
    dataset changed since QC ran).

    Example::

        cuts = suggested_trims("datasets/week01")  # {"hubei:0007": Cut(79, 202, "idle_ends")}
    """
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    root = ds.root
    manifest = load_qc_manifest(root)
    stale = stale_reason(ds, manifest)
    if stale is not None:
        raise QCManifestError(
            stale, hint="Run `run_qc(dataset)` first, so the trims fit the current data.", path=root
        )
    findings = load_findings(root, manifest)
    idle = findings.filter(pc.equal(findings.column("rule"), IDLE_ENDS)).to_pylist()
    frames = dict(zip(ds.episode_ids, ds.episodes.column("frame_count").to_pylist(), strict=True))
    kept: dict[str, list[int]] = {}
    for f in idle:
        eid = f["episode_id"]
        if eid not in frames or f["frame_start"] is None or f["frame_end"] is None:
            continue
        span = kept.setdefault(eid, [0, frames[eid]])
        if f["subject"] == "start":
            span[0] = max(span[0], int(f["frame_end"]))
        elif f["subject"] == "end":
            span[1] = min(span[1], int(f["frame_start"]))
    return {
        eid: Cut(a, b, "idle_ends")
        for eid, (a, b) in kept.items()
        if a < b and (a, b) != (0, frames[eid])
    }


def trim_dataset(
    source: Dataset | str | Path,
    dest: str | Path,
    *,
    frames: Iterable[tuple[str, Cut | tuple[int, int | None] | str]] = (),
    suggested: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> TrimResult | None:
    """Write ``source`` to the new dataset ``dest`` with episodes trimmed: those in ``frames``
    (``(episode_id, "START:END")`` pairs, reason ``manual``) and, with ``suggested``, every
    episode QC found idle at its start or end (:func:`suggested_trims`). ``on_start`` gets
    the number of episodes to write, ``on_episode`` each one written (progress bars).

    Returns None, writing nothing, when ``suggested`` finds nothing to trim and no range was
    given: clean data is an answer, not an error (a script goes on).

    Raises :class:`TrimError` (bad or doubled ranges, an episode both suggested and given,
    no range given and ``suggested`` not asked for), ``QCManifestError`` (``suggested``
    without current QC results), and what :func:`embodex.format.trim_episodes` raises.

    Example::

        trim_dataset("datasets/week01", "datasets/week01-trimmed", suggested=True)
    """
    src = source if isinstance(source, Dataset) else open_dataset(source)
    cuts = collect_cuts(frames)
    if suggested:
        for eid, cut in suggested_trims(src).items():
            if eid in cuts:
                raise TrimError(
                    f"episode {eid} has both a suggested trim ({cut}) and a range given by "
                    f"hand ({cuts[eid]})",
                    hint="Give one kept range per episode: leave out `suggested=True`, or that "
                    "episode's range in `frames=`.",
                    episode_id=eid,
                )
            cuts[eid] = cut
    if not cuts and suggested:
        return None
    if not cuts:
        raise TrimError(
            f"nothing to trim in {src.root}: no episode given",
            hint="Name episodes and their kept range in `frames=`, or use `suggested=True` "
            "after `run_qc(dataset)`.",
            path=src.root,
        )
    if on_start is not None:
        on_start(len(src))
    return trim_episodes(src, dest, cuts, on_episode=on_episode)
