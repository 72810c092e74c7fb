"""Staff admin: the run list and run page with SVG curves, rollback, and rating moderation."""

import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Rating
from accounts.ratings import set_rating
from catalog.models import Book
from recommender.models import ModelArtifact, ModelRun

from .conftest import FAST_TRAINING

RUNS = reverse("admin:recommender_modelrun_changelist")
RATINGS = reverse("admin:accounts_rating_changelist")


def retrain(*args):
    call_command("retrain", *FAST_TRAINING, *args, stdout=io.StringIO())


def test_readers_cannot_see_runs(reader_client, db):
    assert reader_client.get(RUNS).status_code == 302


def test_run_list_shows_status_metrics_and_which_run_is_active(staff_client, trained):
    ModelRun.objects.create(status=ModelRun.Status.FAILED, error="boom")
    response = staff_client.get(RUNS)
    assert response.status_code == 200
    html = response.content.decode()
    run = ModelRun.objects.get(is_active=True)
    assert f"{run.metrics['val_rmse']:.4f}" in html
    assert "failed" in html.lower() and "succeeded" in html.lower()
    failed_only = staff_client.get(RUNS, {"status__exact": "failed"})
    assert list(failed_only.context["cl"].result_list) == [ModelRun.objects.get(status="failed")]


def test_run_page_draws_training_curves_as_inline_svg(staff_client, trained):
    run = ModelRun.objects.get()
    response = staff_client.get(reverse("admin:recommender_modelrun_change", args=[run.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and "<polyline" in html and "Training loss" in html
    assert html.count("<circle") >= len(run.epochs)
    assert "<script" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_run_page_with_no_epochs_says_so(staff_client, db):
    run = ModelRun.objects.create(status=ModelRun.Status.FAILED)
    response = staff_client.get(reverse("admin:recommender_modelrun_change", args=[run.pk]))
    assert "No epoch has been recorded" in response.content.decode()


def test_action_rolls_back_to_an_earlier_run(staff_client, trained):
    first = ModelRun.objects.get()
    retrain("--force")
    response = staff_client.post(
        RUNS, {"action": "activate_selected", ACTION_CHECKBOX_NAME: [first.pk]}, follow=True
    )
    assert f"Run #{first.pk} is now active" in response.content.decode()
    assert ModelRun.objects.get(is_active=True) == first
    assert ModelRun.objects.filter(is_active=True).count() == 1


@pytest.mark.parametrize("broken", ["failed", "pruned"])
def test_action_refuses_runs_that_cannot_serve(staff_client, trained, broken):
    active = ModelRun.objects.get()
    if broken == "failed":
        run = ModelRun.objects.create(status=ModelRun.Status.FAILED)
    else:
        retrain("--force")
        run = ModelRun.objects.exclude(pk=active.pk).get()
        ModelArtifact.objects.filter(run=run).delete()
        ModelRun.objects.filter(pk=run.pk).update(is_active=False)
        ModelRun.objects.filter(pk=active.pk).update(is_active=True)
    response = staff_client.post(RUNS, {"action": "activate_selected", ACTION_CHECKBOX_NAME: [run.pk]}, follow=True)
    assert "cannot be activated" in response.content.decode()
    assert ModelRun.objects.get(is_active=True) == active


def test_rating_list_searches_by_book_title_and_reader_email(staff_client, reader, other_reader, taste_catalog):
    set_rating(reader, taste_catalog.fantasy[0], 4)
    set_rating(other_reader, taste_catalog.mystery[0], 2)
    by_title = staff_client.get(RATINGS, {"q": "Murder Case 0"})
    assert {rating.book.title for rating in by_title.context["cl"].result_list} == {"Murder Case 0"}
    by_email = staff_client.get(RATINGS, {"q": "reader@example.com"})
    assert [rating.rater.user for rating in by_email.context["cl"].result_list] == [reader]
    by_value = staff_client.get(RATINGS, {"value": "2", "q": "other@example.com"})
    five_stars = staff_client.get(RATINGS, {"value": "5"}).context["cl"]
    assert five_stars.result_count == Rating.objects.filter(value=5).count()
    assert {rating.value for rating in five_stars.result_list} == {5}
    assert len(by_value.context["cl"].result_list) == 1


def test_rating_list_query_count_does_not_grow_with_rows(staff_client, taste_catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = staff_client.get(RATINGS)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 100


def test_deleting_ratings_in_the_admin_recounts_book_summaries(staff_client, reader, other_reader, taste_catalog):
    book = Book.objects.create(title="Moderated")
    set_rating(reader, book, 1)
    set_rating(other_reader, book, 5)
    spam = Rating.objects.get(book=book, value=1)
    staff_client.post(RATINGS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [spam.pk], "post": "yes"})
    book.refresh_from_db()
    assert not Rating.objects.filter(pk=spam.pk).exists()
    assert (book.ratings_count, book.ratings_1, book.average_rating) == (1, 0, 5.0)


def test_rater_list_loads(staff_client, taste_catalog):
    response = staff_client.get(reverse("admin:accounts_rater_changelist"), {"q": "7"})
    assert response.status_code == 200
    assert [rater.external_id for rater in response.context["cl"].result_list] == ["7"]


def test_run_list_shows_every_metric(staff_client, db):
    metrics = {"val_rmse": 0.8123, "val_recall_at_10": 0.1234, "val_ndcg_at_10": 0.2345, "val_ratings": 12345,
               "val_users": 678, "epochs_run": 9}
    ModelRun.objects.create(status=ModelRun.Status.SUCCEEDED, metrics=metrics)
    html = staff_client.get(RUNS).content.decode()
    headers = [header.lower() for header in staff_client.get(RUNS).context["cl"].list_display]
    assert {"val_ndcg", "val_ratings", "val_users", "epochs_run"} <= set(headers)
    for header in ["RMSE", "Recall@10", "NDCG@10", "Held-out ratings", "Validation readers", "Epochs"]:
        assert f">{header}<" in html, header
    for value in ["0.8123", "0.1234", "0.2345", "12,345", "678", ">9<"]:
        assert value in html, value
