"""Hugging Face Hub dataset cards for exports (README.md with YAML metadata).

Built with ``huggingface_hub``'s card classes: licence (Hub id, or ``other`` with the
embodex licence kept), ``task_categories: [robotics]``, size category, tags, and an
``embodex`` block with provenance, source digest and the QC figures (final verdicts, hours,
pass and success rates) when ``qc/manifest.json`` sits beside the dataset. Used by the
Hugging Face and LeRobot exporters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ...errors import MissingExtraError, QCManifestError
from ...parsing import load_json, read_bounded
from ...units import count
from ..reader import Dataset
from ..summary import summarize
from .common import resolve_dataset

try:
    from huggingface_hub import DatasetCard, DatasetCardData
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("huggingface_hub", "hf") from None

__all__ = ["QC_MANIFEST", "dataset_card", "hf_licence", "qc_summary", "size_category"]

QC_MANIFEST = "qc/manifest.json"

#: Licence ids the Hub knows (lower-case SPDX); anything else is "other" with its name kept.
_HUB_LICENCES = frozenset(
    (
        "apache-2.0",
        "mit",
        "openrail",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "lppl-1.3c",
        "ms-pl",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
    )
)
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"),
          (1_000_000_000, "100M<n<1B"))  # fmt: skip


def hf_licence(licence: str) -> dict[str, str]:
    """Card fields for an embodex licence: a Hub id, or ``other`` with the name kept."""
    lower = licence.lower()
    if lower in _HUB_LICENCES:
        return {"license": lower}
    return {"license": "other", "license_name": lower.replace(":", "-").replace("/", "-")}


def size_category(rows: int) -> str:
    for limit, label in _SIZES:
        if rows < limit:
            return label
    return "n>1B"


_GROUP_KEYS = ("episodes", "hours", "passed", "warned", "failed", "hours_passed",
               "hours_warned", "hours_failed", "pass_rate", "success_rate")  # fmt: skip


def _selection_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The QC manifest's group figures (specs/qc.md §5) for a subset of its episode rows."""
    n = {"PASS": 0, "WARN": 0, "FAIL": 0}
    h = {"PASS": Decimal(0), "WARN": Decimal(0), "FAIL": Decimal(0)}
    labelled = [r["success"] for r in rows if r.get("success") is not None]
    for r in rows:
        n[r["verdict"]] += 1
        h[r["verdict"]] += Decimal(r["hours"])

    def ratio(a: int, b: int) -> str | None:
        return f"{Decimal(a) / Decimal(b):.4f}" if b else None

    return {
        "episodes": len(rows),
        "hours": f"{sum(h.values(), Decimal(0)):.6f}",
        "passed": n["PASS"],
        "warned": n["WARN"],
        "failed": n["FAIL"],
        "hours_passed": f"{h['PASS']:.6f}",
        "hours_warned": f"{h['WARN']:.6f}",
        "hours_failed": f"{h['FAIL']:.6f}",
        "pass_rate": ratio(n["PASS"] + n["WARN"], len(rows)),
        "success_rate": ratio(sum(map(bool, labelled)), len(labelled)),
    }


def qc_summary(ds: Dataset) -> dict[str, Any] | None:
    """The QC figures of ``qc/manifest.json`` beside the dataset, if QC has run.

    The manifest's ``aggregates.overall`` (episodes and hours passed, warned, failed, pass
    and success rates — final verdicts, reviews included) when ``ds`` is the whole dataset;
    for a selection the same figures over the selected episodes' verdicts. Also the
    profile, when QC ran, and whether it ran on this exact content (dataset digest).
    Read as JSON: the format layer does not import the QC package.
    """
    path = ds.root / QC_MANIFEST
    if not path.is_file():
        return None
    try:
        data = load_json(
            read_bounded(path, error=QCManifestError), error=QCManifestError, name=str(path)
        )
        overall = data["aggregates"]["overall"]
        by_id = {r["episode_id"]: r for r in data["episodes"]}
        profile = data["profile"]
        out: dict[str, Any] = {
            "profile": f"{profile['id']} v{profile['version']}",
            "profile_digest": profile["digest"],
            "checked_at": data["created_at"],
            "dataset_digest": data["dataset_digest"],
            "matches_this_dataset": data["dataset_digest"] == ds.digest,
        }
        ids = ds.episode_ids
        if set(ids) == set(by_id):
            out["covers"] = "all episodes"
            out.update({k: overall[k] for k in _GROUP_KEYS})
            out["top_failures"] = [
                f"{t['rule']} ({t['episodes']})" for t in data["aggregates"]["top_failures"]
            ]
        else:
            rows = [by_id[i] for i in ids if i in by_id]
            out["covers"] = f"{len(rows)} exported of {len(by_id)} checked episodes"
            if len(rows) < len(ids):
                out["unchecked_episodes"] = len(ids) - len(rows)
            out.update(_selection_stats(rows))
    except OSError as exc:
        return {"error": f"{QC_MANIFEST} unreadable: {exc}"}
    except QCManifestError as exc:  # too large, not UTF-8, not JSON, nested too deeply
        return {"error": exc.message}
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return {"error": f"{QC_MANIFEST} is not a QC manifest (specs/qc.md)"}
    return out


def dataset_card(
    dataset: str | Path | Dataset,
    *,
    frames: int | None = None,
    tags: Sequence[str] = (),
    layout: str = "Hugging Face datasets (save_to_disk)",
    metadata: Mapping[str, Any] | None = None,
    usage: str = "",
) -> DatasetCard:
    """A Hub dataset card: YAML metadata (licence, task category, size, tags, provenance,
    QC summary, plus ``metadata`` such as ``configs``) and a body saying what the data is
    and, with ``usage`` (Markdown), how to load it."""
    ds = resolve_dataset(dataset)
    s = summarize(ds)
    rows = frames if frames is not None else int(s["frames"])
    meta = ds.meta
    qc = qc_summary(ds)
    provenance = meta.provenance.model_dump(exclude_none=True)
    licence = hf_licence(meta.licence)
    data = DatasetCardData(
        license=licence["license"],
        license_name=licence.get("license_name"),
        pretty_name=meta.name,
        task_categories=["robotics"],
        size_categories=[size_category(rows)],
        tags=["embodex", "robotics", "teleoperation", *tags],
        embodex={
            "source_digest": ds.digest,
            "licence": meta.licence,
            "provenance": provenance,
            "episodes": s["episodes"],
            "frames": rows,
            "hours": round(float(s["hours"]), 4),
            "fps": meta.fps,
            "robots": list(s["robots"]),
            **({"qc": qc} if qc is not None else {}),
        },
        **dict(metadata or {}),
    )
    lines = [
        f"# {meta.name}",
        "",
        meta.description or "Teleoperated robot demonstrations packaged with embodex.",
        "",
        f"* Licence: `{meta.licence}`",
        f"* Collected by: {meta.provenance.centre_name} (`{meta.provenance.centre_id}`)"
        + (f", {meta.provenance.site}" if meta.provenance.site else ""),
        f"* {count(s['episodes'], 'episode')}, {count(rows, 'frame')}, {s['hours']:.2f} h "
        f"at {meta.fps:g} fps",
        f"* Robots: {', '.join(s['robots'])}",
        f"* Cameras: {', '.join(c.name for c in meta.cameras) or 'none'}",
        f"* Layout: {layout}; source embodex dataset `{ds.digest}`",
        "",
        *(["## Loading", "", usage, ""] if usage else []),
        "## Hours by scene type",
        "",
        "| scene type | episodes | hours |",
        "|---|---|---|",
        *(f"| {k} | {v['episodes']} | {v['hours']:.2f} |" for k, v in s["by_scene_type"].items()),
        "",
        "## Hours by skill",
        "",
        "| skill | episodes | hours |",
        "|---|---|---|",
        *(f"| {k} | {v['episodes']} | {v['hours']:.2f} |" for k, v in s["by_skill"].items()),
        "",
        "## Quality checks",
        "",
        _qc_text(qc),
        "",
    ]
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def _qc_text(qc: dict[str, Any] | None) -> str:
    if qc is None:
        return "No QC report (`qc/manifest.json`) was found beside the dataset."
    if "error" in qc:
        return f"QC results unavailable: {qc['error']}."
    stale = (
        ""
        if qc["matches_this_dataset"]
        else " **Stale: QC ran on another version of the dataset.**"
    )
    rates = f"pass rate (PASS + WARN) {qc['pass_rate']}" + (
        f", success rate {qc['success_rate']}" if qc["success_rate"] is not None else ""
    )
    lines = [
        f"From `{QC_MANIFEST}` (profile {qc['profile']}, `{qc['profile_digest']}`, checked "
        f"{qc['checked_at']}; {qc['covers']}):{stale}",
        "",
        "| final verdict | episodes | hours |",
        "|---|---|---|",
        f"| PASS | {qc['passed']} | {qc['hours_passed']} |",
        f"| WARN | {qc['warned']} | {qc['hours_warned']} |",
        f"| FAIL | {qc['failed']} | {qc['hours_failed']} |",
        f"| all | {qc['episodes']} | {qc['hours']} |",
        "",
        rates + ".",
    ]
    if qc.get("top_failures"):
        lines += ["", "Most frequent failing rules: " + ", ".join(qc["top_failures"]) + "."]
    return "\n".join(lines)
