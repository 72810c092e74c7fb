"""Server-side SVG charts of a run's training curves (no JavaScript, shown in the admin)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

PANEL_WIDTH, PANEL_HEIGHT = 300, 170
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 30
COLUMNS = 2

CURVES = [
    ("loss", "Training loss", "#7a2e1f", "{:.4f}"),
    ("val_rmse", "Validation RMSE", "#1f5a7a", "{:.4f}"),
    ("val_recall_at_10", "Validation recall@10", "#1e6b3a", "{:.3f}"),
]


def training_curves_svg(epochs):
    """One small chart per curve (loss, validation RMSE, recall@10) against the epoch, side by side."""
    panels = []
    for key, title, colour, number_format in CURVES:
        points = [(row["epoch"], row[key]) for row in epochs or [] if row.get(key) is not None]
        if points:
            column, row = len(panels) % COLUMNS, len(panels) // COLUMNS
            panels.append(_panel(title, points, colour, number_format, column * PANEL_WIDTH, row * PANEL_HEIGHT))
    if not panels:
        return mark_safe('<p class="help">No epoch has been recorded for this run.</p>')
    # At most two panels side by side: the admin's read-only column is about 700 px wide.
    width = min(len(panels), COLUMNS) * PANEL_WIDTH
    height = -(-len(panels) // COLUMNS) * PANEL_HEIGHT
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="Training curves per epoch" font-family="sans-serif" font-size="11">{}</svg>',
        width,
        height,
        width,
        height,
        mark_safe("".join(panels)),
    )


def _panel(title, points, colour, number_format, offset, top_offset):
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if y_high - y_low < 1e-12:
        y_low, y_high = y_low - 0.5 * (abs(y_low) or 1) * 0.1, y_high + 0.5 * (abs(y_high) or 1) * 0.1
    plot_w = PANEL_WIDTH - LEFT - RIGHT
    plot_h = PANEL_HEIGHT - TOP - BOTTOM

    def sx(x):
        return offset + LEFT + (plot_w * (x - x_low) / (x_high - x_low) if x_high > x_low else plot_w / 2)

    def sy(y):
        return top_offset + TOP + plot_h * (1 - (y - y_low) / (y_high - y_low))

    coordinates = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    y_ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e4dccf"/>'
        '<text x="{}" y="{}" text-anchor="end" fill="#5d554b">{}</text>',
        (
            (offset + LEFT, offset + LEFT + plot_w, f"{sy(v):.1f}", f"{sy(v):.1f}", offset + LEFT - 4,
             f"{sy(v) + 4:.1f}", number_format.format(v))
            for v in (y_low, (y_low + y_high) / 2, y_high)
        ),
    )
    step = max(1, round((x_high - x_low) / 8)) if x_high > x_low else 1
    x_ticks = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" fill="#5d554b">{}</text>',
        ((f"{sx(x):.1f}", top_offset + TOP + plot_h + 14, x) for x in range(int(x_low), int(x_high) + 1, step)),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>epoch {}: {}</title></circle>',
        ((f"{sx(x):.1f}", f"{sy(y):.1f}", colour, x, number_format.format(y)) for x, y in points),
    )
    return format_html(
        '<g><text x="{}" y="{}" font-weight="bold" fill="#1f1b16">{}</text>{}{}'
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}'
        '<text x="{}" y="{}" text-anchor="middle" fill="#5d554b">epoch</text></g>',
        offset + LEFT,
        top_offset + 16,
        title,
        y_ticks,
        x_ticks,
        coordinates,
        colour,
        dots,
        offset + LEFT + plot_w / 2,
        top_offset + PANEL_HEIGHT - 2,
    )
