"""Ray Data over a loaded dataset: ``EpisodeDataset.to_ray()`` (issue 14).

:class:`EpisodeDatasource` is a Ray Data datasource whose read tasks each cover a run of
whole episodes (sample indices ``[lo, hi)`` cut at episode starts). A read task carries the
dataset's pickled selection — its source (a folder or an ``s3://`` URL with the manifest
entries), episode positions and load spec, never frames — reopens it on the Ray worker and
yields blocks of ``get_batch`` over its run, so rows are read (and shards streamed from
the object store, each verified against the manifest) on the workers, not on the driver.
A row holds exactly the keys and values of the torch adapter's samples (those of ``ds[i]``,
images in the adapter's ``image_format``): features with their windows and ``*_is_pad``
masks, decoded images, ``episode_index``, ``frame_index``, ``timestamp_ns``, ``index``,
``episode_id``, ``instruction``, ``subtask``.

Needs the ``ray`` extra; this module is imported only by ``to_ray()``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ClusterError
from .image_layout import DEFAULT_IMAGE_FORMAT, check_image_format, chw_float, image_columns

try:
    from ray.data.block import BlockAccessor, BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError as exc:  # the extra is not installed
    raise ClusterError(
        f"Ray Data is not installed: {exc}",
        hint="pip install 'embodex[ray]' (or train through `.torch()` / `.iterable()`).",
    ) from exc

if TYPE_CHECKING:
    import pyarrow as pa

    from .dataset import EpisodeDataset

__all__ = ["DEFAULT_ROWS_PER_BLOCK", "EpisodeDatasource", "to_ray_dataset"]

#: Samples per block a read task yields (one ``get_batch`` each).
DEFAULT_ROWS_PER_BLOCK = 256


class EpisodeDatasource(Datasource):
    """A Ray Data datasource over the samples of a loaded ``EpisodeDataset``."""

    def __init__(
        self,
        ds: EpisodeDataset,
        *,
        rows_per_block: int = DEFAULT_ROWS_PER_BLOCK,
        image_format: str = DEFAULT_IMAGE_FORMAT,
    ):
        self._ds = ds
        self._rows = max(1, int(rows_per_block))
        # the image keys to convert, as the torch adapter does (key -> depth)
        self._images: dict[str, bool] = {}
        if check_image_format(image_format) == "chw_float" and ds.spec.decode_images:
            self._images = image_columns(ds.meta, ds.spec.cameras)

    def get_name(self) -> str:
        return f"embodex({self._ds.meta.name})"

    def estimate_inmemory_data_size(self) -> int | None:
        return None  # images are decoded on read: not known before

    def runs(self, parallelism: int) -> list[tuple[int, int]]:
        """Sample ranges ``[lo, hi)`` of about ``len / parallelism`` samples, each cut at an
        episode start (an episode is read by one task: its shards mapped, its video decoded
        front to back, once)."""
        starts = self._ds.episode_starts
        n = int(starts[-1])
        episodes = len(starts) - 1
        k = max(1, int(parallelism) if parallelism > 0 else 1)
        if k >= episodes:  # an episode per task
            bounds = [int(s) for s in starts]
        else:
            cuts = starts[np.searchsorted(starts, np.arange(1, k) * n / k)]
            bounds = sorted({0, n, *(int(c) for c in cuts)})
        return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        shards = tuple(self._ds.shard_names())
        tasks = []
        for lo, hi in self.runs(parallelism):
            meta = BlockMetadata(
                num_rows=hi - lo, size_bytes=None, exec_stats=None, input_files=shards
            )
            read = functools.partial(_read_run, self._ds, lo, hi, self._rows, self._images)
            tasks.append(ReadTask(read, meta, per_task_row_limit=per_task_row_limit))
        return tasks


def _read_run(
    ds: EpisodeDataset, lo: int, hi: int, rows: int, images: dict[str, bool]
) -> Iterator[pa.Table]:
    """On a Ray worker: the samples ``[lo, hi)`` as Arrow blocks of ``rows`` samples, the
    image keys in ``images`` as ``chw_float``."""
    for start in range(lo, hi, rows):
        batch = ds.get_batch(range(start, min(hi, start + rows)))
        for key, depth in images.items():
            batch[key] = chw_float(batch[key], depth=depth)
        yield BlockAccessor.batch_to_block(batch)


def to_ray_dataset(
    ds: EpisodeDataset,
    *,
    rows_per_block: int = DEFAULT_ROWS_PER_BLOCK,
    blocks: int | None = None,
    runtime_env: dict[str, Any] | None = None,
    image_format: str = DEFAULT_IMAGE_FORMAT,
) -> Any:
    """A lazy ``ray.data.Dataset`` of ``ds``'s samples (see the module doc).

    ``blocks``: how many read tasks (default: Ray's choice, at most one per episode);
    ``runtime_env``: the read tasks' Ray runtime environment (e.g. ``{"env_vars": {...}}``
    to give workers the ``AWS_*`` variables of an S3 endpoint); ``image_format``: images
    as the torch adapter gives them, ``(C, H, W)`` float32 in [0, 1] (``"chw_float"``) or
    ``(H, W, C)`` uint8 as stored (``"hwc_uint8"``). ``LoaderConfigError`` for another.
    """
    import ray.data

    return ray.data.read_datasource(
        EpisodeDatasource(ds, rows_per_block=rows_per_block, image_format=image_format),
        override_num_blocks=blocks,
        runtime_env=runtime_env,
    )
