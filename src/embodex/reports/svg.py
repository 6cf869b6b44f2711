"""Small hand-rolled SVG charts for self-contained HTML pages (no network, no plotting
library): horizontal stacked bars, grouped bars, a stacked histogram and line plots.

Every chart has a ``<title>``, a visible heading, and axis labels that name their unit
(``class="axis-label"``); its margins are sized from the longest label it draws (at an
estimated 7 px per character of 12 px text), so labels and legends stay inside the
``viewBox``. A chart with nothing to draw is not drawn: :func:`empty_chart` says so in words
instead (``no findings``), keeping the title.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from ..units import figure

__all__ = [
    "VERDICT_COLOURS",
    "empty_chart",
    "grouped_bar_chart",
    "hbar_chart",
    "histogram",
    "line_chart",
]

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
_CHAR = 7.2  # estimated width of a character of 12 px text (generous, so nothing clips)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _w(text: str, size: float = 12) -> float:
    """Estimated drawn width of ``text`` at ``size`` px."""
    return len(text) * _CHAR * size / 12


def _clip(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` px (the full text stays in a tooltip)."""
    fit = max(int(width / _CHAR), 4)
    return text if len(text) <= fit else text[: fit - 1] + "…"


def _head(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="600" font-size="14">{escape(_clip(title, width))}</text>',
    ]


def _axis_label(
    text: str, x: float, y: float, *, anchor: str = "middle", rotate: bool = False
) -> str:
    turn = f' transform="rotate(-90 {x:.0f} {y:.0f})"' if rotate else ""
    return (
        f'<text class="axis-label" x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" '
        f'fill="#444"{turn}>{escape(text)}</text>'
    )


def _legend_rows(items: Sequence[tuple[str, str]], width: float) -> list[list[tuple[str, str]]]:
    """The legend's items wrapped into rows that fit ``width``."""
    rows: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    for label, colour in items:
        need = 24 + _w(label)
        if rows[-1] and used + need > width:
            rows.append([])
            used = 0.0
        rows[-1].append((label, colour))
        used += need
    return rows


def _legend(rows: Sequence[Sequence[tuple[str, str]]], x0: float, y: float) -> str:
    """Colour swatches with labels, row by row from (x0, baseline y)."""
    out = ['<g class="legend">']
    for row in rows:
        x = x0
        for label, colour in row:
            out.append(
                f'<rect x="{x:.0f}" y="{y - 10:.0f}" width="12" height="12" fill="{colour}"/>'
            )
            out.append(f'<text x="{x + 16:.0f}" y="{y:.0f}">{escape(label)}</text>')
            x += 24 + _w(label)
        y += 18
    out.append("</g>")
    return "".join(out)


def empty_chart(title: str, message: str = "no findings") -> str:
    """What a chart with nothing to draw shows instead: its title and ``message``."""
    return (
        f'<div class="empty-chart"><b>{escape(title)}</b>'
        f'<span class="meta"> — {escape(message)}</span></div>'
    )


def hbar_chart(
    title: str,
    categories: Sequence[str],
    stacks: Sequence[tuple[str, str, Sequence[float]]],
    *,
    unit: str = "",
    axis: str | None = None,
    width: int = 640,
    empty: str = "no findings",
) -> str:
    """Horizontal stacked bars: one row per category, ``stacks`` = (label, colour, values).

    ``axis`` names the value axis (default: ``unit``); with no category or only zeros the
    chart is replaced by ``empty`` in words."""
    totals = [sum(s[2][i] for s in stacks) for i in range(len(categories))]
    if not categories or not any(t > 0 for t in totals):
        return empty_chart(title, empty)
    row_h, top = 22, 34
    label_w = min(max(_w(c) for c in categories) + 12, width * 0.35)
    ends = [figure(t, unit) for t in totals]
    right = max(_w(e) for e in ends) + 12
    plot_w = width - label_w - right
    legend = _legend_rows([(s[0], s[1]) for s in stacks], width - 8)
    bars_end = top + row_h * len(categories)
    height = int(bars_end + 36 + 18 * len(legend))
    top_value = max(totals)
    parts = _head(title, width, height)
    for i, cat in enumerate(categories):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6:.0f}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(cat)}</title>{escape(_clip(cat, label_w - 8))}</text>"
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
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}" fill="#444">{escape(ends[i])}</text>')
    parts.append(
        f'<line x1="{label_w:.0f}" y1="{bars_end + 2}" x2="{label_w + plot_w:.0f}" '
        f'y2="{bars_end + 2}" stroke="#888"/>'
    )
    parts.append(
        f'<text x="{label_w:.0f}" y="{bars_end + 15}" text-anchor="middle" fill="#444">0</text>'
        f'<text x="{label_w + plot_w:.0f}" y="{bars_end + 15}" text-anchor="end" fill="#444">'
        f"{escape(figure(top_value, unit))}</text>"
    )
    parts.append(_axis_label(axis or f"({unit})", label_w + plot_w / 2, bars_end + 28))
    parts.append(_legend(legend, 4, bars_end + 50))
    parts.append("</svg>")
    return "".join(parts)


def grouped_bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float], str]],
    *,
    width: int = 640,
    empty: str = "nothing to show",
) -> str:
    """Horizontal bars side by side, one per series, each on its own scale and with its own
    unit (``series`` = (label, colour, values, unit)): figures of different kinds — stock in
    hours, capacity in hours per week — shown apart, never stacked into one sum."""
    if not categories or not any(v > 0 for s in series for v in s[2]):
        return empty_chart(title, empty)
    bar_h, gap, top = 12, 10, 34
    row_h = bar_h * len(series) + gap
    label_w = min(max(_w(c) for c in categories) + 12, width * 0.35)
    ends = [[figure(v, s[3]) for v in s[2]] for s in series]
    right = max(_w(e) for row in ends for e in row) + 12
    plot_w = width - label_w - right
    legend = _legend_rows([(f"{s[0]} ({s[3]})", s[1]) for s in series], width - 8)
    bars_end = top + row_h * len(categories)
    height = int(bars_end + 40 + 18 * len(legend))
    parts = _head(title, width, height)
    peaks = [max(s[2], default=0.0) or 1.0 for s in series]
    for i, cat in enumerate(categories):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6:.0f}" y="{y + row_h / 2 + 2:.0f}" text-anchor="end">'
            f"<title>{escape(cat)}</title>{escape(_clip(cat, label_w - 8))}</text>"
        )
        for k, (label, colour, values, unit) in enumerate(series):
            by = y + k * bar_h
            w = plot_w * values[i] / peaks[k]
            parts.append(
                f'<rect x="{label_w:.1f}" y="{by}" width="{max(w, 0):.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{escape(cat)}: {escape(label)} {_fmt(values[i])} '
                f"{escape(unit)}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 3}" font-size="10" '
                f'fill="#444">{escape(ends[k][i])}</text>'
            )
    scales = ", ".join(f"{s[0]} ({s[3]})" for s in series)
    axis = scales if len(series) == 1 else f"each to its own scale: {scales}"
    parts.append(_axis_label(_clip(axis, width - 8), width / 2, bars_end + 14))
    parts.append(_legend(legend, 4, bars_end + 36))
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    title: str,
    groups: Sequence[tuple[str, str, Sequence[float]]],
    *,
    bins: int = 20,
    unit: str = "",
    x_label: str | None = None,
    y_label: str = "episodes",
    width: int = 640,
    height: int = 260,
    empty: str = "no data",
) -> str:
    """A stacked histogram of the values of several groups (label, colour, values).
    ``x_label`` names the value axis (default: ``unit``), ``y_label`` what is counted."""
    everything = np.concatenate([np.asarray(g[2], dtype=float) for g in groups] or [np.zeros(0)])
    everything = everything[np.isfinite(everything)]
    if everything.size == 0:
        return empty_chart(title, empty)
    legend = _legend_rows([(g[0], g[1]) for g in groups], width - 8)
    left, right = 58, 16
    top = 30 + 18 * len(legend)
    bottom = height - 40
    parts = _head(title, width, height)
    parts.append(_legend(legend, 4, 40))
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
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>'
    )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = left + frac * plot_w
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="{anchor}">'
            f"{_fmt(lo + frac * (hi - lo))}</text>"
        )
    parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>')
    parts.append(_axis_label(x_label or f"({unit})", left + plot_w / 2, bottom + 32))
    parts.append(_axis_label(_clip(y_label, plot_h + 24), 14, top + plot_h / 2, rotate=True))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    x: np.ndarray,
    series: Sequence[tuple[str, np.ndarray]],
    *,
    shade: Sequence[tuple[float, float, str]] = (),
    x_label: str = "time (s)",
    y_label: str = "value",
    width: int = 640,
    height: int = 210,
    max_points: int = 400,
) -> str:
    """Lines over a shared x axis; ``shade`` marks x ranges (start, end, colour). The axis
    labels should name their units (``time (s)``, ``position (rad)``)."""
    names = [name for name, _ in series]
    right = max((_w(n, 10) for n in names), default=0) + 32
    right = min(right, width * 0.35)
    left, top, bottom = 62, 26, height - 40
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

    parts = _head(title, width, height)
    for a, b, colour in shade:
        xa, xb = px(max(a, x_lo)), px(min(max(b, a), x_hi))
        parts.append(
            f'<rect x="{xa:.1f}" y="{top}" width="{max(xb - xa, 2):.1f}" height="{plot_h}" '
            f'fill="{colour}" opacity="0.25"/>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>'
    )
    fit = right - 24
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
                f'<text x="{width - right + 22}" y="{ly}" font-size="10">'
                f"{escape(_clip(name, fit * 12 / 10))}</text>"
            )
    parts.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{_fmt(y_hi)}</text>')
    parts.append(f'<text x="{left - 4}" y="{bottom}" text-anchor="end">{_fmt(y_lo)}</text>')
    parts.append(f'<text x="{left}" y="{bottom + 15}">{_fmt(x_lo)}</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{bottom + 15}" text-anchor="end">{_fmt(x_hi)}</text>'
    )
    parts.append(_axis_label(x_label, left + plot_w / 2, bottom + 32))
    parts.append(_axis_label(_clip(y_label, plot_h + 24), 14, top + plot_h / 2, rotate=True))
    parts.append("</svg>")
    return "".join(parts)
