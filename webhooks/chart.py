"""A small bar chart as inline SVG for the staff console: no script, no style attribute or
block (the CSP allows neither), presentation attributes only; `class`es let the page's own
stylesheet restyle it. Accessible (role="img", a <title> and a <desc> with the numbers) and
scaled to its container's width by its viewBox."""

from __future__ import annotations

import hashlib
import math

from markupsafe import Markup

WIDTH_PER_BAR = 20  # viewBox units per bar (the chart is scaled to its container)
MIN_WIDTH = 320  # about a phone's width in CSS pixels: text stays near its size there
FONT = 12  # viewBox units
LABEL_ROOM = 40  # viewBox units each shown label has at least (the others are left out)
PLOT_HEIGHT = 160  # viewBox units of the tallest bar
TOP = 24  # room above the tallest bar for its number
BOTTOM = 28  # room below the bars for their labels
BAR_SHARE = 0.7  # of each bar's slot, the rest is the gap
BAR_FILL = "#2b6cb0"
TEXT_FILL = "#1a202c"


def bar_chart_svg(labels: list[str], values: list[int], title: str) -> Markup:
    """An inline SVG bar chart of `values` under `labels`, titled `title` (every text escaped)."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    values = [max(0, int(v)) for v in values]
    count = len(values)
    width = max(MIN_WIDTH, WIDTH_PER_BAR * count)
    height = TOP + PLOT_HEIGHT + BOTTOM
    slot = width / count if count else width
    tallest = max(values, default=0)
    font = FONT
    every = max(1, math.ceil(LABEL_ROOM / slot)) if count else 1
    key = hashlib.sha256(repr((title, labels, values)).encode()).hexdigest()[:10]
    title_id, desc_id = f"chart-{key}-title", f"chart-{key}-desc"
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            'viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMid meet" '
            'aria-labelledby="{t} {d}">'
        ).format(w=width, h=height, t=title_id, d=desc_id),
        Markup('<title id="{}">{}</title>').format(title_id, title),
        Markup('<desc id="{}">{}</desc>').format(desc_id, describe(labels, values)),
        Markup(
            '<line class="chart-axis" x1="0" y1="{y}" x2="{w}" y2="{y}" stroke="{c}" '
            'stroke-width="1"/>'
        ).format(y=TOP + PLOT_HEIGHT, w=width, c=TEXT_FILL),
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = round(PLOT_HEIGHT * value / tallest, 2) if tallest else 0.0
        middle = round(slot * (index + 0.5), 2)
        text = dict(m=middle, f=font, tf=TEXT_FILL, label=label, value=value)
        parts.append(
            Markup(
                '<g class="chart-bar"><rect class="bar" x="{x}" y="{y}" width="{bw}" '
                'height="{bh}" fill="{fill}"><title>{label}: {value}</title></rect>'
            ).format(
                x=round(slot * index + slot * (1 - BAR_SHARE) / 2, 2),
                y=round(TOP + PLOT_HEIGHT - bar, 2),
                bw=round(slot * BAR_SHARE, 2),
                bh=bar,
                fill=BAR_FILL,
                label=label,
                value=value,
            )
        )
        if len(str(value)) * font * 0.6 <= slot:  # the number fits above its bar
            parts.append(
                Markup(
                    '<text class="chart-value" x="{m}" y="{y}" font-size="{f}" '
                    'text-anchor="middle" fill="{tf}">{value}</text>'
                ).format(y=round(TOP + PLOT_HEIGHT - bar - 4, 2), **text)
            )
        if index % every == 0:
            text["label"] = _fitted(label, int(slot * every / (font * 0.6)))
            parts.append(
                Markup(
                    '<text class="chart-label" x="{m}" y="{y}" font-size="{f}" '
                    'text-anchor="middle" fill="{tf}">{label}</text>'
                ).format(y=TOP + PLOT_HEIGHT + font + 6, **text)
            )
        parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _fitted(label: str, room: int) -> str:
    """A label cut to `room` characters (its whole text is in the bar's title and the desc)."""
    label = str(label)
    return label if len(label) <= room else label[: max(1, room - 1)] + "…"


def describe(labels: list[str], values: list[int]) -> str:
    """The chart's numbers as a sentence, for screen readers (plain text, escaped by the caller)."""
    if not values:
        return "No data."
    listed = "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    if not any(values):
        return f"All zero. {listed}."
    return f"{listed}."


__all__ = ["bar_chart_svg", "describe"]
