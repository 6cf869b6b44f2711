"""Interop commands: export to LeRobot / Hugging Face, view an episode in Rerun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from embodex.format import open_dataset

from .render import echo_json, fmt_bytes, plural, progress


def register(cli: click.Group) -> None:
    cli.add_command(export)
    cli.add_command(view)


def _select(dataset: Path, where: tuple[str, ...]) -> Any:
    """Open the dataset and keep the episodes matching every ``FIELD=VALUE``."""
    ds = open_dataset(dataset)
    conditions: dict[str, Any] = {}
    schema = ds.episodes.schema
    for item in where:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--where")
        kind = schema.field(field).type if field in schema.names else None
        try:
            if kind is not None and pa.types.is_boolean(kind):
                conditions[field] = {"true": True, "false": False}[value.lower()]
            elif kind is not None and pa.types.is_integer(kind):
                conditions[field] = int(value)
            elif kind is not None and pa.types.is_floating(kind):
                conditions[field] = float(value)
            else:
                conditions[field] = value
        except (KeyError, ValueError):
            raise click.BadParameter(
                f"{item!r}: {value!r} is not a {kind}", param_hint="--where"
            ) from None
    return ds.select(**conditions) if conditions else ds


def _report(report: Any, as_json: bool, what: str) -> None:
    if as_json:
        echo_json(
            {
                "path": str(report.path),
                "episodes": report.episodes,
                "frames": report.frames,
                "files": report.files,
                "bytes": report.bytes,
                "notes": report.notes,
            }
        )
        return
    click.echo(
        f"exported {plural(report.episodes, 'episode')} ({report.frames:,} frames) to "
        f"{report.path} as {what}: {report.files} files, {fmt_bytes(report.bytes)}"
    )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


_WHERE = click.option(
    "--where",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Export only episodes whose field equals the value (repeatable), e.g. skill=hold_cup.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


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
@_JSON
def export_lerobot_cmd(
    dataset: Path, out: Path, video: bool, codec: str, where: tuple[str, ...], as_json: bool
) -> None:
    """Write a LeRobot v3.0 dataset that LeRobotDataset loads.

    Episode metadata LeRobot has no slot for (scene, operator, robot serial, success,
    segments...) goes to embodex/* columns of meta/episodes/; see specs/interop.md.

    \b
    Example:
      embodex export lerobot datasets/week01 exports/lerobot
      embodex export lerobot datasets/week01 exports/lerobot-av1 --video --where success=true
    """
    from embodex.format.exporters.lerobot import export_lerobot

    ds = _select(dataset, where)
    with progress("exporting", len(ds), enabled=not as_json) as bar:
        report = export_lerobot(
            ds, out, video=video, video_codec=codec, on_episode=lambda _e: bar.update()
        )
    _report(report, as_json, "LeRobot v3.0" + (f" ({codec} video)" if video else ""))


@export.command("hf")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--camera", "cameras", multiple=True, help="Only these cameras (repeatable); default all."
)
@click.option("--no-images", is_flag=True, help="Leave every camera out (numbers only).")
@_WHERE
@_JSON
def export_hf_cmd(
    dataset: Path,
    out: Path,
    cameras: tuple[str, ...],
    no_images: bool,
    where: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write a Hugging Face dataset (datasets.load_from_disk) with a dataset card.

    OUT holds the frames, OUT/episodes the episode table and OUT/README.md the card
    (licence, task category, size, provenance, QC summary when qc/manifest.json exists).

    \b
    Example:
      embodex export hf datasets/week01 exports/hf
      python -c "import datasets; print(datasets.load_from_disk('exports/hf'))"
    """
    from embodex.format.exporters.hf import export_hf

    ds = _select(dataset, where)
    chosen = [] if no_images else (list(cameras) or None)
    with progress("exporting", len(ds), enabled=not as_json) as bar:
        report = export_hf(ds, out, cameras=chosen, on_episode=lambda _e: bar.update())
    _report(report, as_json, "Hugging Face datasets")


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

    ds = open_dataset(dataset)
    key: str | int = int(episode) if episode.lstrip("-").isdigit() else episode
    report = export_rerun(ds, key, output)
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"wrote {output} ({fmt_bytes(report['bytes'])}): episode {report['episode_id']}, "
        f"{report['frames']} frames, {len(report['cameras'])} cameras, "
        f"{report['segments']} segments — open it with `rerun {output}`"
    )
