"""Dataset commands: synth, package, inspect, verify, trim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .lazy import LazyChoice, LazyHelpOption
from .output import Output, json_option
from .render_format import (
    inspect_lines,
    package_lines,
    synth_lines,
    transcode_lines,
    trim_lines,
    verify_lines,
)


def register(cli: click.Group) -> None:
    for command in (synth, package, inspect, verify, trim, transcode):
        cli.add_command(command)


def _parse_range(text: str) -> tuple[float, float]:
    try:
        lo, _, hi = text.partition("-")
        low, high = float(lo), float(hi or lo)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not MIN-MAX seconds, e.g. 8-20") from None
    if not 0 < low <= high:
        raise click.BadParameter(f"{text!r}: need 0 < MIN <= MAX")
    return low, high


@click.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--episodes", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--layout",
    type=click.Choice(["embodex", "agibot", "mcap"]),
    default="embodex",
    show_default=True,
    help="embodex: a packaged dataset; agibot: raw recordings in the AgiBot World layout; "
    "mcap: ROS 2 MCAP recordings with topics.yaml.",
)
@click.option(
    "--duration",
    default="8-20",
    show_default=True,
    help="Episode length, MIN-MAX seconds (mcap layout: their mean, for every episode).",
)
@click.option("--image-size", type=click.IntRange(16, 1024), default=96, show_default=True)
@click.option("--depth/--no-depth", default=False, help="Add a 16-bit depth camera.")
@click.option("--append", is_flag=True, help="Add episodes to an existing dataset.")
@click.option(
    "--first-index", type=click.IntRange(min=0), default=0, help="Index of the first episode."
)
@json_option()
def synth(
    out: Path,
    episodes: int,
    seed: int,
    layout: str,
    duration: str,
    image_size: int,
    depth: bool,
    append: bool,
    first_index: int,
    as_json: bool,
) -> None:
    """Generate realistic synthetic humanoid episodes (for demos, tests and benchmarks).

    \b
    Example:
      embodex synth demo/ds --episodes 20 --seed 1
      embodex synth demo/raw --layout agibot --episodes 4
      embodex synth demo/bags --layout mcap --episodes 3
    """
    from embodex.demo.sample import make_sample

    out_ = Output(as_json)
    span = _parse_range(duration)
    with out_.progress("synthesising", episodes if layout == "embodex" else None) as bar:
        result = make_sample(
            out,
            layout=layout,  # type: ignore[arg-type]
            episodes=episodes,
            seed=seed,
            duration_s=span,
            image_size=image_size,
            depth=depth,
            append=append,
            first_index=first_index,
            on_episode=lambda _ep: bar.update(),
        )
    out_.result(result, text=lambda r: synth_lines(r, out, append=append))


def _importers() -> dict[str, Any]:
    from embodex.format.importers import IMPORTERS  # loads pyarrow: only when asked

    return dict(IMPORTERS)


@click.command()
@click.argument("src", type=click.Path(path_type=Path, exists=True))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "source_format",
    type=LazyChoice(lambda: sorted(_importers())),
    required=True,
    cls=LazyHelpOption,
    help_from=lambda: (
        "Source: "
        + "; ".join(f"{name}: {imp.description}" for name, imp in sorted(_importers().items()))
        + "."
    ),
)
@click.option(
    "--meta",
    "sidecar",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="YAML with what the recordings lack: licence, provenance, scenes, operators.",
)
@click.option(
    "--map",
    "topic_map",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="mcap only: YAML mapping ROS 2 topics to features and cameras.",
)
@click.option(
    "--cameras",
    type=click.Choice(["video", "jpeg"]),
    help="agibot, lerobot: store video cameras as video (default: the bitstream, remuxed) "
    "or as one JPEG per frame.",
)
@click.option(
    "--reencode",
    type=click.Choice(["auto", "always", "never"]),
    help="agibot, lerobot, video cameras: auto (default) re-encodes only a codec a dataset "
    "cannot store or key frames over 60 frames apart; never makes such an episode bad.",
)
@click.option("--skip-bad", is_flag=True, help="Leave out unreadable episodes and report them.")
@click.option("--append", is_flag=True, help="Add to an existing dataset.")
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="agibot: read and decode the episodes on a Ray cluster (auto: a local Ray; or "
    "host:6379 / ray://host:10001); the dataset is the one a local run writes.",
)
@click.option(
    "--anonymise",
    type=click.Choice(["faces"]),
    help="Mask every face in the colour cameras before the dataset is written (see "
    "`embodex anonymise`; needs embodex[privacy]).",
)
@click.option(
    "--pseudonymise",
    is_flag=True,
    help="Replace every operator id by a keyed pseudonym (HMAC with the centre's secret; the "
    "re-identification table stays in your embodex home; see `embodex pseudonymise`).",
)
@click.option(
    "--scope",
    metavar="CONTRACT_ID",
    default="",
    help="With --pseudonymise: pseudonyms for this contract only (another contract's differ).",
)
@json_option()
def package(
    src: Path,
    out: Path,
    source_format: str,
    sidecar: Path | None,
    topic_map: Path | None,
    cameras: str | None,
    reencode: str | None,
    skip_bad: bool,
    append: bool,
    ray_address: str | None,
    anonymise: str | None,
    pseudonymise: bool,
    scope: str,
    as_json: bool,
) -> None:
    """Package raw recordings (or another ecosystem's dataset) into an embodex dataset.

    Metadata the source lacks (licence, centre, scenes, operators, robot serials) comes
    from the --meta YAML; see specs/format.md and specs/interop.md. Exits non-zero when an
    episode is bad, unless --skip-bad, which packages the rest and lists what it left out.

    \b
    Example:
      embodex package raw/ datasets/week01 --from agibot --meta raw/embodex-sidecar.yaml
      embodex package raw/ datasets/week01-jpeg --from agibot --cameras jpeg
      embodex package raw/ datasets/week01 --from agibot --ray head-node:6379
      embodex package lerobot-ds/ datasets/imported --from lerobot --meta centre.yaml
      embodex package bags/ datasets/day1 --from mcap --map topics.yaml --meta centre.yaml
      embodex package raw/ datasets/week01 --from agibot --anonymise faces
      embodex package raw/ outbox/week01 --from agibot --anonymise faces \\
          --pseudonymise --scope c-2026-001
    """
    from embodex.format.importers import import_recordings, video_policy

    output = Output(as_json)
    with output.progress("packaging") as bar:
        report = import_recordings(
            source_format,
            src,
            out,
            sidecar=sidecar,
            topic_map=topic_map,
            video=video_policy(cameras, reencode),
            skip_bad=skip_bad,
            append=append,
            ray=ray_address,
            anonymise=anonymise,
            pseudonymise=pseudonymise,
            pseudonym_scope=scope,
            # on a cluster: rate, ETA and where each failure happened; else a plain bar
            on_episode=None if ray_address else lambda _eid: bar.update(),
            on_progress=bar.episode if ray_address else None,
        )
    output.result(report, text=lambda r: package_lines(r, out))


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@json_option("Print the summary as JSON.")
@click.option("--episodes", "list_episodes", is_flag=True, help="Also list every episode.")
def inspect(dataset: Path, as_json: bool, list_episodes: bool) -> None:
    """Show what a dataset holds: episodes, hours per scene type and skill, cameras, size.

    Reads only metadata (hash-checked), never frames, so it is instant on any size of
    dataset — and it does not notice a damaged or truncated frame shard: `embodex verify`
    checks those.

    \b
    Example:
      embodex inspect datasets/week01
      embodex inspect datasets/week01 --json | jq .by_scene_type
    """
    from embodex.format.summary import inspect_dataset

    Output(as_json).result(inspect_dataset(dataset, episodes=list_episodes), text=inspect_lines)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--no-hashes", is_flag=True, help="Skip sha256 of the frame shards (fast check).")
@json_option("Print the report as JSON.")
def verify(dataset: Path, no_hashes: bool, as_json: bool) -> None:
    """Check every file's sha256, the schemas and the frame/episode bookkeeping.

    Exits 1 and lists every problem when anything is wrong, with the episodes whose frames
    are in a damaged shard (`--json`: damaged_episodes).

    \b
    Example:
      embodex verify datasets/week01
    """
    from embodex.format import verify_dataset

    out = Output(as_json)
    with out.progress("verifying") as bar:
        report = verify_dataset(
            dataset,
            hashes=not no_hashes,
            raise_on_error=False,
            on_start=bar.total,
            on_bytes=bar.update,
        )
    out.result(report, text=verify_lines)
    report.raise_for_problems()


def _frame_range(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> Any:
    from embodex.errors import TrimError
    from embodex.format.trim import parse_frame_range

    from .errors import error_line

    try:
        return [parse_frame_range(v) for v in values]
    except TrimError as exc:
        raise click.BadParameter(error_line(exc)) from None


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--suggested",
    is_flag=True,
    help="Trim the idle start/end QC found (motion.idle_ends) in every episode; needs a "
    "current `embodex qc run SRC`.",
)
@click.option(
    "--episode",
    "episodes",
    multiple=True,
    metavar="ID",
    help="An episode to trim, with the --frames that follows it (repeatable).",
)
@click.option(
    "--frames",
    "ranges",
    multiple=True,
    metavar="START:END",
    callback=_frame_range,
    help="Frames to keep for the matching --episode, END exclusive (76:300; 76: to the end).",
)
@json_option()
def trim(
    src: Path,
    out: Path,
    suggested: bool,
    episodes: tuple[str, ...],
    ranges: list[tuple[int, int | None]],
    as_json: bool,
) -> None:
    """Write a new dataset with episodes cut to the frames worth keeping.

    Every episode of SRC goes to the new dataset OUT; trimmed ones keep only their range,
    across every feature and camera (images copied, never re-encoded; real capture times
    kept), with segments clipped, statistics recomputed, the same episode ids, and
    extra.trim recording what was cut (the provenance chain shows it). SRC is never
    changed; QC results are not carried over: run `embodex qc run OUT`.

    \b
    Example:
      embodex qc run datasets/week01
      embodex trim datasets/week01 datasets/week01-trimmed --suggested
      embodex trim datasets/week01 datasets/week01-cut --episode hubei:0007 --frames 76:300
    """
    from embodex.qc import trim_dataset

    if len(episodes) != len(ranges):
        raise click.UsageError("give one --frames START:END after each --episode ID")
    if not suggested and not episodes:
        raise click.UsageError("give --suggested, or --episode ID --frames START:END")
    output = Output(as_json)
    with output.progress("trimming") as bar:
        result = trim_dataset(
            src,
            out,
            frames=list(zip(episodes, ranges, strict=True)),
            suggested=suggested,
            on_start=bar.total,
            on_episode=lambda _eid: bar.update(),
        )
    if result is None:  # clean data: an answer, exit 0 (a `set -e` script goes on)
        output.result(
            {"source": str(src), "dataset": None, "trimmed": {}},
            text=lambda _r: [
                f"nothing to trim in {src}: QC suggests no trim (no motion.idle_ends "
                f"findings); {out} not written"
            ],
        )
        return
    output.result(result, text=lambda r: trim_lines(r, out))


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--cameras",
    "storage",
    type=click.Choice(["jpeg", "video"]),
    required=True,
    help="jpeg: decode video cameras into one JPEG per frame (a training tier); video: "
    "encode frame cameras as video (a storage tier).",
)
@click.option(
    "--codec",
    type=click.Choice(["h264", "h265", "av1"]),
    default="h264",
    show_default=True,
    help="Codec of the video cameras written (--cameras video).",
)
@click.option(
    "--gop", type=click.IntRange(min=1), default=30, show_default=True, help="Key-frame interval."
)
@click.option(
    "--camera",
    "only",
    multiple=True,
    metavar="NAME",
    help="Convert only this camera (repeatable); the others are copied as stored.",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="Decode/encode the episodes on a Ray cluster (auto: a local Ray; or host:6379 / "
    "ray://host:10001); the dataset is the one a local run writes.",
)
@json_option()
def transcode(
    src: Path,
    out: Path,
    storage: str,
    codec: str,
    gop: int,
    only: tuple[str, ...],
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Write a new dataset with the colour cameras stored as JPEG frames or as video.

    Keep the delivered video (small) and build a JPEG tier for training locally, or store
    frame cameras as video. Features, times, metadata, episode ids and the other cameras
    are copied as stored; embodex.json records the step (extra.transcode) and the
    provenance chain shows it. SRC is never changed.

    \b
    Example:
      embodex transcode datasets/week01 hot/week01 --cameras jpeg
      embodex transcode datasets/old datasets/old-video --cameras video --codec av1 --gop 16
      embodex transcode datasets/week01 hot/week01 --cameras jpeg --ray head-node:6379
    """
    from embodex.format import transcode_dataset

    output = Output(as_json)
    with output.progress("transcoding") as bar:
        result = transcode_dataset(
            src,
            out,
            cameras="jpeg" if storage == "jpeg" else "video",
            codec=codec,
            gop=gop,
            only=list(only) or None,
            ray=ray_address,
            on_start=bar.total,
            on_episode=lambda _eid: bar.update(),
        )
    output.result(result, text=lambda r: transcode_lines(r, out))
