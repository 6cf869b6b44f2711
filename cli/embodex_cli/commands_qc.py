"""Quality control commands: ``embodex qc run|report|show|profile|sign`` and
``embodex review next|set|list``."""

from __future__ import annotations

from pathlib import Path

import click

from .lazy import LazyChoice, LazyHelpOption
from .output import Output, json_option
from .render_qc import (
    episode_lines,
    profile_lines,
    qc_report_lines,
    qc_run_lines,
    review_list_lines,
    review_next_lines,
    review_set_lines,
)


def _reason_codes() -> list[str]:
    from embodex.qc.reviewlog import REASONS  # the QC layer loads when a value is checked

    return list(REASONS)


def _reasons_help() -> str:
    from embodex.qc.reviewlog import REASONS  # the QC layer loads when this help is shown

    groups = dict.fromkeys(v for v, _ in REASONS.values())
    codes = {v: ", ".join(c for c, (w, _) in REASONS.items() if w == v) for v in groups}
    return "; ".join(f"{'/'.join(v)}: {codes[v]}" for v in groups) + " (other needs --note)."


def register(cli: click.Group) -> None:
    from .cli_qc_sign import qc_sign  # trust code (the centre's key), but a step of QC

    qc.add_command(qc_sign)
    cli.add_command(qc)
    cli.add_command(review)


_PROFILE_OPTION = click.option(
    "--profile",
    "profile_spec",
    metavar="FILE|ID",
    help="QC profile YAML (may `extends: humanoid-30fps`), or a built-in id. "
    "Default: humanoid-30fps.",
)
_SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="RULE.PARAM=VALUE",
    help="Override one threshold, e.g. --set timing.gap.fail=250 (repeatable).",
)


@click.group()
def qc() -> None:
    """Quality control: run the checks, write the report, look at one episode.

    \b
    Example:
      embodex qc run datasets/week01
      embodex qc report datasets/week01 -o week01-qc.html
    """


@qc.command("run")
@click.argument("dataset", type=click.Path(path_type=Path))
@_PROFILE_OPTION
@_SET_OPTION
@click.option(
    "--images",
    type=click.Choice(["sample", "all", "none"]),
    default="sample",
    show_default=True,
    help="Image checks on sampled frames, on every frame, or not at all.",
)
@click.option(
    "--known-ids",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File of episode ids delivered before (one per line), for the unique-id rule.",
)
@click.option(
    "--no-write",
    is_flag=True,
    help="Only print (recorded reviews still apply); do not write qc/manifest.json.",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    help="Check the episodes' frames and images on a Ray cluster (auto: a local Ray; or "
    "host:6379 / ray://host:10001); the verdicts are the ones a local run gives.",
)
@json_option()
def qc_run(
    dataset: Path,
    profile_spec: str | None,
    overrides: tuple[str, ...],
    images: str,
    known_ids: Path | None,
    no_write: bool,
    ray_address: str | None,
    as_json: bool,
) -> None:
    """Run every rule of a QC profile over a dataset and store the verdicts.

    Writes qc/manifest.json (verdicts, reviews, aggregates; no floats, ready to sign),
    qc/findings-*.arrow and qc/metrics-*.arrow in the dataset. Failed episodes are kept and
    labelled, never deleted. Exits 3 when any episode FAILs (1 on bad input), so
    scripts can gate on it.

    \b
    Example:
      embodex qc run datasets/week01
      embodex qc run datasets/week01 --profile contracts/acme-qc.yaml --json
      embodex qc run datasets/week01 --set timing.gap.fail=250 --images all
      embodex qc run datasets/week01 --ray head-node:6379
    """
    from embodex.qc import check_dataset

    out = Output(as_json)
    with out.progress("checking") as bar:
        summary = check_dataset(
            dataset,
            profile_spec,
            overrides=overrides,
            images=images,  # type: ignore[arg-type]
            known_ids=known_ids,
            write=not no_write,
            on_start=bar.total,
            on_episode=lambda _eid: bar.update(),
            ray=ray_address,
        )
    out.result(summary, text=qc_run_lines)
    summary.raise_for_gate()


@qc.command("report")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="HTML file to write (default DATASET/qc/report.html).",
)
@click.option("--worst", type=click.IntRange(0, 100), default=5, show_default=True)
@json_option("Print where it was written as JSON.")
def qc_report(dataset: Path, out: Path | None, worst: int, as_json: bool) -> None:
    """Write the QC report: one self-contained HTML file with plots (opens offline).

    Hours by scene type and skill, episodes flagged per rule, operator and robot
    scorecards, durations, and the worst episodes with joint plots and frame strips.
    Needs `embodex qc run` first; warns when the dataset changed since.

    \b
    Example:
      embodex qc report datasets/week01 -o week01-qc.html
      embodex qc report datasets/week01 --json
    """
    from embodex.reports.qc_page import qc_report

    Output(as_json).result(qc_report(dataset, out, worst=worst), text=qc_report_lines)


@qc.command("show")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("episode")
@json_option("Print as JSON.")
def qc_show(dataset: Path, episode: str, as_json: bool) -> None:
    """Show one episode's verdicts, review, findings and quality metrics.

    \b
    Example:
      embodex qc show datasets/week01 hubei-centre:0f3a9c
    """
    from embodex.qc.manifest import describe_episode

    Output(as_json).result(describe_episode(dataset, episode), text=episode_lines)


@qc.command("profile")
@click.argument("spec", required=False, metavar="[FILE|ID]")
@_SET_OPTION
@json_option("Print the profile as JSON.")
def qc_profile(spec: str | None, overrides: tuple[str, ...], as_json: bool) -> None:
    """Print a QC profile fully resolved (every rule and threshold) with its digest.

    Start your own profile from this output, or write one that `extends: humanoid-30fps`.

    \b
    Example:
      embodex qc profile > my-profile.yaml
      embodex qc profile contracts/acme-qc.yaml --set timing.gap.fail=250
    """
    from embodex.qc import resolve_profile

    Output(as_json).result(resolve_profile(spec, overrides), text=profile_lines)


@click.group()
def review() -> None:
    """Manual review: look at the next episode, record accept/reject, list decisions.

    \b
    Example:
      embodex review next datasets/week01
      embodex review set datasets/week01 centre:0042 --verdict reject \\
          --reason operator_error --reviewer rev-007 --note "regrasps twice"
    """


@review.command("next")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the review page (default DATASET/reviews/pages).",
)
@json_option("Print as JSON.")
def review_next(dataset: Path, out_dir: Path | None, as_json: bool) -> None:
    """Show the next episode to review and write its page (frames, joint plots, findings).

    The queue holds every automatic WARN, then a sample of each operator's PASSes (the
    profile's review plan; see specs/qc.md).

    \b
    Example:
      embodex review next datasets/week01
    """
    from embodex.qc import next_review

    Output(as_json).result(next_review(dataset, out_dir), text=review_next_lines)


@review.command("set")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("episode")
@click.option(
    "--verdict",
    type=click.Choice(["accept", "reject", "flag"]),
    required=True,
    help="flag asks for a second look (reason second_look) and changes no verdict.",
)
@click.option(
    "--reason",
    required=True,
    type=LazyChoice(_reason_codes),  # a code outside the list is a usage error (exit 2)
    metavar="CODE",
    cls=LazyHelpOption,
    help_from=_reasons_help,
)
@click.option("--note", help="Free text for the record.")
@click.option("--reviewer", metavar="ID", help="Your pseudonymous reviewer id (unsigned).")
@click.option(
    "--key",
    metavar="NAME",
    help="Sign the decision with this reviewer key (the reviewer id is its name).",
)
@json_option("Print as JSON.")
def review_set(
    dataset: Path,
    episode: str,
    verdict: str,
    reason: str,
    note: str | None,
    reviewer: str | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Record a manual accept or reject, or flag for a second look (appended to the
    dataset's review log; signed with --key).

    A reject makes the episode FAIL; an accept turns a WARN into PASS; a flag changes no
    verdict. An automatic FAIL cannot be accepted. The QC manifest is updated at once.

    \b
    Example:
      embodex review set datasets/week01 centre:0042 --verdict accept \\
          --reason warning_acceptable --key rev-007
      embodex review set datasets/week01 centre:0042 --verdict reject \\
          --reason operator_error --reviewer rev-007 --note "regrasps twice"
    """
    if (reviewer is None) == (key is None):
        raise click.UsageError("give --key NAME (signed) or --reviewer ID (unsigned), not both")
    if key is not None:
        from embodex.trust import set_signed_review

        from .commands_trust import load_signer_cli

        recorded = set_signed_review(
            dataset,
            episode,
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            signer=load_signer_cli(key),
            note=note,
        )
    else:
        from embodex.qc import set_review

        recorded = set_review(
            dataset,
            episode,
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            reviewer=reviewer or "",
            note=note,
        )
    Output(as_json).result(recorded, text=review_set_lines)


@review.command("list")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="Every log entry, superseded ones too.")
@json_option("Print as JSON.")
def review_list(dataset: Path, show_all: bool, as_json: bool) -> None:
    """List review decisions (the latest per episode) and how many wait in the queue.

    \b
    Example:
      embodex review list datasets/week01
      embodex review list datasets/week01 --all --json
    """
    from embodex.qc import reviews

    Output(as_json).result(reviews(dataset, superseded=show_all), text=review_list_lines)
