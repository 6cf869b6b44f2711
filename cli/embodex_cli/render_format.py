"""Text rendering of dataset results (synth, package, inspect, verify, trim, export) for
people; scripts use --json, which prints the same models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from embodex.units import count, duration, unit_for

from .output import err
from .render import fmt_bytes, table

if TYPE_CHECKING:
    from embodex.demo.sample import SynthResult
    from embodex.format import TrimResult
    from embodex.format.exporters.common import ExportReport
    from embodex.format.importers.common import ImportReport
    from embodex.format.summary import DatasetSummary
    from embodex.format.transcode import TranscodeResult
    from embodex.format.verify import VerifyReport

__all__ = [
    "export_lines",
    "inspect_lines",
    "package_lines",
    "synth_lines",
    "transcode_lines",
    "trim_lines",
    "verify_lines",
]


def synth_lines(r: SynthResult, out: Path, *, append: bool) -> Iterator[str]:
    total = f"; {count(r.in_dataset or 0, 'episode')} in it now" if append else ""
    yield f"wrote {count(r.episodes, 'episode')} to {out} ({r.layout} layout{total})"


def package_lines(r: ImportReport, out: Path) -> Iterator[str]:
    yield f"packaged {count(r.episodes, 'episode')} ({count(r.frames, 'frame')}) into {out}"
    if r.reused:
        yield f"  {count(r.reused, 'episode')} staged by an interrupted run, reused as staged"
    for note in r.notes:
        yield err(f"note: {note}")
    for episode, reason in r.skipped:
        yield err(f"skipped {episode}: {reason}")


def inspect_lines(s: DatasetSummary) -> Iterator[str]:
    rate = "n/a" if s.success_rate is None else f"{s.success_rate:.0%}"
    u = unit_for([s.hours])  # one unit for every duration of the view
    yield f"{s.name}  ({s.path})"
    yield f"  licence {s.licence} · centre {s.centre} · format {s.format_version}"
    yield (
        f"  {count(s.episodes, 'episode')} · {count(s.frames, 'frame')} · "
        f"{duration(s.hours, u)} · {s.fps:g} fps · success {rate} · "
        f"{count(s.operators, 'operator')}"
    )
    yield f"  {fmt_bytes(s.size_bytes)} in {count(s.shards, 'shard')} · digest {s.digest}"
    if s.recorded_from:
        yield f"  recorded {s.recorded_from} .. {s.recorded_to}"
    yield ""
    yield table(
        ["scene type", "episodes", "recorded"],
        [[k, v["episodes"], duration(v["hours"], u)] for k, v in s.by_scene_type.items()],
    )
    yield ""
    yield table(
        ["skill", "episodes", "recorded"],
        [[k, v["episodes"], duration(v["hours"], u)] for k, v in s.by_skill.items()],
    )
    yield ""
    skills = sorted(s.by_skill)
    yield "time recorded by scene type (rows) and skill (columns)"
    yield table(
        ["scene type", *skills],
        [
            [scene, *(duration(cells.get(k, 0.0), u) for k in skills)]
            for scene, cells in s.hours_by_scene_and_skill.items()
        ],
    )
    yield ""
    yield table(
        ["camera", "kind", "size", "encoding", "calibrated"],
        [
            [
                c["name"],
                c["kind"],
                f"{c['width']}x{c['height']}",
                c["encoding"] + (" video" if c["storage"] == "video" else ""),
                "yes" if c["calibrated"] else "no",
            ]
            for c in s.cameras
        ],
    )
    if s.episode_list is not None:
        yield ""
        yield table(
            ["episode", "scene type", "skill", "frames", "seconds", "success"],
            [
                [
                    r["episode_id"],
                    r["scene_type"],
                    r["skill"],
                    r["frame_count"],
                    f"{r['duration_s']:.1f}",
                    r["success"],
                ]
                for r in s.episode_list
            ],
        )


def verify_lines(r: VerifyReport) -> Iterator[str]:
    for note in r.notes:
        yield err(f"note: {note}")
    if r.ok:
        yield (
            f"ok: {count(r.episodes, 'episode')}, {r.frames:,} frames, "
            f"{r.files} files ({fmt_bytes(r.bytes)}) match {r.digest}"
        )
        return
    for problem in r.problems:
        yield err(f"problem: {problem}")
    if r.damaged_episodes:
        yield err(f"damaged episodes ({len(r.damaged_episodes)}): " + ", ".join(r.damaged_episodes))


def trim_lines(r: TrimResult, out: Path) -> Iterator[str]:
    yield (
        f"wrote {count(len(r.dataset), 'episode')} to {out}: "
        f"{count(len(r.trimmed), 'episode')} trimmed, "
        f"{r.frames_before - r.frames_after:,} of {r.frames_before:,} frames cut"
    )
    if r.trimmed:
        yield table(
            ["episode", "kept", "of", "cut", "reason"],
            [
                [eid, f"{t.kept[0]}:{t.kept[1]}", t.original_frames, t.removed, t.reason]
                for eid, t in r.trimmed.items()
            ],
        )


def export_lines(r: ExportReport, what: str) -> Iterator[str]:
    yield (
        f"exported {count(r.episodes, 'episode')} ({r.frames:,} frames) to "
        f"{r.path} as {what}: {r.files} files, {fmt_bytes(r.bytes)}"
    )
    if r.url is not None:
        yield f"pushed to {r.url}"
    for note in r.notes:
        yield err(f"note: {note}")


def transcode_lines(r: TranscodeResult, out: Path) -> Iterator[str]:
    yield (
        f"wrote {count(len(r.dataset), 'episode')} to {out}: "
        f"{fmt_bytes(r.bytes_before)} -> {fmt_bytes(r.bytes_after)}"
    )
    for name, change in r.cameras.items():
        yield f"  {name}: {change}"
    if not r.cameras:
        yield "  no camera needed converting (copied as stored)"
