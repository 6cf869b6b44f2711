"""Quality control commands: ``embodex qc run|report|show|profile|sign`` and
``embodex review next|set|list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from embodex.qc.reviewlog import REASONS

from .render import echo_json, fmt_hours, plural, progress, table

_REASONS_HELP = (
    "; ".join(
        f"{'/'.join(verdicts)}: {', '.join(c for c, (v, _) in REASONS.items() if v == verdicts)}"
        for verdicts in dict.fromkeys(v for v, _ in REASONS.values())
    )
    + " (other needs --note)."
)


def register(cli: click.Group) -> None:
    from .cli_qc_sign import qc_sign  # trust code (the centre's key), but a step of QC

    qc.add_command(qc_sign)
    cli.add_command(qc)
    cli.add_command(review)


def _warn_if_stale(reason: str | None) -> None:
    """A stale QC manifest still shows what QC saw; say so on stderr, never silently."""
    if reason:
        click.echo(
            f"warning: {reason} — run `embodex qc run DATASET` to check the current data",
            err=True,
        )


def _profile(spec: str | None, overrides: tuple[str, ...]) -> Any:
    from embodex.qc import default_profile, load_profile
    from embodex.qc.profile import parse_overrides

    profile = load_profile(spec) if spec else default_profile()
    if overrides:
        profile = profile.with_overrides(parse_overrides(list(overrides)))
    return profile


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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
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
    from embodex.errors import QCFailedError
    from embodex.format import open_dataset
    from embodex.qc import run_qc
    from embodex.qc.manifest import preview_qc, write_qc

    profile = _profile(profile_spec, overrides)
    ds = open_dataset(dataset)
    known = (
        [line.strip() for line in known_ids.read_text().splitlines() if line.strip()]
        if known_ids
        else None
    )
    with progress("checking", len(ds), enabled=not as_json) as bar:
        result = run_qc(
            ds,
            profile,
            images=images,  # type: ignore[arg-type]
            on_episode=lambda _eid: bar.update(),
            known_episode_ids=known,
            ray=ray_address,
        )
    # --no-write still applies the recorded reviews: a reviewer's reject is final either way
    manifest = preview_qc(dataset, result) if no_write else write_qc(dataset, result)
    final = {e.episode_id: e.verdict for e in manifest.episodes}
    o = manifest.aggregates.overall  # the final verdicts' counts and hours
    counts = {"PASS": o.passed, "WARN": o.warned, "FAIL": o.failed}
    hours = {"PASS": o.hours_passed, "WARN": o.hours_warned, "FAIL": o.hours_failed}
    top: list[dict[str, Any]] = [t.model_dump() for t in manifest.aggregates.top_failures]
    if as_json:
        echo_json(
            {
                "dataset": str(dataset),
                "dataset_digest": result.dataset_digest,
                "profile": {
                    "id": profile.id,
                    "version": profile.version,
                    "digest": profile.digest,
                },
                "images": images,
                "episodes": len(result.episodes),
                "frames": result.frames,
                "seconds": round(result.seconds, 3),
                "counts": counts,
                "manifest": None if no_write else str(Path(dataset) / "qc/manifest.json"),
                "aggregates": manifest.aggregates.model_dump(mode="json"),
                "notes": [n.as_dict() for n in result.notes],
                "verdicts": [
                    {
                        "episode_id": ep.episode_id,
                        "auto_verdict": ep.auto_verdict,
                        "verdict": final[ep.episode_id],
                        "rules": ep.rules,
                    }
                    for ep in result.episodes
                ],
            }
        )
    else:
        click.echo(
            f"QC of {dataset} with profile {profile.id} v{profile.version} "
            f"({profile.digest[:19]}…): {plural(len(result.episodes), 'episode')}, "
            f"{result.frames:,} frames in {result.seconds:.1f} s"
        )
        click.echo("")
        total = max(len(result.episodes), 1)
        click.echo(
            table(
                ["verdict", "episodes", "recorded", "share"],
                [
                    [v, counts[v], fmt_hours(float(hours[v])), f"{100 * counts[v] / total:.1f}%"]
                    for v in ("PASS", "WARN", "FAIL")
                ],
            )
        )
        if top:
            click.echo("")
            click.echo(
                table(["top failure", "episodes"], [[t["rule"], t["episodes"]] for t in top])
            )
        if result.notes:
            click.echo("")
            click.echo("dataset notes (no verdict changes):")
            for n in result.notes:
                click.echo(f"  {n.rule}: {n.message}")
        flagged = [ep for ep in result.episodes if final[ep.episode_id] != "PASS"]
        if flagged:
            click.echo("")
            rows = [
                [ep.episode_id, final[ep.episode_id], ", ".join(ep.rules) or "review"]
                for ep in flagged[:20]
            ]
            click.echo(table(["episode", "verdict", "rules"], rows))
            if len(flagged) > 20:
                click.echo(f"… and {len(flagged) - 20} more (see --json or the report)")
        if not no_write:
            click.echo("")
            click.echo(f"wrote {Path(dataset) / 'qc/manifest.json'}")
    if counts["FAIL"]:
        first = top[0]["rule"] if top else None
        raise QCFailedError(counts["FAIL"], len(result.episodes), top=first)


@qc.command("report")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="HTML file to write (default DATASET/qc/report.html).",
)
@click.option("--worst", type=click.IntRange(0, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print where it was written as JSON.")
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
    from embodex.qc.manifest import stale_reason
    from embodex.reports.qc_page import write_report

    path = write_report(dataset, out or Path(dataset) / "qc" / "report.html", worst=worst)
    stale = stale_reason(dataset)
    if as_json:
        size = path.stat().st_size
        echo_json({"report": str(path), "bytes": size, "stale": stale})
        return
    _warn_if_stale(stale)
    click.echo(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")


@qc.command("show")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.argument("episode")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def qc_show(dataset: Path, episode: str, as_json: bool) -> None:
    """Show one episode's verdicts, review, findings and quality metrics.

    \b
    Example:
      embodex qc show datasets/week01 hubei-centre:0f3a9c
    """
    from embodex.qc.findings import FRAMES_HEADING, frame_range
    from embodex.qc.manifest import describe_episode

    info = describe_episode(dataset, episode)
    if as_json:
        echo_json(info)
        return
    _warn_if_stale(info["stale"])
    click.echo(
        f"{info['episode_id']}: {info['auto_verdict']} (automatic) -> {info['verdict']} (final)"
    )
    click.echo(
        f"  {info['scene_type']} · {info['skill']} · operator {info['operator_id']} · "
        f"robot {info['robot_model']} · {float(info['hours']) * 3600:.1f} s"
    )
    r = info["review"]
    if r:
        note = f" — {r['note']}" if r["note"] else ""
        click.echo(
            f"  review: {r['verdict']} ({r['reason']}) by {r['reviewer']} at {r['at']}{note}"
        )
    else:
        click.echo("  review: none")
    if info["findings"]:
        click.echo("")
        click.echo(
            table(
                ["severity", "rule", FRAMES_HEADING, "measured", "threshold", "finding"],
                [
                    [
                        f["severity"].upper(),
                        f["rule"],
                        frame_range(f["frame_start"], f["frame_end"]),
                        "-" if f["measured"] is None else f"{f['measured']:.4g}",
                        "-" if f["threshold"] is None else f"{f['threshold']:.4g}",
                        f["message"],
                    ]
                    for f in info["findings"]
                ],
            )
        )
    else:
        click.echo("  no automatic findings")
    if info["metrics"]:
        click.echo("")
        click.echo(
            table(
                ["metric", "value"], [[k, f"{v:.4g}"] for k, v in sorted(info["metrics"].items())]
            )
        )


@qc.command("profile")
@click.argument("spec", required=False, metavar="[FILE|ID]")
@_SET_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def qc_profile(spec: str | None, overrides: tuple[str, ...], as_json: bool) -> None:
    """Print a QC profile fully resolved (every rule and threshold) with its digest.

    Start your own profile from this output, or write one that `extends: humanoid-30fps`.

    \b
    Example:
      embodex qc profile > my-profile.yaml
      embodex qc profile contracts/acme-qc.yaml --set timing.gap.fail=250
    """
    profile = _profile(spec, overrides)
    if as_json:
        echo_json({"digest": profile.digest, "profile": profile.content})
        return
    click.echo(f"# digest: {profile.digest}")
    click.echo(profile.to_yaml(), nl=False)


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
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the review page (default DATASET/reviews/pages).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def review_next(dataset: Path, out: Path | None, as_json: bool) -> None:
    """Show the next episode to review and write its page (frames, joint plots, findings).

    The queue holds every automatic WARN, then a sample of each operator's PASSes (the
    profile's review plan; see specs/qc.md).

    \b
    Example:
      embodex review next datasets/week01
    """
    from embodex.qc.manifest import describe_episode, stale_reason
    from embodex.qc.review import review_queue
    from embodex.reports import write_review_page

    queue = review_queue(dataset)
    stale = stale_reason(dataset)
    if not as_json:
        _warn_if_stale(stale)
    if not queue:
        if as_json:
            echo_json({"next": None, "waiting": 0, "stale": stale})
        else:
            click.echo("nothing to review: every WARN and every sampled PASS has a decision")
        return
    item = queue[0]
    page = write_review_page(dataset, item.episode_id, out or Path(dataset) / "reviews" / "pages")
    info = describe_episode(dataset, item.episode_id)
    if as_json:
        echo_json(
            {
                "next": item.episode_id,
                "why": item.why,
                "operator_id": item.operator_id,
                "auto_verdict": item.auto_verdict,
                "page": str(page),
                "waiting": len(queue),
                "findings": info["findings"],
                "stale": stale,
            }
        )
        return
    why = "automatic WARN" if item.why == "warn" else "sampled PASS"
    click.echo(
        f"next: {item.episode_id} ({why}, operator {item.operator_id or '?'}; {len(queue)} waiting)"
    )
    click.echo(
        f"  {info['scene_type']} · {info['skill']} · robot {info['robot_model']} · "
        f"{float(info['hours']) * 3600:.1f} s"
    )
    for f in info["findings"]:
        click.echo(f"  {f['severity'].upper()} {f['rule']}: {f['message']}")
    click.echo(f"  page: {page}")
    click.echo(
        f"  decide: embodex review set {dataset} {item.episode_id} --verdict accept|reject "
        "--reason CODE --reviewer ID"
    )


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
    metavar="CODE",
    help=_REASONS_HELP,
)
@click.option("--note", help="Free text for the record.")
@click.option("--reviewer", metavar="ID", help="Your pseudonymous reviewer id (unsigned).")
@click.option(
    "--key",
    metavar="NAME",
    help="Sign the decision with this reviewer key (the reviewer id is its name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
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
        from embodex.trust.reviews import record_signed_review

        from .commands_trust import load_signer_cli

        entry, manifest = record_signed_review(
            dataset,
            episode,
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            signer=load_signer_cli(key),
            note=note,
        )
    else:
        from embodex.qc.review import record_review

        entry, manifest = record_review(
            dataset,
            episode,
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            reviewer=reviewer or "",
            note=note,
        )
    final = manifest.episode(episode).verdict
    if as_json:
        echo_json({"entry": entry.model_dump(mode="json"), "verdict": final})
        return
    signed = f", signed {entry.signature.keyid}" if entry.signature else ""
    click.echo(
        f"recorded: {episode} {entry.verdict} ({entry.reason}) by {entry.reviewer}{signed}; "
        f"{entry.auto_verdict} -> {final}"
    )


@review.command("list")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="Every log entry, superseded ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def review_list(dataset: Path, show_all: bool, as_json: bool) -> None:
    """List review decisions (the latest per episode) and how many wait in the queue.

    \b
    Example:
      embodex review list datasets/week01
      embodex review list datasets/week01 --all --json
    """
    from embodex.qc.manifest import stale_reason
    from embodex.qc.review import list_reviews, review_status

    entries = list_reviews(dataset)
    stale = stale_reason(dataset)
    if not show_all:
        latest = {e.episode_id: e for e in entries}
        entries = [e for e in entries if latest[e.episode_id] is e]
    status = review_status(dataset)
    if as_json:
        reviews = [e.model_dump(mode="json") for e in entries]
        echo_json({"status": status, "reviews": reviews, "stale": stale})
        return
    _warn_if_stale(stale)
    if entries:
        click.echo(
            table(
                ["#", "episode", "verdict", "reason", "reviewer", "at", "note"],
                [
                    [e.seq, e.episode_id, e.verdict, e.reason, e.reviewer, e.at, e.note or ""]
                    for e in entries
                ],
            )
        )
        click.echo("")
    click.echo(
        f"{status['reviewed']} reviewed ({status['accepted']} accepted, "
        f"{status['rejected']} rejected) · {status['waiting']} waiting in the queue"
    )
