"""Import a LeRobot v3.0 dataset into an embodex dataset (``--from lerobot``).

Reads ``meta/info.json``, ``meta/episodes/``, ``meta/tasks.parquet`` (and
``meta/subtasks.parquet``) and the chunked ``data/`` parquet with pyarrow; video cameras are
decoded with PyAV and stored as JPEG, image cameras keep their PNG/JPEG bytes.

Mapping (specs/interop.md): ``observation.state`` → ``state`` (role state), ``action`` →
``action``, ``action.*`` keep their name (role action), other ``observation.X`` → ``X``
(role observation); 1-D numeric features only (others are listed in the report's notes);
``observation.images.<cam>`` → camera ``<cam>`` (depth maps are left out).

Time: LeRobot's ``timestamp`` is ``frame_index / fps``, not a capture time. So frames are
timed ``start_time_ns + (dataset_from_index + frame_index) / fps`` (``start_time_ns``
from the sidecar, default 0: episodes follow each other without overlap) and every
episode gets ``timestamps_synthesized = true``. An export made by embodex carries the real
times (``embodex.timestamp_ns``) and its full metadata (``meta/embodex/embodex.json`` and
the ``embodex/*`` episode columns); those are used instead, so an embodex → LeRobot →
embodex round trip keeps ids, metadata, times and image bytes.

The sidecar (``--meta``, keys of :class:`~embodex.format.importers.sidecar.CommonSidecar`)
supplies the licence when the dataset card (``README.md``) names none, the provenance, the
robot's joint units, and per-episode scene/operator/success (``episodes: {<index>: ...}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from ...errors import ConfigError, ImportSourceError, SchemaError
from ...parsing import BoundedYamlLoader, parse_document
from .. import lerobot_v3 as v3
from ..episode import Episode
from ..images import encode_image
from ..models import (
    Camera,
    DatasetMeta,
    Embodiment,
    EpisodeMeta,
    Feature,
    Provenance,
    Segment,
)
from ..video import VideoSpanReader
from ..videostore import VideoClip, VideoEncoding, VideoIndex, probe_index
from .common import (
    EpisodeSink,
    ImportReport,
    VideoPolicy,
    already_imported,
    existing_episode_ids,
)
from .sidecar import CommonSidecar, overrides_fields, require_licence, resolve_common_sidecar

__all__ = ["import_lerobot"]

_NUMERIC = {"float32", "float64", "int32", "int64", "int16", "int8", "uint8", "uint16"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SKIP_HINT = "or pass `skip_bad=True` to import the other episodes."


@dataclass
class _Cam:
    key: str
    camera: Camera
    video: bool


@dataclass
class _Plan:
    info: dict[str, Any]
    meta: DatasetMeta
    features: dict[str, str]  # LeRobot key -> embodex feature name
    cams: list[_Cam]
    own: bool  # written by embodex export: real times and metadata inside
    tasks: list[str]
    subtasks: list[str] | None
    policy: VideoPolicy = field(default_factory=VideoPolicy)
    #: the index of the shared video file being cut (demuxed once, not per episode)
    indexes: dict[Path, VideoIndex] = field(default_factory=dict)


def import_lerobot(
    src: str | Path,
    out: str | Path,
    *,
    sidecar: str | Path | Mapping[str, Any] | None = None,
    skip_bad: bool = False,
    append: bool = False,
    on_episode: Callable[[str], None] | None = None,
    video: VideoPolicy | None = None,
) -> ImportReport:
    """Import the LeRobot v3.0 dataset at ``src`` into the embodex dataset ``out``.

    Video features become video cameras whose episodes are cut from LeRobot's shared MP4s
    without re-encoding (whole GOPs, format §10's way), unless ``video`` (a
    :class:`VideoPolicy`) says ``cameras="jpeg"`` or the codec or key-frame spacing needs a
    re-encode.

    ``sidecar``: a YAML path or mapping (default ``src/embodex-sidecar.yaml`` when present);
    ``append`` adds to an existing dataset of the same licence and schema. Episodes are
    written one by one and published together at the end; on error nothing is published.

    Raises ``ImportSourceError`` (not a v3.0 dataset, unreadable or inconsistent files;
    per episode unless ``skip_bad``), ``ConfigError`` (no licence, bad sidecar),
    ``DatasetExistsError`` and ``SchemaError``.

    Example::

        report = import_lerobot("lerobot/pusht", "datasets/pusht",
                                sidecar={"licence": "MIT"})
    """
    src, out = Path(src), Path(out)
    sc = resolve_common_sidecar(src, sidecar, "specs/interop.md §3")
    policy = video or VideoPolicy()
    plan = _plan(src, sc, policy)
    report = ImportReport(dataset=out)
    report.notes.extend(_notes(plan))
    existing = existing_episode_ids(out, append, plan.meta)
    episodes = _episode_rows(src)
    readers: dict[tuple[str, int, int], VideoSpanReader] = {}
    data = _DataFiles(src, plan.info)
    try:
        with EpisodeSink(
            out,
            report,
            append=append,
            on_episode=on_episode,
            video_encoding=VideoEncoding(gop=policy.gop),
        ) as sink:
            for row in episodes:
                try:
                    episode = _load_episode(src, plan, sc, row, data, readers)
                    if episode.meta.episode_id in existing:
                        raise already_imported(out, episode.meta.episode_id, _SKIP_HINT)
                except ImportSourceError as exc:
                    sink.skip(f"lerobot episode {row['episode_index']}", exc, skip_bad)
                    continue
                sink.add(plan.meta, episode)
            sink.finish(src, listed=len(episodes))
    finally:
        for reader in readers.values():
            reader.close()
    return report


# -- metadata ------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportSourceError(
            "not a LeRobot dataset (no meta/info.json)",
            path=str(path.parent.parent),
            hint="Point at the dataset root (it holds meta/ and data/); download it first.",
        ) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise ImportSourceError(f"cannot read: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise ImportSourceError("is not a JSON object", path=str(path))
    return data


def _card_licence(src: Path) -> str | None:
    """``license:`` from the YAML header of the dataset card, unless it is ``other``."""
    card = src / "README.md"
    if not card.is_file():
        return None
    text = card.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"---\n(.*?)\n---", text, re.S)
    if not match:
        return None
    try:
        header = yaml.load(match.group(1), Loader=BoundedYamlLoader)  # safe, no aliases
    except yaml.YAMLError:
        return None
    licence = header.get("license") if isinstance(header, dict) else None
    return str(licence) if licence and str(licence) not in ("other", "unknown") else None


def _index_names(path: Path, column: str) -> list[str]:
    """Strings of ``tasks.parquet``-style tables, in index order (pandas index or column)."""
    table = pq.read_table(path)
    names = table.column_names
    text_col = next((c for c in ("__index_level_0__", "task", "subtask") if c in names), None)
    if text_col is None or column not in names:
        raise ImportSourceError(
            f"has no {column} and task text columns", path=str(path), hint="Restore the file."
        )
    pairs = sorted(
        zip(table.column(column).to_pylist(), table.column(text_col).to_pylist(), strict=True)
    )
    return [str(text) for _, text in pairs]


def _plan(src: Path, sc: CommonSidecar, policy: VideoPolicy) -> _Plan:
    info = _read_json(src / v3.INFO_FILE)
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3."):
        raise ImportSourceError(
            f"LeRobot codebase version {version or '(none)'} is not supported (v3.x is)",
            path=str(src / v3.INFO_FILE),
            hint="Convert it with LeRobot's v2.1 → v3.0 conversion script first.",
        )
    features = info.get("features")
    if not isinstance(features, dict) or not isinstance(info.get("fps"), int | float):
        raise ImportSourceError("info.json lacks features or fps", path=str(src / v3.INFO_FILE))
    tasks = _index_names(src / v3.TASKS_FILE, "task_index")
    subtasks_file = src / v3.SUBTASKS_FILE
    subtasks = (
        _index_names(subtasks_file, "subtask_index")
        if subtasks_file.is_file() and "subtask_index" in features
        else None
    )
    own_meta = src / v3.EMBODEX_META_FILE
    if own_meta.is_file() and isinstance(info.get("embodex"), dict):
        meta, mapping, cams = _own_plan(info, own_meta, sc)
        cams = _video_cameras(info, cams, policy)
        meta = meta.model_copy(update={"cameras": [c.camera for c in cams]})
        return _Plan(info, meta, mapping, cams, True, tasks, subtasks, policy)
    meta, mapping, cams = _foreign_plan(src, info, sc)
    cams = _video_cameras(info, _image_encodings(src, info, cams), policy)
    meta = meta.model_copy(update={"cameras": [c.camera for c in cams]})
    return _Plan(info, meta, mapping, cams, False, tasks, subtasks, policy)


#: LeRobot's ``video.codec`` names → the camera encoding of a video camera.
_LEROBOT_CODECS = {"av1": "av1", "h264": "h264", "hevc": "h265", "h265": "h265"}


def _video_cameras(info: dict[str, Any], cams: list[_Cam], policy: VideoPolicy) -> list[_Cam]:
    """Video features become video cameras (format 1.1) in the file's codec when a dataset
    stores it (else the policy's, re-encoded); with ``cameras="jpeg"`` JPEG frames."""
    if policy.cameras == "jpeg":
        return cams
    out = []
    for cam in cams:
        if cam.video:
            vinfo = info["features"][cam.key].get("info") or {}
            codec = _LEROBOT_CODECS.get(str(vinfo.get("video.codec", "")).lower())
            if codec is None or policy.reencode == "always":
                codec = policy.codec
            camera = cam.camera.model_copy(update={"storage": "video", "encoding": codec})
            cam = _Cam(cam.key, camera, True)
        out.append(cam)
    return out


def _image_encodings(src: Path, info: dict[str, Any], cams: list[_Cam]) -> list[_Cam]:
    """Keep image cameras' bytes as they are: PNG stays PNG (lossless), JPEG stays JPEG."""
    keys = [c.key for c in cams if not c.video]
    if not keys:
        return cams
    first = src / str(info.get("data_path") or v3.DATA_PATH).format(chunk_index=0, file_index=0)
    try:
        head = pq.ParquetFile(first).read_row_group(0, columns=keys).slice(0, 1).to_pylist()
    except (OSError, pa.ArrowInvalid, KeyError) as exc:
        raise ImportSourceError(f"cannot read data file: {exc}", path=str(first)) from exc
    out = []
    for cam in cams:
        value = head[0].get(cam.key) if head and not cam.video else None
        fmt = (
            _sniff(bytes(value["bytes"]))
            if isinstance(value, dict) and value.get("bytes")
            else None
        )
        if fmt is not None:
            cam = _Cam(cam.key, cam.camera.model_copy(update={"encoding": fmt}), cam.video)
        out.append(cam)
    return out


def _own_plan(
    info: dict[str, Any], path: Path, sc: CommonSidecar
) -> tuple[DatasetMeta, dict[str, str], list[_Cam]]:
    try:
        meta = parse_document(path, DatasetMeta, ImportSourceError, name="embodex metadata")
    except FileNotFoundError:
        raise ImportSourceError("embodex metadata is missing", path=str(path)) from None
    mapping = dict(info["embodex"].get("feature_map") or {})
    cams = [
        _Cam(
            v3.camera_key(c.name),
            # a video camera (format 1.1) comes back as JPEG frames, as imports store them
            c.model_copy(update={"storage": "frame", "encoding": "jpeg"}) if c.is_video else c,
            info["features"][v3.camera_key(c.name)]["dtype"] == "video",
        )
        for c in meta.cameras
        if v3.camera_key(c.name) in info["features"]
    ]
    # Cameras the export left out (depth) are not in the LeRobot data: drop them here too.
    update: dict[str, Any] = {"cameras": [c.camera for c in cams]}
    if sc.licence:
        update["licence"] = sc.licence
    if sc.name:
        update["name"] = sc.name
    if sc.provenance:
        update["provenance"] = sc.provenance
    return meta.model_copy(update=update), mapping, cams


def _embodex_name(key: str) -> str:
    if key == "observation.state":
        return "state"
    name = key.removeprefix("observation.")
    name = re.sub(r"[^A-Za-z0-9_.]", "_", name)
    if not re.match(r"[A-Za-z_]", name) or name.startswith(("image.", "stats")):
        name = f"f_{name}"
    if name in ("episode_index", "frame_index", "timestamp_ns"):
        name = f"lerobot_{name}"
    return name


def _names(ft: dict[str, Any], width: int) -> list[str] | None:
    names = ft.get("names")
    if isinstance(names, dict) and len(names) == 1:
        names = next(iter(names.values()))
    if isinstance(names, list) and len(names) == width and all(isinstance(n, str) for n in names):
        return [str(n) for n in names]
    return None


def _foreign_plan(
    src: Path, info: dict[str, Any], sc: CommonSidecar
) -> tuple[DatasetMeta, dict[str, str], list[_Cam]]:
    licence = require_licence(
        sc.licence or _card_licence(src), f"no sidecar licence and no license in {src}/README.md"
    )
    mapping: dict[str, str] = {}
    features: dict[str, Feature] = {}
    cams: list[_Cam] = []
    for key, ft in info["features"].items():
        dtype, shape = ft.get("dtype"), list(ft.get("shape") or [])
        if key in v3.DEFAULT_FEATURES or key == "subtask_index" or key.startswith("embodex."):
            continue  # bookkeeping; embodex.* are capture times, used as such
        if dtype in ("image", "video"):
            vinfo = ft.get("info") or {}
            if vinfo.get("video.is_depth_map") or (len(shape) == 3 and shape[2] != 3):
                continue  # reported in the notes
            name = re.sub(r"[^a-z0-9_]", "_", key.removeprefix("observation.images.").lower())
            camera = Camera(
                name=name if re.match(r"[a-z]", name) else f"cam_{name}",
                kind="color",
                width=int(shape[1]),
                height=int(shape[0]),
                encoding="jpeg",  # refined from the first frame for image features
            )
            cams.append(_Cam(key, camera, dtype == "video"))
            continue
        if dtype not in _NUMERIC or len(shape) != 1:
            continue
        name = _embodex_name(key)
        role = (
            "state"
            if key == "observation.state"
            else "action"
            if key.startswith("action")
            else "observation"
        )
        out_dtype = dtype if dtype in ("float32", "float64", "int32", "int64") else "int32"
        features[name] = Feature(
            dtype=out_dtype, shape=[int(shape[0])], names=_names(ft, int(shape[0])), role=role
        )
        mapping[key] = name
    if not features:
        raise ImportSourceError("no 1-D numeric feature to import", path=str(src / v3.INFO_FILE))
    main = features.get("state") or features.get("action") or next(iter(features.values()))
    dof = main.shape[0]
    joints = main.names if main.names and len(set(main.names)) == dof else None
    units = sc.robot.units
    unit_list = [units] * dof if isinstance(units, str) else list(units or ["unknown"] * dof)
    name = sc.name or src.resolve().name or "lerobot-dataset"
    try:
        meta = DatasetMeta(
            name=name,
            licence=licence,
            description=sc.description or f"Imported from the LeRobot v3.0 dataset {name}.",
            provenance=sc.provenance
            or Provenance(centre_id="lerobot-import", centre_name=f"LeRobot dataset {name}"),
            embodiments=[
                Embodiment(
                    model=sc.robot.model or str(info.get("robot_type") or "unknown"),
                    dof=dof,
                    joint_names=joints or [f"joint_{i}" for i in range(dof)],
                    units=unit_list,
                )
            ],
            cameras=[c.camera for c in cams],
            features=features,
            fps=float(info["fps"]),
            extra={
                "lerobot": {
                    "codebase_version": info.get("codebase_version"),
                    "robot_type": info.get("robot_type"),
                    "feature_map": mapping,
                }
            },
        )
    except ValidationError as exc:
        raise ConfigError(
            f"cannot describe {src} as an embodex dataset: {exc.errors()[0]['msg']}",
            hint="Set robot.units (one per joint) and name in the sidecar.",
        ) from None
    return meta, mapping, cams


def _notes(plan: _Plan) -> list[str]:
    notes = []
    used = set(plan.features) | {c.key for c in plan.cams} | set(v3.DEFAULT_FEATURES)
    used |= {"subtask_index", v3.REAL_TIME_FEATURE}
    used |= {v3.image_time_feature(c.camera.name) for c in plan.cams}
    left = sorted(k for k in plan.info["features"] if k not in used)
    if left:
        notes.append(f"features not imported (not 1-D numeric or depth): {', '.join(left)}")
    if v3.REAL_TIME_FEATURE not in plan.info["features"]:
        notes.append(
            "LeRobot timestamps are frame_index / fps: frame times are synthesised "
            "(timestamps_synthesized = true)"
        )
    return notes


# -- episodes ------------------------------------------------------------------------------


def _episode_rows(src: Path) -> list[dict[str, Any]]:
    files = sorted((src / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise ImportSourceError(
            "no meta/episodes/chunk-*/file-*.parquet", path=str(src), hint="Restore meta/."
        )
    rows: list[dict[str, Any]] = []
    for path in files:
        table = pq.read_table(path)
        keep = [c for c in table.column_names if not c.startswith("stats/")]
        rows.extend(table.select(keep).to_pylist())
    rows.sort(key=lambda r: int(r["episode_index"]))
    return rows


class _DataFiles:
    """The data parquet file of the current episodes, read once and kept while used."""

    def __init__(self, src: Path, info: dict[str, Any]) -> None:
        self.src = src
        self.pattern = str(info.get("data_path") or v3.DATA_PATH)
        self._key: tuple[int, int] | None = None
        self._table: pa.Table | None = None

    def rows(self, row: dict[str, Any]) -> pa.Table:
        key = (int(row["data/chunk_index"]), int(row["data/file_index"]))
        if key != self._key:
            path = self.src / self.pattern.format(chunk_index=key[0], file_index=key[1])
            try:
                self._table = pq.read_table(path)
            except (OSError, pa.ArrowInvalid) as exc:
                raise ImportSourceError(
                    f"cannot read data file: {exc}",
                    path=str(path),
                    hint="Download the file again, " + _SKIP_HINT,
                ) from exc
            self._key = key
        assert self._table is not None
        mask = pc.equal(self._table.column("episode_index"), int(row["episode_index"]))
        return self._table.filter(mask)


def _column(table: pa.Table, key: str, eid: str) -> pa.ChunkedArray:
    if key not in table.column_names:
        raise ImportSourceError(f"data has no column {key!r}", episode_id=eid, hint=_SKIP_HINT)
    return table.column(key)


def _matrix(col: pa.ChunkedArray, width: int, dtype: str) -> np.ndarray:
    arr = col.combine_chunks()
    if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type):
        values = arr.flatten().to_numpy(zero_copy_only=False)
    else:
        values = arr.to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=dtype).reshape(len(arr), width)


def _load_episode(
    src: Path,
    plan: _Plan,
    sc: CommonSidecar,
    row: dict[str, Any],
    data: _DataFiles,
    readers: dict[tuple[str, int, int], VideoSpanReader],
) -> Episode:
    index = int(row["episode_index"])
    label = f"lerobot episode {index}"
    table = data.rows(row)
    n = int(row["length"])
    if table.num_rows != n:
        raise ImportSourceError(
            f"data holds {table.num_rows} frames, meta/episodes says {n}",
            episode_id=label,
            hint="The dataset is inconsistent; download it again, " + _SKIP_HINT,
        )
    table = table.sort_by("frame_index")
    features = {
        name: _matrix(
            _column(table, key, label),
            plan.meta.features[name].shape[0],
            plan.meta.features[name].dtype,
        )
        for key, name in plan.features.items()
    }
    meta = _episode_meta(plan, sc, row, table, n)
    times, image_times = _times(plan, sc, row, table, label)
    images = {
        cam.camera.name: _frames(src, plan, cam, row, table, readers, label) for cam in plan.cams
    }
    return Episode(
        meta=meta,
        timestamp_ns=times,
        features=features,
        images=images,
        image_timestamps_ns=image_times,
    )


def _times(
    plan: _Plan, sc: CommonSidecar, row: dict[str, Any], table: pa.Table, label: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if v3.REAL_TIME_FEATURE in table.column_names:
        cams = {}
        for cam in plan.cams:
            key = v3.image_time_feature(cam.camera.name)
            if key in table.column_names:
                cams[cam.camera.name] = table.column(key).to_numpy().astype(np.int64)
        return table.column(v3.REAL_TIME_FEATURE).to_numpy().astype(np.int64), cams
    # LeRobot's timestamp is frame_index / fps by definition (it checks so on load); the
    # float32 column would add rounding noise, so time from the exact frame index.
    fps = float(plan.info["fps"])
    start = sc.overrides(str(row["episode_index"])).start_time_ns or sc.start_time_ns
    frames = _column(table, "frame_index", label).to_numpy().astype(np.int64)
    first = int(row["dataset_from_index"])
    return start + np.rint((first + frames) * (1e9 / fps)).astype(np.int64), {}


def _episode_meta(
    plan: _Plan, sc: CommonSidecar, row: dict[str, Any], table: pa.Table, n: int
) -> EpisodeMeta:
    prefix = v3.EPISODES_COLUMN_PREFIX
    if plan.own and f"{prefix}episode_id" in row:
        data = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
        fields = {k: v for k, v in data.items() if k in EpisodeMeta.model_fields}
        fields["extra"] = json.loads(fields.get("extra") or "{}")
        fields["objects"] = fields.get("objects") or []
        fields["segments"] = fields.get("segments") or []
        fields.update(overrides_fields(sc.overrides(str(fields["episode_id"]))))
        return EpisodeMeta.model_validate(fields)
    index = int(row["episode_index"])
    task_list = [str(t) for t in row.get("tasks") or []]
    if not task_list and "task_index" in table.column_names and plan.tasks:
        task_list = [plan.tasks[int(table.column("task_index")[0].as_py())]]
    task = task_list[0] if task_list else None
    prefix_id = sc.episode_id_prefix
    if prefix_id is None:
        prefix_id = plan.meta.provenance.centre_id
    local = f"lerobot-{index}"
    fields = {
        "episode_id": f"{prefix_id}:{local}" if prefix_id else local,
        "instruction_en": task if task and not _CJK.search(task) else None,
        "instruction_zh": task if task and _CJK.search(task) else None,
        "robot_model": plan.meta.embodiments[0].model,
        "segments": _segments(plan, table, n),
        "timestamps_synthesized": v3.REAL_TIME_FEATURE not in plan.info["features"],
        "extra": {"lerobot": {"episode_index": index, "tasks": task_list}},
    }
    fields.update(overrides_fields(sc.overrides(str(index))))
    return EpisodeMeta.model_validate(fields)


def _segments(plan: _Plan, table: pa.Table, n: int) -> list[Segment]:
    if plan.subtasks is None or "subtask_index" not in table.column_names:
        return []
    idx = table.column("subtask_index").to_numpy()
    out = []
    start = 0
    for i in range(1, n + 1):
        if i == n or idx[i] != idx[start]:
            label = plan.subtasks[int(idx[start])] if 0 <= idx[start] < len(plan.subtasks) else ""
            if label:
                zh = bool(_CJK.search(label))
                out.append(
                    Segment(
                        start_frame=start,
                        end_frame=i,
                        skill=label,
                        text_en="" if zh else label,
                        text_zh=label if zh else "",
                    )
                )
            start = i
    return out


def _sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


def _frames(
    src: Path,
    plan: _Plan,
    cam: _Cam,
    row: dict[str, Any],
    table: pa.Table,
    readers: dict[tuple[str, int, int], VideoSpanReader],
    label: str,
) -> list[bytes] | VideoClip:
    n = table.num_rows
    if not cam.video:
        values = _column(table, cam.key, label).to_pylist()
        out = []
        for value in values:
            data = value.get("bytes") if isinstance(value, dict) else None
            if not data:
                raise ImportSourceError(
                    f"camera {cam.key} has a frame without image bytes",
                    episode_id=label,
                    hint="Images stored as separate files are not supported; " + _SKIP_HINT,
                )
            out.append(bytes(data))
        return [_as_encoding(b, cam.camera.encoding) for b in out]
    prefix = f"videos/{cam.key}"
    chunk, file = int(row[f"{prefix}/chunk_index"]), int(row[f"{prefix}/file_index"])
    path = src / str(plan.info.get("video_path") or v3.VIDEO_PATH).format(
        video_key=cam.key, chunk_index=chunk, file_index=file
    )
    if cam.camera.is_video:
        return _clip(path, plan, cam, row, n, label)
    try:
        reader = readers.get((cam.key, chunk, file))
        if reader is None:
            if not path.is_file():
                raise ImportSourceError("video file is missing", path=str(path), episode_id=label)
            for key in [k for k in readers if k[0] == cam.key]:
                readers.pop(key).close()  # one open file per camera
            reader = VideoSpanReader(path, float(plan.info["fps"]))
            readers[(cam.key, chunk, file)] = reader
        frames = reader.take(
            float(row[f"{prefix}/from_timestamp"]), float(row[f"{prefix}/to_timestamp"])
        )
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImportSourceError(
            f"cannot decode video: {exc}",
            path=str(path),
            episode_id=label,
            hint="Download the file again, " + _SKIP_HINT,
        ) from exc
    if len(frames) != n:
        raise ImportSourceError(
            f"video span holds {len(frames)} frames, the episode has {n}",
            path=str(path),
            episode_id=label,
            hint="The video and the data disagree; download them again, " + _SKIP_HINT,
        )
    return [encode_image(f, "jpeg") for f in frames]


def _clip(path: Path, plan: _Plan, cam: _Cam, row: dict[str, Any], n: int, label: str) -> VideoClip:
    """The episode's span of a shared LeRobot video as a clip the writer remuxes (or
    re-encodes when the policy says so): frames from ``from_timestamp``, ``n`` of them."""
    index = plan.indexes.get(path)
    if index is None:
        try:
            index = probe_index(path)
        except (SchemaError, av.error.FFmpegError, OSError, ValueError) as exc:
            raise ImportSourceError(
                f"cannot decode video: {exc}",
                path=str(path),
                episode_id=label,
                hint="Download the file again, " + _SKIP_HINT,
            ) from exc
        plan.indexes.clear()  # one file's index at a time (episodes come in file order)
        plan.indexes[path] = index
    fps = float(plan.info["fps"])
    times = index.pts.astype(np.float64) * float(index.time_base)  # LeRobot's frame times
    start = float(row[f"videos/{cam.key}/from_timestamp"])
    first = int(np.searchsorted(times, start - 0.5 / fps))
    if first + n > index.frames or abs(times[min(first, index.frames - 1)] - start) > 0.5 / fps:
        raise ImportSourceError(
            f"video span holds {max(index.frames - first, 0)} frames from {start:.3f} s, the "
            f"episode has {n}",
            path=str(path),
            episode_id=label,
            hint="The video and the data disagree; download them again, " + _SKIP_HINT,
        )
    policy = plan.policy
    reencode = (
        policy.reencode == "always"
        or index.codec != cam.camera.encoding
        or index.max_gop > policy.max_gop
        or not index.has_key[first]
    )
    if reencode and policy.reencode == "never":
        raise ImportSourceError(
            "the video cannot be kept as recorded (codec or key-frame spacing)",
            path=str(path),
            episode_id=label,
            hint="Allow re-encoding, or import JPEG frames (cameras='jpeg'), " + _SKIP_HINT,
        )
    return VideoClip(path, first, n, reencode=reencode, index=index)


def _as_encoding(data: bytes, encoding: str) -> bytes:
    if _sniff(data) == encoding:
        return data
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = np.asarray(img.convert("RGB"))
    return encode_image(rgb, encoding)
