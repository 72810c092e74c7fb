"""/healthz reports the active model's run and age, and null before any model is trained."""

from datetime import timedelta

from django.utils import timezone

from recommender.models import ModelRun


def test_no_model_yet_is_null(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "model": None}


def test_active_run_and_its_age(client, trained):
    run = ModelRun.objects.get(is_active=True)
    ModelRun.objects.filter(pk=run.pk).update(finished=timezone.now() - timedelta(hours=2))
    ModelRun.objects.create(status=ModelRun.Status.FAILED, finished=timezone.now())  # never reported
    body = client.get("/healthz").json()
    assert body["database"] == "ok"
    assert body["model"]["run"] == run.pk
    assert 7190 <= body["model"]["age_seconds"] <= 7260
