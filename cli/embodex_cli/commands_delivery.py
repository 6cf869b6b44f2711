"""Delivery commands: ``embodex publish``, ``embodex pull``, ``embodex channel …``,
``embodex receipt countersign|post``, ``embodex supply status|plan``.

This module registers them and holds what they share: the channel/contract/key options,
``--at``, durations, the progress display.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from .commands_trust import load_signer_cli
from .complete import complete_channel, complete_key
from .output import Output, json_option
from .render_delivery import publish_lines, pull_lines, warning_lines

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(cli: click.Group) -> None:
    from .cli_channel import channel, receipt
    from .cli_remote import remote
    from .cli_supply import supply

    for command in (publish, pull, channel, receipt, supply, remote):
        cli.add_command(command)


class Duration(click.ParamType):  # type: ignore[type-arg]
    """``90s``, ``10m``, ``2h``, ``3d``, ``1w``."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        m = _DURATION.match(str(value).strip())
        if not m or float(m.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration like 90s, 10m, 2h, 3d or 1w", param, ctx)
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


class When(click.ParamType):  # type: ignore[type-arg]
    """A date (``2026-01-12``, midnight UTC) or an ISO 8601 time (``2026-01-12T18:00:00+08:00``)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        text = str(value).strip().replace("Z", "+00:00")
        try:
            if len(text) == 10:
                d = date.fromisoformat(text)
                return datetime(d.year, d.month, d.day, tzinfo=UTC)
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date or an ISO 8601 time", param, ctx)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return when.astimezone(UTC).replace(microsecond=0)


DURATION = Duration()
WHEN = When()


def channel_options(*, key: bool, positional: bool = True) -> Callable[[Any], Any]:
    """[CHANNEL], --channel NAME|URL, --contract FILE, [--key NAME], --at TIME.

    The channel is a remote's name (``embodex remote add``) or a URL, given as the CHANNEL
    argument (where the command has room for one) or ``--channel``; the contract and key
    default to ``EMBODEX_CONTRACT``/``EMBODEX_KEY`` and then to the remote's own (resolved
    by :func:`embodex.remotes.resolve_channel`). The command receives ``url``, ``contract``
    and (with ``key=True``) ``key``, all given.
    """

    def wrap(command: Any) -> Any:
        @functools.wraps(command)
        def resolved(*args: Any, **kwargs: Any) -> Any:
            from embodex.remotes import resolve_channel

            given = kwargs.pop("channel", None)
            flag = kwargs.pop("channel_flag", None)
            if given is not None and flag is not None and given != flag:
                raise click.UsageError(
                    f"two channels given: {given!r} and --channel {flag!r}; give one of them"
                )
            target = resolve_channel(
                given or flag, contract=kwargs.get("contract"), key=kwargs.get("key")
            )
            if target.url is None:
                raise click.UsageError(
                    "no channel given: pass a remote's name (see `embodex remote list`) or "
                    "--channel URL, or set EMBODEX_CHANNEL"
                )
            missing: list[tuple[str, str, object]] = [
                ("--contract FILE", "EMBODEX_CONTRACT", target.contract)
            ]
            if key:
                missing.append(("--key NAME", "EMBODEX_KEY", target.key))
            for flag_name, env, value in missing:
                if value is None:
                    raise click.UsageError(
                        f"missing {flag_name}: pass it, set {env}, or save it with the remote "
                        f"(`embodex remote add NAME URL {flag_name}`)"
                    )
            kwargs["url"], kwargs["contract"] = target.url, target.contract
            if key:
                kwargs["key"] = target.key
            return command(*args, **kwargs)

        options: list[Callable[[Any], Any]] = []
        if positional:
            options.append(
                click.argument(
                    "channel",
                    required=False,
                    metavar="[CHANNEL]",
                    shell_complete=complete_channel,
                )
            )
        options += [
            click.option(
                "--channel", "channel_flag", metavar="NAME|URL",
                shell_complete=complete_channel,
                help="The channel: a remote's name (`embodex remote list`), a folder, file://, "
                "s3://BUCKET/PREFIX or hf://datasets/OWNER/REPO (HF_ENDPOINT, HF_TOKEN) URL "
                "(default: EMBODEX_CHANNEL).",
            ),
            click.option(
                "--contract", "contract", metavar="FILE",
                type=click.Path(path_type=Path, exists=True, dir_okay=False),
                help="The signed contract file (both parties' signatures; default: "
                "EMBODEX_CONTRACT, then the remote's).",
            ),
        ]  # fmt: skip
        if key:
            options.append(
                click.option(
                    "--key", "key", metavar="NAME", shell_complete=complete_key,
                    help="Name of your signing key (default: EMBODEX_KEY, then the remote's).",
                )
            )  # fmt: skip
        at_help = "Act as of this time instead of now (demos, backfills, audits)."
        options.append(click.option("--at", "at", type=WHEN, default=None, help=at_help))
        for option in reversed(options):
            resolved = option(resolved)
        return resolved

    return wrap


workers_opt = click.option(
    "--workers", type=click.IntRange(1, 64), default=8, show_default=True,
    help="Files moved in parallel.",
)  # fmt: skip
retries_opt = click.option(
    "--retries", "attempts", type=click.IntRange(1, 20), default=3, show_default=True,
    help="Attempts per file before giving up (a re-run resumes).",
)  # fmt: skip
ttl_opt = click.option(
    "--ttl", type=DURATION, default="3d", show_default=True,
    help="How long the new channel head stays valid (renew with `channel refresh`).",
)  # fmt: skip
no_ledger_opt = click.option("--no-ledger", is_flag=True, help="Do not record it in your ledger.")


def qc_profile(spec: str | None) -> Any:
    from embodex.qc import load_profile

    return load_profile(spec) if spec else None


# -- publish -------------------------------------------------------------------------------


@click.command()
@click.argument("dataset", type=click.Path(path_type=Path, exists=True, file_okay=False))
@channel_options(key=True)
@click.option("--profile", "profile_spec", metavar="FILE|ID", help="The agreed QC profile.")
@click.option(
    "--episode", "episodes", multiple=True, metavar="ID",
    help="Publish only these episodes (repeatable; default: all not delivered before).",
)  # fmt: skip
@click.option(
    "--exclude-out-of-scope", is_flag=True,
    help="Leave out episodes outside the contract's scope instead of refusing.",
)  # fmt: skip
@click.option("--period", type=click.IntRange(1), help="Delivery period the batch is for.")
@click.option(
    "--replaces", "replaces", type=click.IntRange(1), metavar="N",
    help="This batch replaces the rejected (or revoked) episodes of batch N: it counts for "
    "N's period and is judged against N's replacement date.",
)  # fmt: skip
@click.option(
    "--dry-run", is_flag=True,
    help="Stage and check the batch, show what would be published and the contract warnings; "
    "upload and record nothing.",
)  # fmt: skip
@ttl_opt
@workers_opt
@retries_opt
@no_ledger_opt
@json_option()
def publish(
    dataset: Path,
    url: str,
    contract: Path,
    key: str,
    at: datetime | None,
    profile_spec: str | None,
    episodes: tuple[str, ...],
    exclude_out_of_scope: bool,
    period: int | None,
    replaces: int | None,
    dry_run: bool,
    ttl: timedelta,
    workers: int,
    attempts: int,
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Publish the episodes of DATASET not delivered before as the channel's next batch.

    Checks the contract first (in force, your key is its centre, episodes in scope), runs
    the contract's QC profile on the batch and warns — before uploading — when the buyer's
    checks will fail (pass rate, success rate, deadline, minimum hours); then uploads data,
    QC, the signed batch manifest and the head — in that order, in parallel, with retries.
    --dry-run stops after the checks. Run it again after a crash: it finishes or cleans up
    the interrupted batch and never delivers an episode twice.

    \b
    Example:
      embodex publish centre/all acme --dry-run    # a remote: `embodex remote add`
      embodex publish centre/all --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre --dry-run
      embodex publish centre/all --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre
      HF_TOKEN=hf_... embodex publish centre/all \\
          --channel hf://datasets/hubei-centre/agibot-deliveries \\
          --contract contract.signed.json --key hubei-centre
      embodex publish centre/retakes --channel s3://acme/deliveries \\
          --contract contract.signed.json --key hubei-centre --replaces 2
    """
    from embodex.delivery import publish as sdk_publish

    out = Output(as_json)
    with out.bars() as bars:
        result = sdk_publish(
            dataset,
            url,
            contract,
            load_signer_cli(key),
            profile=qc_profile(profile_spec),
            episode_ids=list(episodes) or None,
            exclude_out_of_scope=exclude_out_of_scope,
            period=period,
            replacement_for=replaces,
            ttl=ttl,
            now=at,
            workers=workers,
            attempts=attempts,
            record=not no_ledger,
            on_start=lambda files, size: bars.start(f"uploading {files} files", size),
            on_file=lambda _key, size: bars.add(size),
            on_warnings=out.live(warning_lines),
            dry_run=dry_run,
        )
    out.result(result, text=publish_lines)


# -- pull ----------------------------------------------------------------------------------


@click.command()
@channel_options(key=True)
@click.option(
    "--into", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Your store: DIR/dataset is what training reads.",
)  # fmt: skip
@click.option("--watch", is_flag=True, help="Keep pulling every --interval until interrupted.")
@click.option("--interval", type=DURATION, default="10m", show_default=True)
@click.option("--polls", type=click.IntRange(1), help="With --watch: stop after N polls.")
@click.option("--wait", is_flag=True, help="Queue behind a running pull instead of refusing.")
@click.option("--profile", "profile_spec", metavar="FILE|ID", help="The agreed QC profile.")
@click.option(
    "--region", metavar="CODE", default=None,
    help="ISO 3166 region where this store processes the data (CN, CN-HB, DE; default "
    "EMBODEX_REGION); the contract must allow it.",
)  # fmt: skip
@workers_opt
@retries_opt
@no_ledger_opt
@json_option()
def pull(
    url: str,
    contract: Path,
    key: str,
    at: datetime | None,
    into: Path,
    watch: bool,
    interval: timedelta,
    polls: int | None,
    wait: bool,
    profile_spec: str | None,
    region: str | None,
    workers: int,
    attempts: int,
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Pull new batches from a channel: verify, download, re-check, decide, install, receipt.

    The head must be signed by the contract's centre, not older than one seen before and not
    expired. Each new batch is verified against its signed manifest file by file, checked
    with the contract's QC profile here, accepted or rejected episode by episode, installed
    into DIR/dataset (rejected episodes into DIR/quarantine/) and answered with a signed
    receipt on the channel and in your ledger. Killed half-way, it resumes. A channel this
    account may only read (a gated Hub repo, a mirror) does not stop it: the receipts wait
    in DIR/receipts/ (a warning says so) for a later pull or `embodex receipt post`.

    --region (or EMBODEX_REGION) says where the store processes the data; the store keeps
    the region of its first pull, and a region the contract's allowed_regions do not cover
    is refused before anything is downloaded. With none declared, a contract that keeps the
    data in its origin country assumes the origin; a cross-border one requires it. Every
    batch received is recorded in your ledger with the region.

    \b
    Example:
      embodex pull acme --into deliveries/acme    # a remote: `embodex remote add`
      embodex pull --channel s3://acme/deliveries --contract contract.signed.json \\
          --key agibot --into deliveries/acme
      embodex pull --channel s3://acme/deliveries --contract contract.signed.json \\
          --key agibot --into deliveries/acme-eu --region DE
      embodex pull --channel s3://acme/deliveries --contract contract.signed.json \\
          --key agibot --into deliveries/acme --watch --interval 10m
      HF_TOKEN=hf_... embodex pull --channel hf://datasets/hubei-centre/agibot-deliveries \\
          --contract contract.signed.json --key agibot --into deliveries/hubei
    """
    from embodex.delivery import pull as sdk_pull
    from embodex.delivery import watch as sdk_watch
    from embodex.errors import EmbodexError

    from .errors import error_line

    if watch and at is not None:
        raise click.UsageError("--at cannot be combined with --watch (it polls in real time)")
    signer = load_signer_cli(key)
    out = Output(as_json)
    bars = out.bars()
    options: dict[str, Any] = {
        "workers": workers,
        "attempts": attempts,
        "wait": wait,
        "profile": qc_profile(profile_spec),
        "record": not no_ledger,
        "region": region,
        "on_batch": lambda n, total: bars.start(f"downloading batch {n}", total),
        "on_bytes": bars.add,
    }

    def show(report: Any) -> None:
        bars.close()
        out.result(report, text=lambda r: pull_lines(r, url, contract))

    if not watch:
        with bars:
            report = sdk_pull(url, contract, signer, into, now=at, **options)
        show(report)
        return

    def error(exc: Exception) -> None:
        bars.close()
        text = error_line(exc) if isinstance(exc, EmbodexError) else str(exc)
        click.echo(f"warning: {text} (retrying in {interval})", err=True)

    try:
        sdk_watch(
            url, contract, signer, into, interval=interval.total_seconds(), polls=polls,
            on_report=show, on_error=error, **options,
        )  # fmt: skip
    except KeyboardInterrupt:
        bars.close()
        click.echo("stopped watching", err=True)
