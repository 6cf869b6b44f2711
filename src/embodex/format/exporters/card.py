"""Hugging Face Hub dataset cards for exports (README.md with YAML metadata).

Built with ``huggingface_hub``'s card classes: licence (Hub id, or ``other`` with the
embodex licence kept), ``task_categories: [robotics]``, size category, tags, and an
``embodex`` block with provenance, source digest and the QC summary when
``qc/manifest.json`` sits beside the dataset. Used by the Hugging Face and LeRobot exporters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import MissingExtraError
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


def qc_summary(ds: Dataset) -> dict[str, Any] | None:
    """The headline of ``qc/manifest.json`` beside the dataset, if QC has run.

    Keeps the manifest's ``summary`` object when it has one, else its top-level scalar
    fields; notes whether it was made for this exact content (dataset digest).
    """
    path = ds.root / QC_MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"{QC_MANIFEST} unreadable: {exc}"}
    if not isinstance(data, dict):
        return {"error": f"{QC_MANIFEST} is not a JSON object"}
    summary = data.get("summary")
    out: dict[str, Any] = (
        dict(summary)
        if isinstance(summary, dict)
        else {k: v for k, v in data.items() if isinstance(v, str | int | float | bool)}
    )
    digest = data.get("dataset_digest") or data.get("digest")
    if isinstance(digest, str):
        out["dataset_digest"] = digest
        out["matches_this_dataset"] = digest == ds.digest
    return out


def dataset_card(
    dataset: str | Path | Dataset,
    *,
    frames: int | None = None,
    tags: Sequence[str] = (),
    layout: str = "Hugging Face datasets (save_to_disk)",
) -> DatasetCard:
    """A Hub dataset card: YAML metadata (licence, task category, size, tags, provenance,
    QC summary) and a body saying what the data is and how to load it."""
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
    )
    lines = [
        f"# {meta.name}",
        "",
        meta.description or "Teleoperated robot demonstrations packaged with embodex.",
        "",
        f"* Licence: `{meta.licence}`",
        f"* Collected by: {meta.provenance.centre_name} (`{meta.provenance.centre_id}`)"
        + (f", {meta.provenance.site}" if meta.provenance.site else ""),
        f"* {s['episodes']} episodes, {rows} frames, {s['hours']:.2f} h at {meta.fps:g} fps",
        f"* Robots: {', '.join(s['robots'])}",
        f"* Cameras: {', '.join(c.name for c in meta.cameras) or 'none'}",
        f"* Layout: {layout}; source embodex dataset `{ds.digest}`",
        "",
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
    items = ", ".join(f"{k}: {v}" for k, v in qc.items())
    return f"From `{QC_MANIFEST}`: {items}."
