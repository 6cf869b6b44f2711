"""Hugging Face ``datasets`` conversion and dataset cards (``embodex export hf``).

The frame table becomes a ``datasets.Dataset`` (one row per frame: ``episode_index``,
``frame_index``, ``timestamp_ns``, each feature as a fixed-length list, each camera as an
``Image`` with its capture time). The episode table becomes a second, small one. Both the
exporter and ``EpisodeDataset.to_hf()`` (the loader) build on :func:`to_hf_dataset`.

``export_hf(DATASET, OUT)`` writes the Hub's own layout (:mod:`.hf_parquet`: Parquet shards
under ``OUT/data/`` and ``OUT/episodes/``, a card whose ``configs:`` name them), which
``datasets.load_dataset(OUT)`` and the Hub's dataset viewer open; ``push="owner/name"``
uploads it (:mod:`.hf_push`). ``layout="disk"`` keeps the earlier ``save_to_disk`` form::

    OUT/                 datasets.load_from_disk(OUT)             -> the frames
    OUT/episodes/        datasets.load_from_disk(OUT + "/episodes") -> one row per episode
    OUT/README.md        dataset card (YAML metadata through huggingface_hub's card classes)
    OUT/embodex.json     the embodex dataset metadata (licence, provenance, robots, cameras)

Needs the ``hf`` extra (``datasets``, ``huggingface_hub``); raises ``MissingExtraError``
without it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ...errors import InteropError, MissingExtraError
from ...units import plural
from ..images import encode_image
from ..models import Camera, DatasetMeta
from ..reader import Dataset, EpisodeView
from .card import dataset_card
from .common import ExportReport, resolve_dataset, staged_output
from .hf_parquet import (
    MAX_SHARD_BYTES,
    hub_card_metadata,
    write_parquet_episodes,
    write_parquet_frames,
)

try:
    import datasets
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(_exc.name or "datasets", "hf") from None

__all__ = [
    "EPISODES_DIR",
    "LAYOUTS",
    "dataset_card",
    "episodes_to_hf",
    "export_hf",
    "frame_table",
    "hf_features",
    "to_hf_dataset",
]

EPISODES_DIR = "episodes"
_CARD_FILE = "README.md"
_META_FILE = "embodex.json"
# Columns of episodes.arrow that only make sense inside the embodex layout.
_EPISODE_DROP = ("shard", "row_start", "stats")

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
    video_cams = {c.name for c in view.cameras if c.is_video}
    plain = [n for n in schema.names if not n.startswith("image.")]
    table = view.arrow(plain)
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {n: table.column(n) for n in plain}
    for name in schema.names:
        if not name.startswith("image."):
            continue
        col = view.arrow([name]).column(0)
        cam = name.removeprefix("image.")
        if name.endswith(".timestamp_ns"):
            arrays[name] = col
        elif cam in video_cams:
            # a video camera (format 1.1): each frame decoded once and stored as a JPEG
            blobs = [encode_image(rgb, "jpeg") for rgb in view.images(cam)]
            arrays[name] = pa.StructArray.from_arrays(
                [pa.array(blobs, pa.binary()), pa.nulls(len(blobs), pa.string())],
                names=["bytes", "path"],
            ).cast(schema.field(name).type)
        else:
            # wrap each chunk (an episode may span record batches): the struct holds the
            # mapped bytes column itself, combining chunks would copy the images
            arrays[name] = pa.chunked_array(
                [
                    pa.StructArray.from_arrays(
                        [chunk, pa.nulls(len(chunk), pa.string())], names=["bytes", "path"]
                    )
                    for chunk in col.chunks
                ],
                type=schema.field(name).type,
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
            f"unknown {plural('camera', len(unknown))} {unknown}",
            hint=f"Known cameras: {', '.join(known) or 'none'}.",
        )
    return [known[n] for n in names]


def episodes_to_hf(dataset: str | Path | Dataset) -> datasets.Dataset:
    """The episode table (metadata only, no statistics or shard bookkeeping) as a Dataset."""
    return datasets.Dataset(_episode_table(resolve_dataset(dataset)))


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


#: ``layout=`` values: the Hub's Parquet shards (default) or ``save_to_disk``'s Arrow files
LAYOUTS = ("parquet", "disk")


def export_hf(
    dataset: str | Path | Dataset,
    out: str | Path,
    *,
    cameras: Sequence[str] | None = None,
    layout: str = "parquet",
    max_shard_bytes: int = MAX_SHARD_BYTES,
    push: str | None = None,
    token: str | None = None,
    private: bool | None = None,
    on_episode: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write ``dataset`` to ``out`` as a Hugging Face dataset with a dataset card.

    ``layout="parquet"`` (default): the Hub's layout (see :mod:`.hf_parquet`), which
    ``datasets.load_dataset(out)`` and the Hub's viewer open; ``layout="disk"``: the
    ``save_to_disk`` form for ``datasets.load_from_disk(out)`` (frames at the top, the
    episode table in ``out/episodes``). With ``push="owner/name"`` the folder is then
    uploaded to that Hub dataset repository (created if missing; ``private`` as given, else
    the Hub's default) with ``token`` (default: ``HF_TOKEN`` or the stored login); the
    report's ``url`` names it.

    ``out`` must not exist (or be empty); it appears only once complete. Memory stays flat:
    frames stream episode by episode. Raises ``DatasetExistsError``, ``InteropError``
    (unknown camera, nothing to export, unknown layout), ``MissingExtraError`` and, when
    pushing, ``StorageAccessError`` (no token, a token refused, no right to the repository)
    or ``StorageError``.

    Example::

        export_hf("datasets/week01", "exports/week01-hf")
        frames = datasets.load_dataset("exports/week01-hf", split="train")
        export_hf("datasets/week01", "exports/week01-hub", push="hubei-centre/week01")
    """
    ds = resolve_dataset(dataset)
    if layout not in LAYOUTS:
        raise InteropError(
            f"unknown Hugging Face layout {layout!r}", hint=f"Use one of {', '.join(LAYOUTS)}."
        )
    if len(ds) == 0:
        raise InteropError(
            f"{ds.root}: no episodes to export", hint="Select at least one episode.", path=ds.root
        )
    cams = _cameras(ds.meta, cameras)
    if push is not None:
        from .hf_push import check_push

        check_push(push, token)  # before the export: a missing token fails at once
    out = Path(out)
    report = ExportReport(path=out)
    with _quiet_datasets(), staged_output(out) as root:
        if layout == "disk":
            _write_disk(ds, root, cams, on_episode)
            card = dataset_card(ds, tags=["datasets"], usage=_DISK_USAGE)
        else:
            base = hf_features(ds.meta, cams)
            frames = write_parquet_frames(
                ds, root, cams, frame_table, base,
                max_shard_bytes=max_shard_bytes, on_episode=on_episode,
            )  # fmt: skip
            episodes = write_parquet_episodes(_episode_table(ds), root)
            card = dataset_card(
                ds,
                tags=["datasets", "parquet"],
                layout="Parquet shards (datasets.load_dataset)",
                metadata=hub_card_metadata(root, [frames, episodes]),
                usage=_PARQUET_USAGE,
            )
        (root / _META_FILE).write_text(ds.meta.model_dump_json(indent=2) + "\n", "utf-8")
        (root / _CARD_FILE).write_text(str(card), encoding="utf-8")
    report.episodes = len(ds)
    report.frames = ds.num_frames
    report.count_files()
    if push is not None:
        from .hf_push import push_folder

        report.url = push_folder(out, push, token=token, private=private)
    return report


_PARQUET_USAGE = """```python
import datasets

frames = datasets.load_dataset("THIS_REPO", split="train")  # one row per frame
episodes = datasets.load_dataset("THIS_REPO", "episodes", split="train")
```

`THIS_REPO` is the repository id on the Hub, or the folder's path on disk. Camera
columns are `datasets.Image` features; `timestamp_ns` is the real capture time."""

_DISK_USAGE = """```python
import datasets

frames = datasets.load_from_disk("THIS_FOLDER")
episodes = datasets.load_from_disk("THIS_FOLDER/episodes")
```"""


def _episode_table(ds: Dataset) -> pa.Table:
    return ds.episodes.drop_columns([c for c in _EPISODE_DROP if c in ds.episodes.column_names])


def _write_disk(
    ds: Dataset, root: Path, cams: list[Camera], on_episode: Callable[[str], None] | None
) -> None:
    """The ``save_to_disk`` layout: frames at the top, the episode table in ``episodes/``."""
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        frames = to_hf_dataset(
            ds,
            cameras=[c.name for c in cams],
            cache_file=Path(tmp) / "frames.arrow",
            on_episode=on_episode,
        )
        frames.save_to_disk(str(root))  # frames at the top: load_from_disk(OUT)
        del frames
    datasets.Dataset(_episode_table(ds)).save_to_disk(str(root / EPISODES_DIR))
