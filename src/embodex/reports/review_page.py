"""The page a reviewer opens for one episode (``embodex review next``): summary, findings,
joint plots, frame strips and the decision to record."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ..format import open_dataset
from ..fsutil import atomic_write_bytes
from ..qc.manifest import load_findings, load_qc_manifest
from ..qc.reviewlog import REASONS
from ..units import count, duration
from .htmlkit import badge, episode_section, page, table

__all__ = ["write_review_page"]


def write_review_page(dataset: str | Path, episode_id: str, out_dir: str | Path) -> Path:
    """Write ``review-<episode>.html``: summary, findings, joint plots and frame strips.

    Returns the file's path.
    """
    root = Path(dataset)
    manifest = load_qc_manifest(root)
    ev = manifest.episode(episode_id)
    ds = open_dataset(root)
    view = ds.episode(episode_id)
    findings = [
        f for f in load_findings(root, manifest).to_pylist() if f["episode_id"] == episode_id
    ]
    m = view.meta
    facts = [
        ("scene", f"{m.scene_type or '—'} ({m.scene_id or '—'})"),
        ("skill", m.skill),
        ("instruction", m.instruction_en or m.instruction_zh),
        ("operator", f"{m.operator_id or '—'} (level {m.operator_level or '—'})"),
        ("robot", f"{m.robot_model or '—'} {m.robot_serial or ''}"),
        ("frames", f"{count(view.frame_count, 'frame')} ({duration(view.duration_s / 3600, 's')})"),
        ("success label", m.success),
        ("segments", ", ".join(f"{s.skill} [{s.start_frame}, {s.end_frame})" for s in m.segments)),
    ]
    review = (
        f"reviewed: {ev.review.verdict} ({ev.review.reason}) by {ev.review.reviewer}"
        if ev.review
        else "not reviewed yet"
    )
    header = (
        f"<h2>{escape(episode_id)} {badge(ev.auto_verdict)} → {badge(ev.verdict)}</h2>"
        f'<p class="meta">{escape(review)}</p>' + table(["", ""], facts)
    )
    reasons = table(
        ["reason code", "verdict", "meaning"],
        [(code, "/".join(v), text) for code, (v, text) in REASONS.items()],
    )
    cmd = (
        f"embodex review set {root} {episode_id} --verdict accept|reject --reason CODE "
        "--reviewer YOUR-ID [--note TEXT]"
    )
    body = (
        f"<h1>Review: {escape(ds.meta.name)}</h1>"
        f'<p class="meta">dataset {escape(manifest.dataset_digest)} · QC profile '
        f"{escape(manifest.profile.id)} v{manifest.profile.version} · page written "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"
        + episode_section(ds, episode_id, findings, header, strip_frames=10)
        + f"<h2>Record the decision</h2><p><code>{escape(cmd)}</code></p>"
        + reasons
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in episode_id)
    path = out / f"review-{safe}.html"
    atomic_write_bytes(path, page(f"Review {episode_id}", body).encode("utf-8"), mode=0o644)
    return path
