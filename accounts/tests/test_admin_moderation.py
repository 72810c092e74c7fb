"""Staff moderation of ratings and raters: who rated what, by name; stars that staff can't change."""

import pytest
from django.db import connection
from django.urls import reverse

from accounts.admin import EstimatedCountPaginator
from accounts.models import Rater, Rating

RATINGS = reverse("admin:accounts_rating_changelist")
RATERS = reverse("admin:accounts_rater_changelist")


@pytest.fixture
def ratings(reader, books, rate):
    rate(reader, books[0], 4)
    dataset_reader = Rater.objects.create(source="goodbooks", external_id="4242")
    Rating.objects.create(rater=dataset_reader, book=books[1], value=2)
    return Rating.objects.order_by("pk")


def test_ratings_list_names_raters_and_books(staff_client, ratings):
    html = staff_client.get(RATINGS).content.decode()
    assert "reader@example.com" in html and "goodbooks reader 4242" in html
    assert "Anna Karenina" in html and "Beloved" in html
    assert "reader #" not in html
    assert "★★★★☆ (4)" in html


def test_raters_list_names_readers_by_email_or_dataset_id(staff_client, ratings):
    html = staff_client.get(RATERS).content.decode()
    assert "reader@example.com" in html and "goodbooks reader 4242" in html
    assert "reader #" not in html


def test_stars_are_read_only(staff_client, ratings):
    rating = ratings.first()
    url = reverse("admin:accounts_rating_change", args=[rating.pk])
    page = staff_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="value"' not in html
    assert "Anna Karenina" in html and "reader@example.com" in html
    staff_client.post(url, {"value": "1", "book": rating.book_id, "rater": rating.rater_id})
    rating.refresh_from_db()
    assert rating.value == 4
    assert staff_client.get(reverse("admin:accounts_rating_add")).status_code == 403


def test_deleting_a_rating_still_recounts_its_book(staff_client, ratings):
    rating = ratings.first()
    response = staff_client.post(reverse("admin:accounts_rating_delete", args=[rating.pk]), {"post": "yes"})
    assert response.status_code == 302
    rating.book.refresh_from_db()
    assert rating.book.ratings_count == 0


def test_an_exact_count_reads_as_before(staff_client, ratings):
    html = staff_client.get(RATINGS).content.decode()
    assert "2 ratings" in html
    assert "about" not in html.split('class="paginator"')[1][:200]


def test_a_capped_count_reads_as_at_least(staff_client, ratings, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "COUNT_CAP", 2)
    html = staff_client.get(RATINGS).content.decode()
    paginator = html.split('class="paginator"')[1][:300]
    assert "at least 2" in paginator


@pytest.mark.postgres
def test_the_planner_estimate_reads_as_about(staff_client, ratings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the planner's estimate is PostgreSQL's")
    monkeypatch.setattr(EstimatedCountPaginator, "COUNT_CAP", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_rating")
        cursor.execute("UPDATE pg_class SET reltuples = 12345678 WHERE relname = 'accounts_rating'")
    paginator = staff_client.get(RATINGS).content.decode().split('class="paginator"')[1][:300]
    assert "about 12,345,678" in paginator
