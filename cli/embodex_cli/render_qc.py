"""Text rendering of QC runs, episodes, profiles and reviews for people (scripts use --json).

Every figure comes from the SDK's result (``QCRunSummary``, ``EpisodeQC``, ``ReviewNext``…);
these functions only lay it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from embodex.units import count, duration

from .output import err
from .render import table

if TYPE_CHECKING:  # annotations only: the CLI starts without loading the SDK's layers
    from embodex.qc import Profile, QCRunSummary, ReviewNext, ReviewRecorded, Reviews
    from embodex.qc.manifest import EpisodeQC
    from embodex.reports.qc_page import QCReport
    from embodex.trust.reviews import ReviewLogCheck

__all__ = [
    "episode_lines",
    "profile_lines",
    "qc_report_lines",
    "qc_run_lines",
    "review_list_lines",
    "review_log_lines",
    "review_next_lines",
    "review_set_lines",
    "stale_lines",
]

#: At most this many flagged episodes in the text view (--json and the report list all).
FLAGGED_SHOWN = 20


def stale_lines(reason: str | None) -> Iterator[str]:
    """A stale QC manifest still shows what QC saw; say so on stderr, never silently."""
    if reason:
        yield err(f"warning: {reason} — run `embodex qc run DATASET` to check the current data")


def qc_run_lines(s: QCRunSummary) -> Iterator[str]:
    p = s.profile
    yield (
        f"QC of {s.dataset} with profile {p.id} v{p.version} ({p.digest[:19]}…): "
        f"{count(len(s.episodes), 'episode')}, {s.result.frames:,} frames in "
        f"{s.result.seconds:.1f} s"
    )
    yield ""
    counts, hours = s.counts, s.hours
    yield table(
        ["verdict", "episodes", "recorded", "share"],
        [
            [v, counts[v], duration(float(hours[v])), f"{100 * s.share(v):.1f}%"]
            for v in ("PASS", "WARN", "FAIL")
        ],
    )
    if s.top_failures:
        yield ""
        yield table(
            ["top failure", "episodes"], [[t["rule"], t["episodes"]] for t in s.top_failures]
        )
    if s.result.notes:
        yield ""
        yield "dataset notes (no verdict changes):"
        for n in s.result.notes:
            yield f"  {n.rule}: {n.message}"
    flagged = s.flagged
    if flagged:
        yield ""
        rows = [
            [f.episode_id, f.verdict, ", ".join(f.rules) or "review"]
            for f in flagged[:FLAGGED_SHOWN]
        ]
        yield table(["episode", "verdict", "rules"], rows)
        if len(flagged) > FLAGGED_SHOWN:
            yield f"… and {len(flagged) - FLAGGED_SHOWN} more (see --json or the report)"
    if s.written is not None:
        yield ""
        yield f"wrote {s.written}"


def qc_report_lines(r: QCReport) -> Iterator[str]:
    yield from stale_lines(r.stale)
    yield f"wrote {r.path} ({r.bytes / 1024:,.0f} KiB)"


def episode_lines(e: EpisodeQC) -> Iterator[str]:
    yield from stale_lines(e.stale)
    yield f"{e.episode_id}: {e.auto_verdict} (automatic) -> {e.verdict} (final)"
    yield (
        f"  {e.scene_type} · {e.skill} · operator {e.operator_id} · "
        f"robot {e.robot_model} · {e.seconds:.1f} s"
    )
    r = e.review
    if r:
        note = f" — {r.note}" if r.note else ""
        yield f"  review: {r.verdict} ({r.reason}) by {r.reviewer} at {r.at}{note}"
    else:
        yield "  review: none"
    if e.findings:
        from embodex.qc.findings import FRAMES_HEADING, frame_range

        yield ""
        yield table(
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
                for f in e.findings
            ],
        )
    else:
        yield "  no automatic findings"
    if e.metrics:
        yield ""
        yield table(["metric", "value"], [[k, f"{v:.4g}"] for k, v in sorted(e.metrics.items())])


def profile_lines(p: Profile) -> Iterator[str]:
    yield f"# digest: {p.digest}"
    yield p.to_yaml().removesuffix("\n")


def review_next_lines(n: ReviewNext) -> Iterator[str]:
    yield from stale_lines(n.stale)
    if n.item is None or n.episode is None:
        yield "nothing to review: every WARN and every sampled PASS has a decision"
        return
    item, e = n.item, n.episode
    yield (
        f"next: {item.episode_id} ({n.why_text}, operator {item.operator_id or '?'}; "
        f"{n.waiting} waiting)"
    )
    yield f"  {e.scene_type} · {e.skill} · robot {e.robot_model} · {e.seconds:.1f} s"
    for f in e.findings:
        yield f"  {f['severity'].upper()} {f['rule']}: {f['message']}"
    yield f"  page: {n.page}"
    yield (
        f"  decide: embodex review set {n.dataset} {item.episode_id} --verdict accept|reject "
        "--reason CODE --reviewer ID"
    )


def review_set_lines(r: ReviewRecorded) -> Iterator[str]:
    e = r.entry
    signed = f", signed {e.signature.keyid}" if e.signature else ""
    yield (
        f"recorded: {r.episode_id} {e.verdict} ({e.reason}) by {e.reviewer}{signed}; "
        f"{e.auto_verdict} -> {r.verdict}"
    )


def review_list_lines(r: Reviews) -> Iterator[str]:
    yield from stale_lines(r.stale)
    if r.entries:
        yield table(
            ["#", "episode", "verdict", "reason", "reviewer", "at", "note"],
            [
                [e.seq, e.episode_id, e.verdict, e.reason, e.reviewer, e.at, e.note or ""]
                for e in r.entries
            ],
        )
        yield ""
    st = r.status
    yield (
        f"{st['reviewed']} reviewed ({st['accepted']} accepted, {st['rejected']} rejected) · "
        f"{st['waiting']} waiting in the queue"
    )


def review_log_lines(check: ReviewLogCheck) -> Iterator[str]:
    yield table(
        ["#", "episode", "verdict", "reviewer", "signature"],
        [
            [
                c.entry.seq,
                c.entry.episode_id,
                c.entry.verdict,
                c.entry.reviewer,
                f"signed by {c.signer.name}" if c.signer else c.status,
            ]
            for c in check.reviews
        ],
    )
    yield (f"chain intact; {check.signed} of {len(check.reviews)} decisions signed by trusted keys")
