"""Choosing the episodes to train on: QC verdicts and a predicate over episode metadata.

The QC verdicts come from the dataset's QC manifest (``qc/manifest.json``, written by
``embodex qc run``), read here as plain JSON by a tolerant reader so the loader does not
depend on the QC package: it needs ``episodes: [{"episode_id", "verdict"}]`` and checks
``dataset_digest`` when the manifest names one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from ..errors import LoaderConfigError, QCManifestMissingError
from ..format.revocation import is_revoked
from ..parsing import load_json
from ..units import count

__all__ = [
    "QC_MANIFEST",
    "QC_VERDICTS",
    "EpisodeRecord",
    "QCFilter",
    "parse_qc_manifest",
    "select_episodes",
]

QC_MANIFEST = "qc/manifest.json"
QC_VERDICTS = ("PASS", "WARN", "FAIL")
QCFilter = Literal["pass", "pass+warn", "all"]
_ACCEPT: dict[str, frozenset[str]] = {
    "pass": frozenset({"PASS"}),
    "pass+warn": frozenset({"PASS", "WARN"}),
}
EpisodeFilter = Callable[["EpisodeRecord"], Any] | Mapping[str, Any] | Sequence[str]


def parse_qc_manifest(data: bytes | None, *, where: str, digest: str) -> dict[str, str]:
    """episode_id -> verdict (upper case) from the bytes of a QC manifest.

    Raises ``LoaderConfigError`` when the file is not JSON, lacks the episodes list, has a
    verdict other than PASS/WARN/FAIL, or names a different dataset digest (stale QC).
    """
    if data is None:
        return {}
    doc = load_json(data, error=LoaderConfigError, name=where)
    episodes = doc.get("episodes") if isinstance(doc, dict) else None
    if not isinstance(episodes, list):
        raise LoaderConfigError(
            f"{where} has no 'episodes' list", hint="Run `run_qc(dataset)` again."
        )
    named = doc.get("dataset_digest")
    if isinstance(named, str) and named != digest:
        raise LoaderConfigError(
            f"{where} is for dataset {named}, but this dataset is {digest} (stale QC results)",
            hint="Run `run_qc(dataset)` again after the dataset changed, or load every "
            "episode: `qc='all'`.",
        )
    verdicts: dict[str, str] = {}
    for i, item in enumerate(episodes):
        eid = item.get("episode_id") if isinstance(item, dict) else None
        verdict = item.get("verdict") if isinstance(item, dict) else None
        if not isinstance(eid, str) or not isinstance(verdict, str):
            raise LoaderConfigError(f"{where}: episodes[{i}] lacks episode_id or verdict")
        verdict = verdict.upper()
        if verdict not in QC_VERDICTS:
            raise LoaderConfigError(
                f"{where}: episode {eid} has verdict {verdict!r}, expected PASS, WARN or FAIL",
                episode_id=eid,
            )
        verdicts[eid] = verdict
    return verdicts


class EpisodeRecord(Mapping[str, Any]):
    """One episode's metadata as the ``episodes=`` predicate sees it.

    Read fields as ``ep["scene_type"]`` or ``ep.scene_type``: the columns of the episode
    table (without statistics), ``extra`` as a dict, and ``qc_verdict`` (PASS, WARN, FAIL,
    or None without QC results). Asking for any other field raises ``LoaderConfigError``,
    so a typo cannot silently select nothing.
    """

    __slots__ = ("_row",)

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row

    def __getitem__(self, key: str) -> Any:
        try:
            return self._row[key]
        except KeyError:
            raise LoaderConfigError(
                f"the episodes= filter reads {key!r}, which is not an episode field",
                hint=f"Episode fields: {', '.join(sorted(self._row))}.",
            ) from None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]

    def get(self, key: str, default: Any = None) -> Any:
        value = self[key]  # unknown fields are an error here too
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def __repr__(self) -> str:
        return f"EpisodeRecord({self._row.get('episode_id')!r})"


def select_episodes(
    episodes: pa.Table,
    *,
    where: str,
    digest: str,
    qc: str,
    qc_manifest: bytes | None,
    episode_filter: EpisodeFilter | None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Positions (in the episode table) of the selected episodes, and counts of what was cut.

    Raises ``QCManifestMissingError`` when ``qc`` is not ``"all"`` and there is no QC
    manifest, ``LoaderConfigError`` for a bad ``qc`` value, an unknown field or id.
    """
    if qc not in ("pass", "pass+warn", "all"):
        raise LoaderConfigError(
            f"qc={qc!r} is not one of 'pass', 'pass+warn', 'all'",
            hint="`qc='pass'` trains on passing episodes only.",
            field="qc",
        )
    n = episodes.num_rows
    keep = np.ones(n, dtype=bool)
    report = {
        "episodes": n,
        "excluded_as_revoked": 0,
        "excluded_by_qc": 0,
        "missing_from_qc": 0,
        "excluded_by_filter": 0,
    }
    ids: list[str] = episodes.column("episode_id").to_pylist()
    if "extra" in episodes.column_names:
        # revoked by the centre (a batch, or one operator's consent withdrawn): never
        # trained on, whatever the QC filter (specs/channel.md §5.4)
        extras = episodes.column("extra").to_pylist()
        revoked = np.array([is_revoked(json.loads(x or "{}")) for x in extras], dtype=bool)
        report["excluded_as_revoked"] = int(revoked.sum())
        keep &= ~revoked
    verdicts: dict[str, str] = {}
    if qc_manifest is not None:
        verdicts = parse_qc_manifest(qc_manifest, where=f"{where}/{QC_MANIFEST}", digest=digest)
    if qc != "all":
        if qc_manifest is None:
            raise QCManifestMissingError(
                f"qc={qc!r} needs QC results, but {where} has no {QC_MANIFEST}"
            )
        accept = _ACCEPT[qc]
        got = np.array([verdicts.get(eid) for eid in ids], dtype=object)
        ok = np.array([v in accept for v in got], dtype=bool)
        report["missing_from_qc"] = int(sum(v is None for v in got))
        report["excluded_by_qc"] = int((keep & ~ok).sum())
        keep &= ok
    if episode_filter is not None:
        before = int(keep.sum())
        keep &= _filter_mask(episodes, ids, verdicts, episode_filter)
        report["excluded_by_filter"] = before - int(keep.sum())
    return np.flatnonzero(keep), report


def _filter_mask(
    episodes: pa.Table, ids: list[str], verdicts: dict[str, str], flt: EpisodeFilter
) -> np.ndarray:
    fields = [c for c in episodes.column_names if c != "stats"]
    if isinstance(flt, Mapping):
        known = {*fields, "qc_verdict"}
        for key in flt:
            if key not in known:
                raise LoaderConfigError(
                    f"the episodes= filter names {key!r}, which is not an episode field",
                    hint=f"Episode fields: {', '.join(sorted(known))}.",
                )
        equals = dict(flt)
        return np.array(
            [_matches(rec, equals) for rec in _records(episodes, fields, verdicts)], dtype=bool
        )
    if callable(flt):
        return np.array([bool(flt(rec)) for rec in _records(episodes, fields, verdicts)])
    if isinstance(flt, str):
        flt = [flt]
    wanted = set(flt)
    unknown = wanted - set(ids)
    if unknown:
        raise LoaderConfigError(
            f"episodes= names {count(len(unknown), 'id')} not in the dataset, "
            f"e.g. {sorted(unknown)[0]}",
            hint="List the ids with `dataset.episode_ids`.",
            field="episodes",
        )
    return np.array([eid in wanted for eid in ids], dtype=bool)


def _records(
    episodes: pa.Table, fields: list[str], verdicts: dict[str, str]
) -> Iterator[EpisodeRecord]:
    for row in episodes.select(fields).to_pylist():
        row["extra"] = json.loads(row.get("extra") or "{}")
        row["qc_verdict"] = verdicts.get(row["episode_id"])
        yield EpisodeRecord(row)


def _matches(rec: EpisodeRecord, equals: dict[str, Any]) -> bool:
    for key, want in equals.items():
        value = rec[key]
        if isinstance(want, list | tuple | set | frozenset):
            if value not in want:
                return False
        elif value != want:
            return False
    return True
