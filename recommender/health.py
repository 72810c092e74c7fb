"""The /healthz endpoint that load balancers and uptime checks poll."""

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone

from .models import ModelRun


def cache_status():
    """'ok', or the cache's error in a line. The site works without its cache, so this never fails the check."""
    try:
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            # django-redis hides errors from get/set (IGNORE_EXCEPTIONS); ask the server directly.
            client.get_client(write=True).ping()
        else:
            cache.set("healthz", 1, 10)
            if cache.get("healthz") != 1:
                return "error: the cache did not keep a value"
    except Exception as error:  # any client failure is the answer here, not a 500
        return f"error: {type(error).__name__}: {error}"[:200]
    return "ok"


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        run = ModelRun.objects.filter(is_active=True).only("pk", "finished").first()
    except DatabaseError:
        return JsonResponse({"database": "unavailable", "cache": cache_status(), "model": None}, status=503)
    model = None
    if run is not None:
        finished = run.finished
        model = {
            "run": run.pk,
            "trained_at": finished.isoformat() if finished else None,
            "age_seconds": round((timezone.now() - finished).total_seconds()) if finished else None,
        }
    return JsonResponse({"database": "ok", "cache": cache_status(), "model": model})
