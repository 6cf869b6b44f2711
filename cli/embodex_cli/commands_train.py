"""Training-loader command: check what a training run would load, before it starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from embodex.units import count, duration

from .output import Output, json_option
from .render import table


def register(cli: click.Group) -> None:
    cli.add_command(load_check)


def _parse_where(items: tuple[str, ...]) -> dict[str, Any] | None:
    """``key=value`` pairs (values as JSON when they parse: true, 3, null); a repeated key
    matches any of its values."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--where")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if key in out:
            prev = out[key]
            out[key] = [*(prev if isinstance(prev, list) else [prev]), value]
        else:
            out[key] = value
    return out


@click.command("load")
@click.argument("dataset")
@click.option(
    "--feature", "-f", "features", multiple=True, help="Feature to load (repeat; default all)."
)
@click.option("--camera", "-c", "cameras", multiple=True, help="Camera to load (repeat).")
@click.option("--no-cameras", is_flag=True, help="Load no camera.")
@click.option("--history", type=click.IntRange(min=1), help="Frames of state history.")
@click.option("--horizon", type=click.IntRange(min=1), help="Frames of action chunk.")
@click.option(
    "--qc",
    type=click.Choice(["pass", "pass+warn", "all"]),
    default="pass",
    show_default=True,
    help="QC verdicts to keep (from qc/manifest.json).",
)
@click.option("--where", multiple=True, help="Episode filter KEY=VALUE (repeat).")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Cache for s3:// datasets.")
@click.option("--verify", is_flag=True, help="Hash (or download) every selected shard now.")
@json_option()
def load_check(
    dataset: str,
    features: tuple[str, ...],
    cameras: tuple[str, ...],
    no_cameras: bool,
    history: int | None,
    horizon: int | None,
    qc: str,
    where: tuple[str, ...],
    cache_dir: Path | None,
    verify: bool,
    as_json: bool,
) -> None:
    """Open DATASET (a folder or s3:// URL) as training code would, and report what it gets.

    Checks everything `embodex.train.load` checks before training (features, cameras,
    windows, QC results, episode filter, shard sizes), then shows the selection, one
    sample's keys and shapes, and the normalisation statistics of the selected episodes.

    \b
    Example:
      embodex load deliveries/week01 --horizon 50 --history 2 --qc pass+warn
      embodex load s3://acme/week01 -f state -f action -c head --where scene_type=restaurant
    """
    from embodex.train import load

    ds = load(
        dataset,
        features=list(features) or None,
        cameras=[] if no_cameras else (list(cameras) or None),
        history=history,
        horizon=horizon,
        qc=qc,
        episodes=_parse_where(where),
        cache_dir=cache_dir,
        verify=verify,
    )
    Output(as_json).result(ds.summary(), text=lambda info: _load_lines(info, qc))


def _load_lines(info: dict[str, Any], qc: str) -> Iterator[str]:
    sel = info["selection"]
    yield (
        f"{info['source']}: {count(info['episodes'], 'episode')}, {info['frames']:,} frames, "
        f"{duration(info['hours'])} selected of {count(sel.get('episodes', 0), 'episode')} "
        f"({sel.get('excluded_by_qc', 0)} cut by qc={qc!r}, "
        f"{sel.get('excluded_by_filter', 0)} by --where)"
    )
    yield ""
    rows = [
        [k, "x".join(map(str, v["shape"])) or "scalar", v["dtype"]]
        for k, v in info["sample"].items()
    ]
    yield table(["sample key", "shape", "dtype"], rows)
    yield ""
    stat_rows = []
    for name, fs in info["stats"].items():
        for stat in ("mean", "std", "q01", "q99"):
            vals = [v for v in fs[stat] if v is not None]
            shown = ", ".join(f"{v:.3f}" for v in vals[:4]) + (", ..." if len(vals) > 4 else "")
            stat_rows.append([name, stat, shown])
    yield table(["feature", "stat", "values (selected episodes)"], stat_rows)
