"""SVG charts drawn on the server as safe HTML: line panels and horizontal bar charts, no JavaScript.

Every piece of text (titles, labels, values) goes through format_html, so a genre or author name can
never inject markup. Charts only draw; the page that shows one also shows a table of the same numbers.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

INK, MUTED, GRID = "#1f1b16", "#5d554b", "#e4dccf"


def svg(width, height, label, body, font_size=11):
    """The <svg> element around drawn parts; ``label`` is what a screen reader announces for the picture."""
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}" font-family="sans-serif" font-size="{}">{}</svg>',
        width, height, width, height, label, font_size, mark_safe(body),
    )


class Panel:
    """Where one line chart sits inside a bigger SVG, and its margins."""

    def __init__(self, x=0, y=0, width=300, height=170, left=52, right=12, top=26, bottom=30):
        self.x, self.y, self.width, self.height = x, y, width, height
        self.left, self.right, self.top, self.bottom = left, right, top, bottom


def line_panel(title, points, colour, number_format, panel=None, x_label="epoch"):
    """One titled line chart of (x, y) points: three y grid lines, whole-number x ticks, a dot per point."""
    panel = panel or Panel()
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if y_high - y_low < 1e-12:  # a flat line still needs a scale
        y_low, y_high = y_low - 0.5 * (abs(y_low) or 1) * 0.1, y_high + 0.5 * (abs(y_high) or 1) * 0.1
    plot_w = panel.width - panel.left - panel.right
    plot_h = panel.height - panel.top - panel.bottom
    left = panel.x + panel.left
    top = panel.y + panel.top

    def sx(x):
        return left + (plot_w * (x - x_low) / (x_high - x_low) if x_high > x_low else plot_w / 2)

    def sy(y):
        return top + plot_h * (1 - (y - y_low) / (y_high - y_low))

    coordinates = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    y_ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/><text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>',
        (
            (left, left + plot_w, f"{sy(v):.1f}", f"{sy(v):.1f}", GRID, left - 4, f"{sy(v) + 4:.1f}", MUTED,
             number_format.format(v))
            for v in (y_low, (y_low + y_high) / 2, y_high)
        ),
    )
    step = max(1, round((x_high - x_low) / 8)) if x_high > x_low else 1
    x_ticks = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
        ((f"{sx(x):.1f}", top + plot_h + 14, MUTED, x) for x in range(int(x_low), int(x_high) + 1, step)),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{} {}: {}</title></circle>',
        ((f"{sx(x):.1f}", f"{sy(y):.1f}", colour, x_label, x, number_format.format(y)) for x, y in points),
    )
    return format_html(
        '<g><text x="{}" y="{}" font-weight="bold" fill="{}">{}</text>{}{}'
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}'
        '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text></g>',
        left, panel.y + 16, INK, title, y_ticks, x_ticks, coordinates, colour, dots,
        left + plot_w / 2, panel.y + panel.height - 2, MUTED, x_label,
    )


def bar_chart(bars, label, colour="#7a2e1f", value_format="{:,}", width=400, label_width=None, bar_height=20,
              gap=6, max_label_chars=18):
    """Horizontal bars, one per (label, value) in the given order, the largest value spanning the plot.

    Long labels are shortened on the picture (the full one is in each bar's tooltip and in the page's
    table); the label column is as wide as the longest label needs (about 7.5 units a character at
    the 13-unit font). Returns an empty string when there is nothing to draw.
    """
    bars = list(bars)
    if not bars:
        return ""
    if label_width is None:
        longest = max(min(len(str(name)), max_label_chars) for name, _ in bars)
        label_width = round(longest * 7.5) + 14
    largest = max(value for _, value in bars) or 1
    value_room = 56
    plot_w = width - label_width - value_room
    rows = []
    for index, (name, value) in enumerate(bars):
        y = index * (bar_height + gap)
        shown = str(name) if len(str(name)) <= max_label_chars else str(name)[: max_label_chars - 1] + "…"
        length = plot_w * value / largest
        rows.append(format_html(
            '<g><title>{}: {}</title>'
            '<text x="{}" y="{}" text-anchor="end" fill="{}">{}</text>'
            '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}"/>'
            '<text x="{}" y="{}" fill="{}">{}</text></g>',
            name, value_format.format(value),
            label_width - 8, f"{y + bar_height * 0.72:.1f}", INK, shown,
            label_width, y, f"{max(length, 1 if value else 0):.1f}", bar_height, colour,
            f"{label_width + length + 5:.1f}", f"{y + bar_height * 0.72:.1f}", MUTED, value_format.format(value),
        ))
    height = len(bars) * (bar_height + gap) - gap
    return svg(width, height, label, "".join(rows), font_size=13)
