"""Interop commands: export to LeRobot / Hugging Face, view an episode in Rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .output import Output, json_option
from .render import fmt_bytes
from .render_format import export_lines


def register(cli: click.Group) -> None:
    cli.add_command(export)
    cli.add_command(view)


def _select(dataset: Path, where: tuple[str, ...]) -> Any:
    """The dataset's episodes matching every ``--where FIELD=VALUE`` (a bad one is a usage
    error, exit 2)."""
    from embodex.errors import ConfigError
    from embodex.format.selection import select_where

    try:
        return select_where(dataset, where)
    except ConfigError as exc:
        raise click.BadParameter(exc.message, param_hint="--where") from None


_WHERE = click.option(
    "--where",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Export only episodes whose field equals the value (repeatable), e.g. skill=hold_cup.",
)
_JSON = json_option()


@click.group()
def export() -> None:
    """Export a dataset to another ecosystem's format (LeRobot, Hugging Face datasets).

    \b
    Example:
      embodex export lerobot datasets/week01 exports/week01-lerobot --video
      embodex export hf datasets/week01 exports/week01-hf
    """


@export.command("lerobot")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--video", is_flag=True, help="Store colour cameras as MP4 instead of images.")
@click.option(
    "--codec",
    type=click.Choice(["av1", "h264", "mpeg4"]),
    default="av1",
    show_default=True,
    help="Video codec with --video (AV1 is LeRobot's default).",
)
@_WHERE
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="Convert the episodes on a Ray cluster (auto: a local Ray; or host:6379 / "
    "ray://host:10001); the export is the one a local run writes.",
)
@_JSON
def export_lerobot_cmd(
    dataset: Path,
    out: Path,
    video: bool,
    codec: str,
    where: tuple[str, ...],
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Write a LeRobot v3.0 dataset that LeRobotDataset loads.

    Episode metadata LeRobot has no slot for (scene, operator, robot serial, success,
    segments...) goes to embodex/* columns of meta/episodes/; see specs/interop.md.

    \b
    Example:
      embodex export lerobot datasets/week01 exports/lerobot
      embodex export lerobot datasets/week01 exports/lerobot-av1 --video --where success=true
      embodex export lerobot datasets/week01 exports/lerobot --ray head-node:6379
    """
    from embodex.format.exporters.lerobot import export_lerobot

    output = Output(as_json)
    ds = _select(dataset, where)
    with output.progress("exporting", len(ds)) as bar:
        report = export_lerobot(
            ds,
            out,
            video=video,
            video_codec=codec,
            ray=ray_address,
            on_episode=lambda _e: bar.update(),
        )
    what = "LeRobot v3.0" + (f" ({codec} video)" if video else "")
    output.result(report, text=lambda r: export_lines(r, what))


@export.command("hf")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--camera", "cameras", multiple=True, help="Only these cameras (repeatable); default all."
)
@click.option("--no-images", is_flag=True, help="Leave every camera out (numbers only).")
@click.option(
    "--layout",
    type=click.Choice(["parquet", "disk"]),
    default="parquet",
    show_default=True,
    help="parquet: the Hub's layout for datasets.load_dataset and the Hub viewer; "
    "disk: the save_to_disk form for datasets.load_from_disk.",
)
@click.option(
    "--max-shard-mb",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Start a new Parquet shard past this many MB (whole episodes per shard).",
)
@click.option(
    "--push",
    "push",
    metavar="OWNER/NAME",
    help="Then upload OUT to this Hub dataset repository (created if missing).",
)
@click.option(
    "--token",
    envvar="HF_TOKEN",
    help="Hub token for --push (default: HF_TOKEN, else the `hf auth login` token).",
)
@click.option(
    "--private/--public",
    "private",
    default=None,
    help="Visibility of a repository --push creates (default: the Hub's).",
)
@_WHERE
@_JSON
def export_hf_cmd(
    dataset: Path,
    out: Path,
    cameras: tuple[str, ...],
    no_images: bool,
    layout: str,
    max_shard_mb: int,
    push: str | None,
    token: str | None,
    private: bool | None,
    where: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write a Hugging Face dataset (Parquet shards + dataset card); --push uploads it.

    OUT/data/*.parquet holds one row per frame, OUT/episodes/*.parquet one per episode,
    OUT/README.md the card (configs for datasets.load_dataset and the Hub viewer, licence,
    task category, size, provenance, QC summary when qc/manifest.json exists).

    \b
    Example:
      embodex export hf datasets/week01 exports/hf
      python -c "import datasets; print(datasets.load_dataset('exports/hf', split='train'))"
      embodex export hf datasets/week01 exports/hf-hub --push hubei-centre/week01 --private
    """
    from embodex.format.exporters.hf import export_hf

    output = Output(as_json)
    ds = _select(dataset, where)
    chosen = [] if no_images else (list(cameras) or None)
    with output.progress("exporting", len(ds)) as bar:
        report = export_hf(
            ds,
            out,
            cameras=chosen,
            layout=layout,
            max_shard_bytes=max_shard_mb * 1024 * 1024,
            push=push,
            token=token,
            private=private,
            on_episode=lambda _e: bar.update(),
        )
    what = "Hugging Face Parquet" if layout == "parquet" else "Hugging Face datasets (disk)"
    output.result(report, text=lambda r: export_lines(r, what))


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("episode")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The .rrd file to write (open it with `rerun FILE`).",
)
@_JSON
def view(dataset: Path, episode: str, output: Path, as_json: bool) -> None:
    """Write one episode as a Rerun recording: joint plots, camera frames, sub-tasks.

    EPISODE is an episode id or a position (0 = first; a negative position counts from the
    end and goes after `--`). Needs the rerun extra (pip install 'embodex[rerun]').

    \b
    Example:
      embodex view datasets/week01 0 -o episode0.rrd && rerun episode0.rrd
      embodex view datasets/week01 -o last.rrd -- -1
    """
    from embodex.format.exporters.rerun import export_rerun

    key: str | int = int(episode) if episode.lstrip("-").isdigit() else episode
    Output(as_json).result(
        export_rerun(dataset, key, output),
        text=lambda r: [
            f"wrote {output} ({fmt_bytes(r['bytes'])}): episode {r['episode_id']}, "
            f"{r['frames']} frames, {len(r['cameras'])} cameras, "
            f"{r['segments']} segments — open it with `rerun {output}`"
        ],
    )
