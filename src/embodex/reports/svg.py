"""Small hand-rolled SVG charts for self-contained HTML pages (no network, no plotting
library): horizontal stacked bars, a stacked histogram and line plots."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["VERDICT_COLOURS", "hbar_chart", "histogram", "line_chart"]

VERDICT_COLOURS = {"PASS": "#2e7d32", "WARN": "#f9a825", "FAIL": "#c62828"}
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> str:
    """Colour swatches with labels in a row starting at (x, baseline y)."""
    out = []
    for label, colour in items:
        out.append(f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16:.0f}" y="{y:.0f}">{escape(label)}</text>')
        x += 24 + 8 * len(label)
    return "".join(out)


def hbar_chart(
    title: str,
    categories: Sequence[str],
    stacks: Sequence[tuple[str, str, Sequence[float]]],
    *,
    unit: str = "",
    width: int = 640,
) -> str:
    """Horizontal stacked bars: one row per category, ``stacks`` = (label, colour, values)."""
    row_h, label_w, top = 22, 170, 34
    height = top + row_h * max(len(categories), 1) + 34
    totals = [sum(s[2][i] for s in stacks) for i in range(len(categories))]
    top_value = max(totals, default=0.0) or 1.0
    plot_w = width - label_w - 70
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="600" font-size="14">{escape(title)}</text>',
    ]
    for i, cat in enumerate(categories):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(cat[:28])}</text>'
        )
        x = float(label_w)
        for label, colour, values in stacks:
            w = plot_w * values[i] / top_value
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                    f'fill="{colour}"><title>{escape(cat)}: {escape(label)} '
                    f"{_fmt(values[i])} {escape(unit)}</title></rect>"
                )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 15}" fill="#444">'
            f"{_fmt(totals[i])} {escape(unit)}</text>"
        )
    parts.append(
        _legend([(s[0], s[1]) for s in stacks], label_w, top + row_h * len(categories) + 20)
    )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    title: str,
    groups: Sequence[tuple[str, str, Sequence[float]]],
    *,
    bins: int = 20,
    unit: str = "",
    width: int = 640,
    height: int = 240,
) -> str:
    """A stacked histogram of the values of several groups (label, colour, values)."""
    everything = np.concatenate([np.asarray(g[2], dtype=float) for g in groups] or [np.zeros(0)])
    everything = everything[np.isfinite(everything)]
    left, bottom, top, right = 46, height - 34, 28, 12
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="600" font-size="14">{escape(title)}</text>',
    ]
    if everything.size == 0:
        parts.append('<text x="50" y="80">no data</text></svg>')
        return "".join(parts)
    lo, hi = float(everything.min()), float(everything.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    counts = [np.histogram(np.asarray(g[2], dtype=float), bins=edges)[0] for g in groups]
    peak = max(int(np.sum(counts, axis=0).max()), 1)
    plot_w, plot_h = width - left - right, bottom - top
    bw = plot_w / bins
    for b in range(bins):
        y = float(bottom)
        for (label, colour, _), c in zip(groups, counts, strict=True):
            h = plot_h * c[b] / peak
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{left + b * bw + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {int(c[b])} in '
                    f"{_fmt(edges[b])}–{_fmt(edges[b + 1])} {escape(unit)}</title></rect>"
                )
    parts.append(
        f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="#888"/>'
    )
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * plot_w
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{_fmt(lo + frac * (hi - lo))} {escape(unit)}</text>"
        )
    parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{peak}</text>')
    items = [(g[0], g[1]) for g in groups]
    parts.append(_legend(items, width - right - sum(24 + 8 * len(g[0]) for g in groups), 16))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    x: np.ndarray,
    series: Sequence[tuple[str, np.ndarray]],
    *,
    shade: Sequence[tuple[float, float, str]] = (),
    x_label: str = "s",
    width: int = 640,
    height: int = 200,
    max_points: int = 400,
) -> str:
    """Lines over a shared x axis; ``shade`` marks x ranges (start, end, colour)."""
    left, right, top, bottom = 50, 110, 26, height - 28
    plot_w, plot_h = width - left - right, bottom - top
    x = np.asarray(x, dtype=float)
    step = max(1, int(np.ceil(len(x) / max_points)))
    xs = x[::step]
    ys = [(name, np.asarray(v, dtype=float)[::step]) for name, v in series]
    finite = np.concatenate([v[np.isfinite(v)] for _, v in ys] or [np.zeros(1)])
    y_lo, y_hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if y_hi <= y_lo:
        y_hi = y_lo + 1.0
    x_lo, x_hi = (float(xs.min()), float(xs.max())) if xs.size else (0.0, 1.0)
    if x_hi <= x_lo:
        x_hi = x_lo + 1.0

    def px(v: float) -> float:
        return left + plot_w * (v - x_lo) / (x_hi - x_lo)

    def py(v: float) -> float:
        return bottom - plot_h * (v - y_lo) / (y_hi - y_lo)

    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" font-weight="600" font-size="13">{escape(title)}</text>',
    ]
    for a, b, colour in shade:
        xa, xb = px(max(a, x_lo)), px(min(max(b, a), x_hi))
        parts.append(
            f'<rect x="{xa:.1f}" y="{top}" width="{max(xb - xa, 2):.1f}" height="{plot_h}" '
            f'fill="{colour}" opacity="0.25"/>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>'
    )
    for k, (name, v) in enumerate(ys):
        colour = _PALETTE[k % len(_PALETTE)]
        pts = " ".join(
            f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs, v, strict=False) if np.isfinite(b)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.3" points="{pts}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        ly = top + 12 + 13 * k
        if ly < bottom + 10:
            parts.append(
                f'<line x1="{width - right + 6}" y1="{ly - 4}" x2="{width - right + 18}" '
                f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>'
                f'<text x="{width - right + 22}" y="{ly}" font-size="10">{escape(name[:16])}</text>'
            )
    parts.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{_fmt(y_hi)}</text>')
    parts.append(f'<text x="{left - 4}" y="{bottom}" text-anchor="end">{_fmt(y_lo)}</text>')
    parts.append(f'<text x="{left}" y="{bottom + 16}">{_fmt(x_lo)} {escape(x_label)}</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{bottom + 16}" text-anchor="end">'
        f"{_fmt(x_hi)} {escape(x_label)}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
