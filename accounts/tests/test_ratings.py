"""Rating a book: POST /books/<pk>/rate/, with and without JavaScript."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Rating, ShelfEntry
from accounts.ratings import remove_rating


def rating_of(user, book):
    return Rating.objects.filter(rater__user=user, book=book).values_list("value", flat=True).first()


def test_rate_a_book_redirects_back_to_the_book(reader_client, reader, book):
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"})
    assert response.status_code == 302
    assert response["Location"] == book.get_absolute_url()
    assert rating_of(reader, book) == 4
    book.refresh_from_db()
    assert book.ratings_count == 1
    assert book.ratings_4 == 1
    assert book.average_rating == 4.0


def test_change_a_rating_keeps_one_row(reader_client, reader, book):
    url = reverse("accounts:rate", args=[book.pk])
    reader_client.post(url, {"value": "2"})
    reader_client.post(url, {"value": "5"})
    assert Rating.objects.filter(rater__user=reader).count() == 1
    assert rating_of(reader, book) == 5
    book.refresh_from_db()
    assert (book.ratings_count, book.ratings_2, book.ratings_5) == (1, 0, 1)


def test_remove_a_rating(reader_client, reader, book, rate):
    rate(reader, book, 3)
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"remove": "1"})
    assert response.status_code == 302
    assert rating_of(reader, book) is None
    book.refresh_from_db()
    assert book.ratings_count == 0


def test_redirects_to_a_safe_next(reader_client, book):
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4", "next": "/my-books/?sort=stars"})
    assert response["Location"] == "/my-books/?sort=stars"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "0", "home"])
def test_ignores_an_unsafe_next(reader_client, book, next_url):
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4", "next": next_url})
    assert response["Location"] == book.get_absolute_url()


@pytest.mark.parametrize("value", ["0", "6", "-1", "3.5", "abc", "", "٣"])
def test_bad_value_is_rejected_and_nothing_changes(reader_client, reader, book, rate, value):
    rate(reader, book, 2)
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": value})
    assert response.status_code == 400
    assert b"1 to 5" in response.content
    assert rating_of(reader, book) == 2
    book.refresh_from_db()
    assert book.ratings_count == 1


def test_missing_value_is_rejected(reader_client, reader, book):
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {})
    assert response.status_code == 400
    assert not Rating.objects.exists()


def test_unknown_book_is_404(reader_client, reader, books):
    response = reader_client.post(reverse("accounts:rate", args=[999999]), {"value": "4"})
    assert response.status_code == 404
    assert not Rating.objects.exists()


def test_get_is_405(reader_client, book):
    response = reader_client.get(reverse("accounts:rate", args=[book.pk]) + "?value=4")
    assert response.status_code == 405
    assert not Rating.objects.exists()


def test_anonymous_is_sent_to_log_in_and_back_to_the_book(client, book):
    response = client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert f"next=/books/{book.pk}/" in response["Location"]
    assert not Rating.objects.exists()


def test_anonymous_fetch_gets_403_json(client, book):
    response = client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"}, headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert "Log in" in response.json()["error"]
    assert not Rating.objects.exists()


def test_fetch_gets_the_new_state_as_json(reader_client, reader, book, books, rate):
    rate(reader, books[1], 5)
    response = reader_client.post(
        reverse("accounts:rate", args=[book.pk]), {"value": "3"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["book"] == book.pk
    assert data["rating"] == 3
    assert data["shelf"] == "read"
    assert data["rated_count"] == 2


def test_fetch_with_a_bad_value_gets_400_json(reader_client, book):
    response = reader_client.post(
        reverse("accounts:rate", args=[book.pk]), {"value": "9"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert "1 to 5" in response.json()["error"]


@pytest.mark.parametrize("shelf", ["to-read", "currently-reading"])
def test_rating_a_book_moves_it_to_read_keeping_its_dates(reader_client, reader, book, shelf):
    entry = ShelfEntry.objects.create(user=reader, book=book, shelf=shelf, added=timezone.now() - timedelta(days=30))
    reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "5"})
    moved = ShelfEntry.objects.get(user=reader, book=book)
    assert (moved.shelf, moved.added, moved.date_read, moved.read_count) == ("read", entry.added, None, 1)


def test_rating_an_unshelved_book_puts_it_on_read_without_a_date(reader_client, reader, book):
    reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "2"})
    entry = ShelfEntry.objects.get(user=reader, book=book)
    assert (entry.shelf, entry.date_read) == ("read", None)


def test_rating_a_read_book_again_keeps_its_finish_date(reader_client, reader, book, rate):
    rate(reader, book, 3)
    ShelfEntry.objects.filter(user=reader, book=book).update(date_read=date(2024, 3, 31), read_count=2)
    reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"})
    entry = ShelfEntry.objects.get(user=reader, book=book)
    assert (entry.shelf, entry.date_read, entry.read_count) == ("read", date(2024, 3, 31), 2)


def test_clearing_a_rating_keeps_the_book_on_read(reader_client, reader, book, rate):
    rate(reader, book, 3)
    reader_client.post(reverse("accounts:rate", args=[book.pk]), {"remove": "1"})
    assert not Rating.objects.filter(rater__user=reader).exists()
    assert ShelfEntry.objects.get(user=reader, book=book).shelf == "read"


def test_ratings_of_two_readers_are_separate(client, reader, other_reader, book, rate):
    rate(other_reader, book, 1)
    client.force_login(reader)
    client.post(reverse("accounts:rate", args=[book.pk]), {"remove": "1"})
    client.post(reverse("accounts:rate", args=[book.pk]), {"value": "5"})
    assert rating_of(other_reader, book) == 1
    assert rating_of(reader, book) == 5


def test_csrf_is_enforced(client, reader, book):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)
    response = strict.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"})
    assert response.status_code == 403
    assert not Rating.objects.exists()


def test_book_actions_partial_shows_the_readers_rating(reader_client, reader, book, rate):
    rate(reader, book, 4)
    response = reader_client.get(reverse("accounts:my_books"))
    html = response.content.decode()
    assert 'aria-pressed="true"' in html
    assert html.count('class="on"') == 4
    assert "Clear rating" in html


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=20), remove=st.sampled_from(["", None]), next_url=st.text(max_size=40))
def test_fuzzed_rating_posts_never_500(reader_client, reader, book, value, remove, next_url):
    remove_rating(reader, book)  # examples share the database: each starts unrated
    data = {"value": value, "next": next_url}
    if remove is not None:
        data["remove"] = remove
    before = rating_of(reader, book)  # hypothesis runs every example on the same database: earlier ones may have rated
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), data)
    assert response.status_code in {302, 400}
    stored = rating_of(reader, book)
    if response.status_code == 400:
        assert stored == before  # a refused post changes nothing
    else:
        assert stored == int(value.strip())
        assert response["Location"] == next_url or response["Location"] == book.get_absolute_url()
