"""Hugging Face ``datasets`` conversion and dataset cards (``embodex export hf``).

The frame table becomes a ``datasets.Dataset`` (one row per frame: ``episode_index``,
``frame_index``, ``timestamp_ns``, each feature as a fixed-length list, each camera as an
``Image`` with its capture time). The episode table becomes a second, small one. Both the
exporter and ``EpisodeDataset.to_hf()`` (the loader) build on :func:`to_hf_dataset`.

``export_hf(DATASET, OUT)`` writes::

    OUT/                 datasets.load_from_disk(OUT)             -> the frames
    OUT/episodes/        datasets.load_from_disk(OUT + "/episodes") -> one row per episode
    OUT/README.md        dataset card (YAML metadata through huggingface_hub's card classes)
    OUT/embodex.json     the embodex dataset metadata (licence, provenance, robots, cameras)

Needs the ``hf`` extra (``datasets``, ``huggingface_hub``); raises ``MissingExtraError``
without it.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ...errors import InteropError, MissingExtraError
from ..models import Camera, DatasetMeta
from ..reader import Dataset, EpisodeView
from ..summary import summarize
from .common import ExportReport, resolve_dataset, staged_output

try:
    import datasets
    from huggingface_hub import DatasetCard, DatasetCardData
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(_exc.name or "datasets", "hf") from None

__all__ = [
    "EPISODES_DIR",
    "dataset_card",
    "episodes_to_hf",
    "export_hf",
    "frame_table",
    "hf_features",
    "hf_licence",
    "qc_summary",
    "size_category",
    "to_hf_dataset",
]

EPISODES_DIR = "episodes"
_CARD_FILE = "README.md"
_META_FILE = "embodex.json"
_QC_MANIFEST = "qc/manifest.json"
# Columns of episodes.arrow that only make sense inside the embodex layout.
_EPISODE_DROP = ("shard", "row_start", "stats")

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


# -- frames ------------------------------------------------------------------------------


def hf_features(meta: DatasetMeta, cameras: Sequence[Camera] | None = None) -> datasets.Features:
    """The ``datasets.Features`` of the frame table (all cameras unless given)."""
    cams = list(meta.cameras) if cameras is None else list(cameras)
    feats: dict[str, Any] = {
        "episode_index": datasets.Value("int64"),
        "frame_index": datasets.Value("int32"),
        "timestamp_ns": datasets.Value("int64"),
    }
    for name, feat in meta.feature_items():
        feats[name] = datasets.List(datasets.Value(feat.dtype), length=feat.shape[0])
    for cam in cams:
        feats[cam.column] = datasets.Image()
        feats[cam.timestamp_column] = datasets.Value("int64")
    return datasets.Features(feats)


def frame_table(view: EpisodeView, features: datasets.Features) -> pa.Table:
    """One episode's frames as an Arrow table in the layout of ``features``.

    Feature columns are sliced from the memory-mapped shard (no copy); images keep their
    stored JPEG/PNG bytes, wrapped as ``datasets.Image`` structs.
    """
    schema = features.arrow_schema
    plain = [n for n in schema.names if not n.startswith("image.")]
    table = view.arrow(plain)
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {n: table.column(n) for n in plain}
    for name in schema.names:
        if not name.startswith("image."):
            continue
        col = view.arrow([name]).column(0)
        if name.endswith(".timestamp_ns"):
            arrays[name] = col
        else:
            bytes_col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            arrays[name] = pa.StructArray.from_arrays(
                [bytes_col, pa.nulls(len(bytes_col), pa.string())], names=["bytes", "path"]
            )
    return pa.Table.from_arrays([arrays[n] for n in schema.names], schema=schema)


def to_hf_dataset(
    dataset: str | Path | Dataset,
    *,
    cameras: Sequence[str] | None = None,
    cache_file: str | Path | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> datasets.Dataset:
    """The frames of ``dataset`` (a path, dataset or selection) as a ``datasets.Dataset``.

    ``cameras`` limits the image columns (default: all; ``[]`` for none). With
    ``cache_file`` the rows are streamed to that Arrow file and memory-mapped (memory stays
    flat whatever the size); without it they are built in memory.

    Example::

        hf = to_hf_dataset(open_dataset("week01").select(skill="hold_cup"), cameras=["head"])
        hf.with_format("numpy")[0]["state"]
    """
    ds = resolve_dataset(dataset)
    cams = _cameras(ds.meta, cameras)
    features = hf_features(ds.meta, cams)
    if cache_file is None:
        tables = []
        for view in ds:
            tables.append(frame_table(view, features))
            if on_episode is not None:
                on_episode(view.episode_id)
        table = pa.concat_tables(tables) if tables else features.arrow_schema.empty_table()
        return datasets.Dataset(table, info=datasets.DatasetInfo(features=features))
    path = Path(cache_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, features.arrow_schema) as w:
        for view in ds:
            w.write_table(frame_table(view, features))
            if on_episode is not None:
                on_episode(view.episode_id)
    return datasets.Dataset.from_file(str(path), info=datasets.DatasetInfo(features=features))


def _cameras(meta: DatasetMeta, names: Sequence[str] | None) -> list[Camera]:
    if names is None:
        return list(meta.cameras)
    known = {c.name: c for c in meta.cameras}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InteropError(
            f"unknown camera(s) {unknown}", hint=f"Known cameras: {', '.join(known) or 'none'}."
        )
    return [known[n] for n in names]


def episodes_to_hf(dataset: str | Path | Dataset) -> datasets.Dataset:
    """The episode table (metadata only, no statistics or shard bookkeeping) as a Dataset."""
    ds = resolve_dataset(dataset)
    table = ds.episodes.drop_columns([c for c in _EPISODE_DROP if c in ds.episodes.column_names])
    return datasets.Dataset(table)


# -- card --------------------------------------------------------------------------------


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
    path = ds.root / _QC_MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"{_QC_MANIFEST} unreadable: {exc}"}
    if not isinstance(data, dict):
        return {"error": f"{_QC_MANIFEST} is not a JSON object"}
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
    return f"From `{_QC_MANIFEST}`: {items}."


# -- export ------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No ``datasets`` progress bars: the CLI draws its own, and --json must stay clean."""
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


def export_hf(
    dataset: str | Path | Dataset,
    out: str | Path,
    *,
    cameras: Sequence[str] | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write ``dataset`` to ``out`` for ``datasets.load_from_disk`` with a dataset card.

    ``out`` must not exist (or be empty); it appears only once complete. Memory stays flat:
    frames stream through a scratch Arrow file. Raises ``DatasetExistsError``,
    ``InteropError`` (unknown camera, nothing to export) and ``MissingExtraError``.

    Example::

        export_hf("datasets/week01", "exports/week01-hf")
        frames = datasets.load_from_disk("exports/week01-hf")
    """
    ds = resolve_dataset(dataset)
    if len(ds) == 0:
        raise InteropError(f"{ds.root}: no episodes to export", hint="Select at least one episode.")
    out = Path(out)
    report = ExportReport(path=out)
    with (
        _quiet_datasets(),
        staged_output(out) as root,
        tempfile.TemporaryDirectory(dir=out.parent) as tmp,
    ):
        frames = to_hf_dataset(
            ds, cameras=cameras, cache_file=Path(tmp) / "frames.arrow", on_episode=on_episode
        )
        frames.save_to_disk(str(root))  # frames at the top: load_from_disk(OUT)
        del frames
        episodes_to_hf(ds).save_to_disk(str(root / EPISODES_DIR))
        (root / _META_FILE).write_text(ds.meta.model_dump_json(indent=2) + "\n", "utf-8")
        card = dataset_card(ds, tags=["datasets"])
        (root / _CARD_FILE).write_text(str(card), encoding="utf-8")
    report.episodes = len(ds)
    report.frames = ds.num_frames
    report.count_files()
    return report
