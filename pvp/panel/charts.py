"""Charts as inline SVG drawn on the server: no script, no CDN (the kiosks' network has none)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 40


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    stacked: bool = True,
    unit: str = "",
) -> Markup:
    """Bars per category; ``series`` is (label, colour, values). Stacked or side by side."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(categories), 1)
    if stacked:
        peak = max(
            (sum(v[i] or 0 for _l, _c, v in series) for i in range(len(categories))), default=0
        )
    else:
        peak = max((x or 0 for _l, _c, v in series for x in v), default=0)
    top = _nice_max(float(peak))
    slot = plot_w / n
    bar_w = slot * 0.7 / (1 if stacked else max(len(series), 1))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):  # grid and scale
        value = top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#d5dbe1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{value:g}{escape(unit)}</text>"
        )
    for i, category in enumerate(categories):
        x0 = LEFT + slot * i + slot * 0.15
        base = 0.0
        for j, (label, colour, values) in enumerate(series):
            value = values[i] or 0
            h = plot_h * value / top
            if stacked:
                x, y = x0, TOP + plot_h - plot_h * base / top - h
                base += value
            else:
                x, y = x0 + bar_w * j, TOP + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(category)} – {escape(label)} : '
                f"{value:g}{escape(unit)}</title></rect>"
            )
        parts.append(
            f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'font-size="11" text-anchor="middle">{escape(category)}</text>'
        )
    for j, (label, colour, _values) in enumerate(series):  # legend
        y = TOP + 18 * j
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{y}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 30}" y="{y + 10}" font-size="12">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
