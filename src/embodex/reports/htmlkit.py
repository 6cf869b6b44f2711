"""Building blocks of the self-contained HTML pages (QC report, review page): the page
shell, tables, verdict badges, frame strips (frames embedded as data URIs) and joint plots."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import numpy as np
from PIL import Image

from ..format import Dataset
from ..format.images import decode_image, encode_image
from ..qc.findings import FRAMES_HEADING, frame_range
from .svg import VERDICT_COLOURS, line_chart

__all__ = ["Raw", "badge", "episode_section", "frame_strip", "joint_plots", "page", "table"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;
 color:#222;padding:0 16px;background:#fff}
h1{font-size:24px;margin:0 0 4px} h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;
 padding-bottom:4px} h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555;font-size:13px;margin:2px 0}
code{font-size:12px;background:#f4f4f4;padding:1px 3px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px;max-width:100%;
 box-sizing:border-box;overflow-wrap:anywhere}
.card b{display:block;font-size:22px} .card span{color:#666;font-size:12px}
.card.alert{border-color:#c62828;background:#fdecea} .card.alert b{color:#b71c1c}
.card.ok{border-color:#2e7d32;background:#edf7ee}
.empty-chart{border:1px dashed #ccc;border-radius:6px;padding:10px 14px;margin:6px 0;
 font-size:13px;min-width:280px}
.chartbox{max-width:100%;overflow-x:auto}
.state{display:inline-block;border-radius:3px;padding:0 6px;font-size:11px;font-weight:600}
.tablewrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:left;vertical-align:top;
 overflow-wrap:break-word}
td code{word-break:break-all}
th{background:#f6f6f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:11px;
 font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:18px}
.strip{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0}
.strip figure{margin:0;text-align:center;font-size:10px;color:#555}
.strip img,.strip .bad{height:72px;display:block;border:1px solid #ccc}
.strip .bad{width:72px;background:#fde0e0;color:#a00;font-size:10px;display:flex;
 align-items:center;justify-content:center}
.episode{border:1px solid #e0e0e0;border-radius:6px;padding:8px 14px;margin:12px 0}
svg.chart{background:#fff;max-width:100%;height:auto}
"""

# Lets a headless browser (and the tests) see that every chart and frame rendered.
_SCRIPT = """
window.addEventListener('load',function(){var imgs=document.images,ok=0;
for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
var b=document.body;b.setAttribute('data-images-loaded',String(ok));
b.setAttribute('data-images',String(imgs.length));
b.setAttribute('data-charts',String(document.querySelectorAll('svg.chart').length));
b.setAttribute('data-rendered','yes');});
"""


class Raw(str):
    """Text that is already HTML (not escaped again by :func:`table`)."""


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "—"
    return escape(str(value))


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = ()
) -> str:
    """An HTML table; columns listed in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_cell(v)}</td>' if i in numeric else f"<td>{_cell(v)}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def badge(verdict: str) -> Raw:
    colour = VERDICT_COLOURS.get(verdict, "#555")
    return Raw(f'<span class="badge" style="background:{colour}">{escape(verdict)}</span>')


def page(title: str, body: str) -> str:
    """A complete HTML document: inline CSS and script, nothing fetched from anywhere."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _thumbnail(data: bytes | None, encoding: str) -> str:
    if data is None:
        return '<div class="bad">no image</div>'
    try:
        arr = decode_image(data, encoding)
    except Exception:  # a frame that does not decode is shown as such
        return '<div class="bad">undecodable</div>'
    if encoding == "jpeg":
        mime, payload = "image/jpeg", data
    else:
        if arr.dtype == np.uint16:
            lo, hi = float(arr.min()), float(arr.max())
            arr = ((arr.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1.0))).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        mime, payload = "image/png", buf.getvalue()
    b64 = base64.b64encode(payload).decode("ascii")
    return f'<img alt="frame" src="data:{mime};base64,{b64}">'


def frame_strip(ds: Dataset, episode_id: str, camera: str, frames: Sequence[int]) -> str:
    """Thumbnails of the chosen frames of one camera (stored bytes embedded as is)."""
    view = ds.episode(episode_id)
    seq = view.images(camera)
    n = len(seq)
    figures = []
    for i in sorted({min(max(int(f), 0), n - 1) for f in frames}) if n else []:
        if seq.is_video:  # a video camera: the frame decoded, shown as a JPEG
            thumb = _thumbnail(encode_image(seq[i], "jpeg"), "jpeg")
        else:
            thumb = _thumbnail(seq.encoded(i), seq.encoding)
        figures.append(f"<figure>{thumb}<figcaption>{i}</figcaption></figure>")
    return (
        f'<div><div class="meta">camera <b>{escape(camera)}</b>, frame numbers below</div>'
        f'<div class="strip">{"".join(figures)}</div></div>'
    )


def joint_plots(
    ds: Dataset,
    episode_id: str,
    marks: Sequence[tuple[int | None, int | None, str]] = (),
    *,
    width: int = 560,
) -> str:
    """State trajectories in groups of at most seven joints, finding frames shaded
    (``marks``: frame start, frame end, severity)."""
    view = ds.episode(episode_id)
    state_name = next((n for n, f in ds.meta.feature_items() if f.role == "state"), None)
    if state_name is None:
        return ""
    state = view.feature(state_name)
    unit = dict(ds.meta.feature_items())[state_name].unit
    ts = view.timestamp_ns
    t = (ts - ts[0]) * 1e-9 if len(ts) else np.zeros(0)
    names = list(ds.meta.embodiments[0].joint_names)
    if len(names) != state.shape[1]:
        names = [f"{state_name}[{j}]" for j in range(state.shape[1])]
    shade = []
    for a, b, sev in marks:
        if a is None or b is None or not len(t):
            continue
        a_i, b_i = min(max(a, 0), len(t) - 1), min(max(b - 1, 0), len(t) - 1)
        colour = VERDICT_COLOURS["FAIL" if sev == "fail" else "WARN"]
        shade.append((float(t[a_i]), float(t[b_i]) + 1.0 / ds.meta.fps, colour))
    groups = _joint_groups(names)
    charts = []
    for label, idx in groups:
        series = [(names[j], state[:, j]) for j in idx]
        charts.append(
            line_chart(
                f"{label} ({state_name})",
                t,
                series,
                shade=shade,
                width=width,
                height=210,
                x_label="time (s)",
                y_label=f"{state_name} ({unit or 'no unit declared'})",
            )
        )
    return f'<div class="grid">{"".join(charts)}</div>'


def _joint_groups(names: Sequence[str]) -> list[tuple[str, list[int]]]:
    left = [j for j, n in enumerate(names) if n.startswith("left_") and "gripper" not in n]
    right = [j for j, n in enumerate(names) if n.startswith("right_") and "gripper" not in n]
    rest = [j for j in range(len(names)) if j not in left and j not in right]
    out = []
    for label, idx in (("left arm", left), ("right arm", right), ("other joints", rest)):
        for k in range(0, len(idx), 7):
            out.append((label if k == 0 else f"{label} (cont.)", idx[k : k + 7]))
    return [g for g in out if g[1]]


def episode_section(
    ds: Dataset,
    episode_id: str,
    findings: Sequence[dict[str, Any]],
    header: str,
    *,
    strip_frames: int = 8,
) -> str:
    """One episode: a header, its findings, joint plots and a frame strip per camera."""
    view = ds.episode(episode_id)
    n = view.frame_count
    rows = [
        (
            badge("FAIL" if f["severity"] == "fail" else "WARN"),
            f["rule"],
            f["message"],
            _num(f["measured"]),
            _num(f["threshold"]),
            f["unit"],
            frame_range(f["frame_start"], f["frame_end"]),
        )
        for f in findings
    ]
    parts = [f'<div class="episode">{header}']
    if rows:
        parts.append(
            table(
                ["", "rule", "finding", "measured", "threshold", "unit", FRAMES_HEADING],
                rows,
                numeric=(3, 4),
            )
        )
    else:
        parts.append('<p class="meta">No automatic findings.</p>')
    marks = [(f["frame_start"], f["frame_end"], f["severity"]) for f in findings]
    parts.append(joint_plots(ds, episode_id, marks))
    chosen = set(np.rint(np.linspace(0, max(n - 1, 0), strip_frames)).astype(int).tolist())
    chosen.update(int(f["frame_start"]) for f in findings if f["frame_start"] is not None)
    picks = sorted(chosen)[: strip_frames + 4]
    for cam in ds.meta.cameras:
        parts.append(frame_strip(ds, episode_id, cam.name, picks))
    parts.append("</div>")
    return "".join(parts)


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    v = float(value)
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}"
