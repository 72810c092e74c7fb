"""Server-side SVG charts, below every app: the admin's training curves and a reader's reading stats both draw here."""
