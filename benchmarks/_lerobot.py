"""LeRobot baseline for benchmarks/loader.py: its own venv, and an exporter to its v3.0 format.

LeRobot 0.4.4 pins huggingface_hub<0.36 and torch<2.11, so it cannot share embodex's venv.
``ensure_venv`` builds one (CPU torch 2.13.0 from the local wheel, lerobot without its
dependency pins, the libraries ``lerobot.datasets`` needs); PyPI's torchvision 0.28 is a
CUDA build whose compiled ops cannot load beside CPU torch, so ``_lerobot_worker.py``
declares the two op schemas torchvision's import registers fakes for, first.

``export_v3`` writes an embodex dataset in LeRobot's v3.0 layout (image features, the
same JPEG bytes; no videos, no stats): meta/info.json, meta/tasks.parquet,
meta/episodes/chunk-000/file-000.parquet and data/chunk-000/file-NNN.parquet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embodex.format import open_dataset

LEROBOT = "lerobot==0.4.4"
# what lerobot.datasets imports, within lerobot 0.4.4's own version ranges
LEROBOT_DEPS = [
    "datasets>=4.0.0,<5",
    "huggingface-hub>=0.34.2,<0.36",
    "einops>=0.8,<0.9",
    "av>=15,<16",
    "jsonlines>=4,<5",
    "packaging>=24.2,<26",
    "draccus==0.10.0",
    "deepdiff>=7.0.1,<9",
    "termcolor>=2.4,<4",
    "imageio>=2.34,<3",
    "pandas",
    "pyarrow",
    "pillow",
    "setuptools>=71,<81",
]
NO_DEPS = ["accelerate>=1.10,<2", "psutil", "safetensors", "torchvision==0.28.0"]
_DATA_FILE_BYTES = 100 * 1024 * 1024  # LeRobot's DEFAULT_DATA_FILE_SIZE_IN_MB


def ensure_venv(venv: Path, log: Path) -> tuple[Path | None, str]:
    """(python of a venv where lerobot.datasets imports, or None, and a one-line status)."""
    py = venv / "bin" / "python"
    stamp = venv / ".lerobot-ok"
    if stamp.exists():
        return py, f"found {venv}"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(py), "-m", "pip", "install", "-q", "torch==2.13.0"],  # CPU wheel on this disk
        [str(py), "-m", "pip", "install", "-q", "--no-deps", LEROBOT],
        [str(py), "-m", "pip", "install", "-q", *LEROBOT_DEPS],
        [str(py), "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS],
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        for cmd in steps:
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                return None, f"`{' '.join(cmd[2:])}` failed (log: {log})"
        worker = Path(__file__).with_name("_lerobot_worker.py")
        # -P: the script directory (benchmarks/, whose packaging.py shadows the packaging
        # library) stays off sys.path
        check = subprocess.run([str(py), "-P", str(worker), "--check"], stdout=out, stderr=out)
        if check.returncode != 0:
            return None, f"lerobot installed but does not import (log: {log})"
    stamp.touch()
    return py, f"built {venv}"


def export_v3(src: Path, dest: Path, camera: str) -> None:
    """Write the embodex dataset at ``src`` as a LeRobot v3.0 dataset at ``dest``."""
    import pandas as pd

    ds = open_dataset(src)
    meta = ds.meta
    cam = meta.camera(camera)
    fps = round(meta.fps)
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (dest / "data" / "chunk-000").mkdir(parents=True)
    state_dim = meta.features["state"].shape[0]
    action_dim = meta.features["action"].shape[0]
    img_key = f"observation.images.{camera}"
    features = {
        "observation.state": {"dtype": "float32", "shape": [state_dim], "names": None},
        "action": {"dtype": "float32", "shape": [action_dim], "names": None},
        img_key: {
            "dtype": "image",
            "shape": [cam.height, cam.width, 3],
            "names": ["height", "width", "channels"],
        },
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    hf_features = {
        "observation.state": _hf_list(state_dim),
        "action": _hf_list(action_dim),
        img_key: {"_type": "Image"},
        "timestamp": {"dtype": "float32", "_type": "Value"},
        "frame_index": {"dtype": "int64", "_type": "Value"},
        "episode_index": {"dtype": "int64", "_type": "Value"},
        "index": {"dtype": "int64", "_type": "Value"},
        "task_index": {"dtype": "int64", "_type": "Value"},
    }
    schema = pa.schema(
        [
            ("observation.state", pa.list_(pa.float32(), state_dim)),
            ("action", pa.list_(pa.float32(), action_dim)),
            (img_key, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("timestamp", pa.float32()),
            ("frame_index", pa.int64()),
            ("episode_index", pa.int64()),
            ("index", pa.int64()),
            ("task_index", pa.int64()),
        ],
        metadata={"huggingface": json.dumps({"info": {"features": hf_features}})},
    )
    tasks: dict[str, int] = {}
    episode_rows = []
    index = 0
    file_index, file_bytes = 0, 0
    writer = pq.ParquetWriter(str(dest / "data" / "chunk-000" / "file-000.parquet"), schema)
    for k, ep in enumerate(ds):
        n = ep.frame_count
        task = ep.meta.instruction_en or ep.meta.skill or "task"
        task_index = tasks.setdefault(task, len(tasks))
        images = ep.images(camera).all_encoded()
        size = sum(len(b or b"") for b in images)
        if file_bytes and file_bytes + size > _DATA_FILE_BYTES:
            writer.close()
            file_index, file_bytes = file_index + 1, 0
            path = dest / "data" / "chunk-000" / f"file-{file_index:03d}.parquet"
            writer = pq.ParquetWriter(str(path), schema)
        file_bytes += size
        cols = [
            pa.FixedSizeListArray.from_arrays(pa.array(ep.feature("state").reshape(-1)), state_dim),
            pa.FixedSizeListArray.from_arrays(
                pa.array(ep.feature("action").reshape(-1)), action_dim
            ),
            pa.StructArray.from_arrays(
                [
                    pa.array(images, pa.binary()),
                    pa.array([f"frame-{t:06d}.jpg" for t in range(n)]),
                ],
                names=["bytes", "path"],
            ),
            pa.array((np.arange(n) / fps).astype(np.float32)),
            pa.array(np.arange(n, dtype=np.int64)),
            pa.array(np.full(n, k, dtype=np.int64)),
            pa.array(np.arange(index, index + n, dtype=np.int64)),
            pa.array(np.full(n, task_index, dtype=np.int64)),
        ]
        writer.write_table(pa.Table.from_arrays(cols, schema=schema))
        episode_rows.append(
            {
                "episode_index": k,
                "tasks": [task],
                "length": n,
                "data/chunk_index": 0,
                "data/file_index": file_index,
                "dataset_from_index": index,
                "dataset_to_index": index + n,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
            }
        )
        index += n
    writer.close()
    pq.write_table(
        pa.Table.from_pylist(episode_rows),
        str(dest / "meta" / "episodes" / "chunk-000" / "file-000.parquet"),
    )
    # LeRobot reads the task strings from the pandas index of tasks.parquet
    pd.DataFrame({"task_index": list(tasks.values())}, index=list(tasks)).to_parquet(
        dest / "meta" / "tasks.parquet"
    )
    info = {
        "codebase_version": "v3.0",
        "robot_type": meta.embodiments[0].model,
        "total_episodes": len(ds),
        "total_frames": index,
        "total_tasks": len(tasks),
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{len(ds)}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": None,
        "features": features,
    }
    (dest / "meta" / "info.json").write_text(json.dumps(info, indent=2))


def _hf_list(n: int) -> dict[str, object]:
    return {"feature": {"dtype": "float32", "_type": "Value"}, "length": n, "_type": "List"}
