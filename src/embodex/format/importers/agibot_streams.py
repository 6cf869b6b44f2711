"""Streams at their own rate from AgiBot ``proprio_stats.h5`` files (format 1.1): datasets
that carry their own timestamps (an IMU, a force-torque sensor), named in the sidecar's
``streams`` (specs/format.md §9.1.2), kept at their own rate instead of resampled to frames."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from ...errors import ImportSourceError
from ..models import Feature, Stream
from .agibot_layout import SKIP_HINT
from .agibot_sidecar import H5Stream

__all__ = ["read_streams", "stream_models"]

StreamSamples = tuple[np.ndarray, dict[str, np.ndarray]]


def stream_models(declared: Mapping[str, H5Stream], h5_files: list[Path]) -> list[Stream]:
    """The dataset's ``streams``: each feature's width from the first readable h5 that has
    it (an episode without it fails on its own, naming the dataset)."""
    out: list[Stream] = []
    for name, spec in declared.items():
        features: dict[str, Feature] = {}
        for fname, path in spec.fields.items():
            width = _probe_width(h5_files, path)
            if width is None:
                raise ImportSourceError(
                    f"no episode's proprio_stats.h5 has the dataset {path!r} (stream {name})",
                    hint="Fix the h5 path in the sidecar's streams, or remove the stream.",
                )
            features[fname] = Feature(
                shape=[width], unit=spec.units.get(fname), role="observation",
                description=f"proprio_stats.h5 {path}",
            )  # fmt: skip
        out.append(
            Stream(
                name=name,
                rate_hz=spec.rate_hz,
                features=features,
                description=spec.description or f"proprio_stats.h5 {spec.timestamps}",
            )
        )
    return out


def _probe_width(h5_files: list[Path], path: str) -> int | None:
    for h5 in h5_files:
        try:
            with h5py.File(h5, "r") as f:
                d = f.get(path)
                if isinstance(d, h5py.Dataset) and d.ndim in (1, 2):
                    return 1 if d.ndim == 1 else int(d.shape[1])
        except (OSError, ValueError, TypeError):
            continue
    return None


def read_streams(
    h5: Path, declared: Mapping[str, H5Stream], streams: list[Stream], eid: str
) -> dict[str, StreamSamples]:
    """Each declared stream's samples of one episode: times (int64 ns, strictly increasing)
    and feature arrays, one row per time. Raises ``ImportSourceError`` naming the dataset."""
    if not declared:
        return {}
    out: dict[str, StreamSamples] = {}

    def bad(message: str) -> ImportSourceError:
        return ImportSourceError(
            message, path=str(h5), episode_id=eid,
            hint="Fix the recording or the sidecar's streams, " + SKIP_HINT,
        )  # fmt: skip

    try:
        with h5py.File(h5, "r") as f:
            for stream in streams:
                spec = declared[stream.name]
                d = f.get(spec.timestamps)
                if not isinstance(d, h5py.Dataset):
                    raise bad(f"stream {stream.name}: no dataset {spec.timestamps!r}")
                ts = np.asarray(d[()])
                if ts.ndim != 1 or ts.dtype.kind not in "iu":
                    raise bad(
                        f"stream {stream.name}: {spec.timestamps} is {ts.dtype} {ts.shape}; "
                        "expected 1-D int64 nanoseconds"
                    )
                ts = ts.astype(np.int64)
                back = np.flatnonzero(np.diff(ts) <= 0)
                if back.size:
                    raise bad(
                        f"stream {stream.name}: {spec.timestamps} goes backwards or repeats "
                        f"at sample {int(back[0]) + 1}"
                    )
                values: dict[str, np.ndarray] = {}
                for fname, path in spec.fields.items():
                    v = f.get(path)
                    if not isinstance(v, h5py.Dataset):
                        raise bad(f"stream {stream.name}: no dataset {path!r}")
                    arr = np.asarray(v[()], dtype=np.float64)
                    if arr.ndim == 1:
                        arr = arr[:, None]
                    width = stream.features[fname].shape[0]
                    if arr.shape != (len(ts), width):
                        raise bad(
                            f"stream {stream.name}: {path} has shape {arr.shape}, expected "
                            f"({len(ts)}, {width}): one row per timestamp"
                        )
                    values[fname] = arr.astype(np.float32)
                out[stream.name] = (ts, values)
    except ImportSourceError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise bad(f"cannot read the streams of proprio_stats.h5: {exc}") from exc
    return out
