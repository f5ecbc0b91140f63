"""Small bar charts as inline SVG (no script, no style attribute: the CSP allows neither)."""

from __future__ import annotations

from markupsafe import escape

WIDTH, HEIGHT, TOP, BOTTOM = 480, 160, 14, 20


def bar_chart_svg(labels: list[str], values: list[int], title: str) -> str:
    """A bar chart of `values` under `labels`, titled `title`, as an <svg> element."""
    count = max(1, len(values))
    peak = max([*values, 1])
    slot = WIDTH / count
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        height = (HEIGHT - TOP - BOTTOM) * value / peak
        x = i * slot + slot * 0.1
        y = HEIGHT - BOTTOM - height
        bars.append(
            f"<g><title>{escape(label)}: {value}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" height="{height:.1f}" '
            f'fill="#2b6cb0"/>'
            + (
                f'<text x="{x + slot * 0.4:.1f}" y="{y - 2:.1f}" font-size="9" '
                f'text-anchor="middle">{value}</text>'
                if value
                else ""
            )
            + f'<text x="{x + slot * 0.4:.1f}" y="{HEIGHT - 6}" font-size="9" '
            f'text-anchor="middle">{escape(label)}</text></g>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>{''.join(bars)}</svg>"
    )
