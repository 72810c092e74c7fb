"""The admin's chart of a run's training curves (loss, validation RMSE, recall@10), drawn by charts.svg."""

from django.utils.safestring import mark_safe

from catalog.svg_charts import Panel, line_panel, svg

PANEL_WIDTH, PANEL_HEIGHT = 300, 170
COLUMNS = 2

CURVES = [
    ("loss", "Training loss", "#7a2e1f", "{:.4f}"),
    ("val_rmse", "Validation RMSE", "#1f5a7a", "{:.4f}"),
    ("val_recall_at_10", "Validation recall@10", "#1e6b3a", "{:.3f}"),
]


def training_curves_svg(epochs):
    """One small chart per curve against the epoch, at most two side by side."""
    panels = []
    for key, title, colour, number_format in CURVES:
        points = [(row["epoch"], row[key]) for row in epochs or [] if row.get(key) is not None]
        if points:
            column, row = len(panels) % COLUMNS, len(panels) // COLUMNS
            place = Panel(column * PANEL_WIDTH, row * PANEL_HEIGHT, PANEL_WIDTH, PANEL_HEIGHT)
            panels.append(line_panel(title, points, colour, number_format, place))
    if not panels:
        return mark_safe('<p class="help">No epoch has been recorded for this run.</p>')
    # At most two panels side by side: the admin's read-only column is about 700 px wide.
    width = min(len(panels), COLUMNS) * PANEL_WIDTH
    height = -(-len(panels) // COLUMNS) * PANEL_HEIGHT
    return svg(width, height, "Training curves per epoch", "".join(panels))
