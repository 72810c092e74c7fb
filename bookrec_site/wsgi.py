"""WSGI entry point for gunicorn."""

import os

# Web requests do tiny matrix products; OpenBLAS threads only contend with the other workers
# for the cores (measured: p95 of For you 109–145 ms with threads, 54–66 ms without).
# Set before numpy is first imported. retrain runs through manage.py and keeps its threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
