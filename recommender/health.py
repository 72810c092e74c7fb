"""The /healthz endpoint that load balancers and uptime checks poll."""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone

from .models import ModelRun


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        run = ModelRun.objects.filter(is_active=True).only("pk", "finished").first()
    except DatabaseError:
        return JsonResponse({"database": "unavailable", "model": None}, status=503)
    model = None
    if run is not None:
        finished = run.finished
        model = {
            "run": run.pk,
            "trained_at": finished.isoformat() if finished else None,
            "age_seconds": round((timezone.now() - finished).total_seconds()) if finished else None,
        }
    return JsonResponse({"database": "ok", "model": model})
