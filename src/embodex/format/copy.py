"""Copy episodes between datasets without decoding a frame (subsets, batches, installs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import SchemaError
from .episode import Episode
from .models import DatasetMeta
from .reader import Dataset, open_dataset
from .videostore import VideoEncoding
from .writer import DEFAULT_SHARD_BYTES, DatasetWriter

__all__ = ["copy_episodes"]


def copy_episodes(
    source: Dataset | str | Path,
    dest: str | Path,
    episode_ids: Iterable[str] | None = None,
    *,
    append: bool = False,
    meta: DatasetMeta | None = None,
    transform: Callable[[Episode], Episode] | None = None,
    on_episode: Callable[[str], None] | None = None,
    shard_bytes: int | None = None,
    video_encoding: VideoEncoding | None = None,
) -> Dataset:
    """Write the chosen episodes of ``source`` (all when ``episode_ids`` is None) to ``dest``.

    Encoded images are copied as stored, never re-encoded; videos are copied byte for byte
    (a trimmed episode's as the packets of the GOPs it keeps). ``meta`` overrides the dataset
    metadata of a new ``dest`` (same frame schema required); ``transform`` may change each
    episode on the way (e.g. its metadata). With ``append=True`` the episodes are added to an
    existing ``dest``. ``shard_bytes`` sets the writer's shard size (smaller shards move in
    parallel over a network). The copy is published atomically: on any error ``dest`` keeps its
    previous state. Raises ``SchemaError`` for unknown ids or an incompatible ``dest``.

    Example::

        copy_episodes("centre/all", "outbox/batch-0003", ids_not_yet_delivered)
    """
    src = source if isinstance(source, Dataset) else open_dataset(source)
    ids = list(episode_ids) if episode_ids is not None else src.episode_ids
    unknown = [eid for eid in ids if eid not in set(src.episode_ids)]
    if unknown:
        raise SchemaError(f"episodes not in {src.root}: {', '.join(unknown[:5])}", path=src.root)
    new_meta = meta if meta is not None else src.meta
    if transform is None and new_meta.schema_fingerprint() != src.meta.schema_fingerprint():
        raise SchemaError(
            "the new metadata changes the frame schema of the copied episodes",
            hint="Keep features, cameras and fps as in the source.",
        )
    with DatasetWriter(
        dest,
        None if append else new_meta,
        append=append,
        shard_bytes=shard_bytes or DEFAULT_SHARD_BYTES,
        video_encoding=video_encoding,
    ) as writer:
        for eid in ids:
            episode = src.episode(eid).to_episode()
            if transform is not None:
                episode = transform(episode)
            writer.add_episode(episode)
            if on_episode is not None:
                on_episode(eid)
    return open_dataset(dest)
