"""``load``: open a dataset (a folder or an ``s3://`` URL) for training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import LoaderConfigError
from ..format import DatasetMeta, open_dataset
from ..units import count
from .dataset import EpisodeDataset, LoadSpec
from .select import EpisodeFilter, select_episodes
from .source import LocalSource, open_source
from .streams import resolve_stream_windows
from .windows import resolve_windows

__all__ = ["load"]


def load(
    path_or_url: str | Path,
    *,
    features: Sequence[str] | None = None,
    cameras: Sequence[str] | None = None,
    history: int | None = None,
    horizon: int | None = None,
    delta_timestamps: Mapping[str, Sequence[float]] | None = None,
    episodes: EpisodeFilter | None = None,
    qc: str = "pass",
    decode_images: bool = True,
    decode_threads: int = 1,
    cache_dir: str | Path | None = None,
    verify: bool = False,
    prefetch: int = 2,
    streams: Mapping[str, float | tuple[float, int]] | None = None,
) -> EpisodeDataset:
    """Open a dataset for training: one sample per frame of the selected episodes.

    Args:
        path_or_url: a dataset directory, a ``file://`` URL, or ``s3://bucket/prefix``
            (streamed into ``cache_dir`` shard by shard, each verified against the
            manifest's sha256 before use, with ``prefetch`` background downloads).
        features: feature names to return (default: all). Only these columns are read.
        cameras: cameras to return (default: all; ``[]`` for none). One image per camera
            per sample is decoded (``decode_images=False`` returns the encoded bytes).
        history: frames ``t-history+1 .. t`` of every non-action feature.
        horizon: frames ``t .. t+horizon-1`` of every action feature (an action chunk).
        delta_timestamps: instead of history/horizon, ``{key: [seconds, ...]}`` per feature
            or camera, as in LeRobot (whole frames at the dataset's fps).
        episodes: which episodes: a predicate ``f(ep) -> bool`` over episode metadata
            (``ep.scene_type``, ``ep["success"]``, ``ep.qc_verdict``...), a dict of
            required values (a list value means any of them), or a list of episode ids.
        qc: ``"pass"`` (default), ``"pass+warn"`` or ``"all"``: QC verdicts to keep, read
            from the dataset's ``qc/manifest.json``.
        decode_threads: threads decoding the images of a batch (``get_batch``, the torch
            adapters); 1 decodes in the calling thread. More lets one DataLoader worker
            use several cores (the JPEG decoder releases the GIL).
        cache_dir: where streamed datasets are cached (default ``embodex.config.cache_dir()``).
        verify: hash every selected shard now (local) or download all of them now (URL).
        prefetch: background download threads for URLs.
        streams: windows of streams at their own rate (format 1.1), aligned to frame time:
            ``{"imu": 0.05}`` adds the IMU samples of the last 50 ms up to each frame's
            capture time, ``stream.imu.<feature>`` ``(L, D)`` with ``stream.imu_is_pad``
            ``(L,)`` and ``stream.imu.dt_s`` (seconds back from the frame);
            ``L = ceil(seconds × rate) + 1`` unless given as ``{"imu": (0.05, L)}``.

    Windows reaching past an episode's first or last frame repeat that frame and are
    flagged in ``<key>_is_pad``.

    Raises (before training starts): ``DatasetNotFoundError``, ``CorruptDatasetError``
    (metadata or a shard does not match the manifest), ``LoaderConfigError`` (unknown
    feature, camera or episode field; a window longer than every selected episode; nothing
    selected), ``QCManifestMissingError`` (``qc`` asks for verdicts the dataset lacks).

    Example::

        ds = load("deliveries/week01", features=["state", "action"], cameras=["head"],
                  horizon=50, episodes={"scene_type": "restaurant"}, qc="pass+warn")
        sample = ds[0]   # state (20,), action (50, 20), action_is_pad (50,), image.head ...
        loader = torch.utils.data.DataLoader(ds.torch(), batch_size=64, num_workers=4)
    """
    if not isinstance(decode_threads, int) or decode_threads < 1:
        raise LoaderConfigError(
            f"decode_threads={decode_threads!r} must be a positive number of threads",
            hint="decode_threads=1 decodes in the calling thread.",
        )
    source = open_source(
        path_or_url,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        prefetch=prefetch,
    )
    dataset = open_dataset(source.root)
    meta = dataset.meta
    feats = _choose(features, list(meta.features), "feature")
    cams = _choose(cameras, [c.name for c in meta.cameras], "camera")
    video = [c for c in cams if meta.camera(c).is_video]
    if video and not decode_images:
        raise LoaderConfigError(
            f"camera {video[0]} is stored as video (format 1.1): its frames have no encoded "
            "bytes of their own, so decode_images=False cannot return them",
            hint="Load with `decode_images=True`, or build a JPEG tier: "
            "`transcode_dataset(src, dest, cameras='jpeg')`.",
        )
    windows = resolve_windows(
        meta,
        feats,
        cams,
        history=history,
        horizon=horizon,
        delta_timestamps=delta_timestamps,
    )
    positions, report = select_episodes(
        dataset.episodes,
        where=source.url,
        digest=dataset.digest,
        qc=qc,
        qc_manifest=source.qc_manifest(),
        episode_filter=episodes,
    )
    if len(positions) == 0:
        raise LoaderConfigError(
            f"no episode of {source.url} is left to train on ({_describe(report, qc)})",
            hint="Loosen `episodes=` or `qc=`, or check the dataset with `open_dataset(root)`.",
        )
    spec = LoadSpec(
        tuple(feats),
        tuple(cams),
        windows,
        decode_images,
        decode_threads,
        streams=resolve_stream_windows(meta, streams),
    )
    ds = EpisodeDataset(source, dataset, positions, spec, report)
    _check_windows(ds, meta, windows)
    if isinstance(source, LocalSource) or verify:
        ds.check_shards(hashes=verify)
    else:
        source.prefetch(ds.shard_names())
    return ds


def _choose(wanted: Sequence[str] | None, known: list[str], what: str) -> list[str]:
    if wanted is None:
        return known
    if isinstance(wanted, str):
        wanted = [wanted]
    for name in wanted:
        if name not in known:
            raise LoaderConfigError(
                f"{what} {name!r} does not exist in this dataset",
                hint=f"Known {what}s: {', '.join(known) or '(none)'}.",
            )
    return list(dict.fromkeys(wanted))


def _check_windows(ds: EpisodeDataset, meta: DatasetMeta, windows: Mapping[str, object]) -> None:
    longest = max(ds.frame_counts)
    for key, win in windows.items():
        span = getattr(win, "span", 1)
        if span > longest:
            raise LoaderConfigError(
                f"the {key} window spans {span} frames ({span / meta.fps:.2f} s), longer than "
                f"every selected episode (the longest has {longest} frames)",
                hint="Shorten `history=`, `horizon=` or `delta_timestamps=`, or select longer "
                "episodes.",
                field=key,
            )


def _describe(report: dict[str, int], qc: str) -> str:
    parts = [count(report.get("episodes", 0), "episode")]
    if report.get("excluded_as_revoked"):
        parts.append(f"{report['excluded_as_revoked']} revoked by the centre")
    if report.get("excluded_by_qc"):
        parts.append(f"{report['excluded_by_qc']} cut by qc={qc!r}")
    if report.get("missing_from_qc"):
        parts.append(f"{report['missing_from_qc']} without a QC verdict")
    if report.get("excluded_by_filter"):
        parts.append(f"{report['excluded_by_filter']} cut by episodes=")
    return ", ".join(parts)
