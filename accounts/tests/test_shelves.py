"""The exclusive shelves (want to read, currently reading, read): POST /books/<pk>/shelf/."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.models import Rating, ShelfEntry


def test_add_and_remove(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    response = reader_client.post(url, {"action": "add"})
    assert response.status_code == 302
    assert response["Location"] == book.get_absolute_url()
    assert ShelfEntry.objects.filter(user=reader, book=book).exists()
    reader_client.post(url, {"action": "remove"})
    assert not ShelfEntry.objects.filter(user=reader, book=book).exists()


def test_adding_twice_keeps_the_first_entry_and_its_date(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    assert reader_client.post(url, {"action": "add"}).status_code == 302
    first = ShelfEntry.objects.get(user=reader, book=book)
    assert reader_client.post(url, {"action": "add"}).status_code == 302
    again = ShelfEntry.objects.get(user=reader, book=book)
    assert (again.pk, again.shelf, again.added) == (first.pk, "to-read", first.added)


def test_fetch_gets_json(reader_client, reader, book):
    response = reader_client.post(
        reverse("accounts:shelf", args=[book.pk]), {"action": "add"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["shelved"] is True
    assert response.json()["rating"] is None


def test_bad_action_is_400_and_nothing_changes(reader_client, reader, book):
    ShelfEntry.objects.create(user=reader, book=book)
    response = reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "delete-everything"})
    assert response.status_code == 400
    assert ShelfEntry.objects.filter(user=reader, book=book).exists()


def test_unknown_book_is_404(reader_client, books):
    response = reader_client.post(reverse("accounts:shelf", args=[999999]), {"action": "add"})
    assert response.status_code == 404
    assert not ShelfEntry.objects.exists()


def test_get_is_405(reader_client, book):
    assert reader_client.get(reverse("accounts:shelf", args=[book.pk])).status_code == 405


def test_anonymous_is_sent_to_log_in(client, book):
    response = client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "add"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not ShelfEntry.objects.exists()


def test_removing_only_touches_my_shelf(reader_client, reader, other_reader, book):
    ShelfEntry.objects.create(user=other_reader, book=book)
    reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "remove"})
    assert ShelfEntry.objects.filter(user=other_reader, book=book).exists()


# Exclusive shelves ---------------------------------------------------------------------------------


def shelf_of(user, book):
    return ShelfEntry.objects.filter(user=user, book=book).values_list("shelf", flat=True).first()


def test_a_book_is_on_one_shelf_and_moves_between_them(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    for shelf in ["to-read", "currently-reading", "read", "to-read"]:
        response = reader_client.post(url, {"shelf": shelf})
        assert response.status_code == 302
        assert shelf_of(reader, book) == shelf
    assert ShelfEntry.objects.filter(user=reader).count() == 1
    reader_client.post(url, {"shelf": "none"})
    assert shelf_of(reader, book) is None


def test_moving_a_rated_book_keeps_its_rating_and_dates(reader_client, reader, book, rate):
    rate(reader, book, 4)
    url = reverse("accounts:shelf", args=[book.pk])
    reader_client.post(url, {"shelf": "read", "date_read": "2024-03-31", "read_count": "2"})
    reader_client.post(url, {"shelf": "currently-reading"})  # a re-read
    entry = ShelfEntry.objects.get(user=reader, book=book)
    assert (entry.shelf, entry.date_read, entry.read_count) == ("currently-reading", date(2024, 3, 31), 2)
    assert Rating.objects.get(rater__user=reader, book=book).value == 4


def test_a_rated_book_cannot_leave_every_shelf(reader_client, reader, book, rate):
    rate(reader, book, 4)
    response = reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"shelf": "none"})
    assert response.status_code == 400
    assert "Clear your rating first" in response.content.decode()
    assert shelf_of(reader, book) == "read"


def test_a_rated_book_is_not_put_on_want_to_read(reader_client, reader, book, rate):
    rate(reader, book, 4)
    html = reader_client.get(book.get_absolute_url()).content.decode()
    # The chooser offers Currently reading (a re-read) and Read; Want to read is hidden until the rating is cleared.
    assert 'data-shelf="to-read" class="button button-small button-secondary shelf-button" aria-pressed="false" hidden>' in html
    assert 'data-shelf="currently-reading"' in html
    response = reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"shelf": "to-read"})
    assert response.status_code == 400
    assert "Clear your rating first to put it on Want to read" in response.content.decode()
    assert shelf_of(reader, book) == "read"


def test_read_dates_accept_goodreads_slashes_and_can_be_cleared(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    reader_client.post(url, {"shelf": "read", "date_read": "2023/12/01", "read_count": "3"})
    entry = ShelfEntry.objects.get(user=reader, book=book)
    assert (entry.date_read, entry.read_count) == (date(2023, 12, 1), 3)
    reader_client.post(url, {"shelf": "read", "date_read": ""})
    entry.refresh_from_db()
    assert (entry.date_read, entry.read_count) == (None, 3)


def test_the_shelf_chooser_keeps_the_dates_it_does_not_send(reader_client, reader, book):
    url = reverse("accounts:shelf", args=[book.pk])
    reader_client.post(url, {"shelf": "read", "date_read": "2023-12-01"})
    reader_client.post(url, {"shelf": "read"})
    assert ShelfEntry.objects.get(user=reader, book=book).date_read == date(2023, 12, 1)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"shelf": "read", "date_read": "2024/13/45"}, "must be a real date"),
        ({"shelf": "read", "date_read": "0001-01-01"}, "must be between 1900 and today"),
        ({"shelf": "read", "date_read": "2999-01-01"}, "must be between 1900 and today"),
        ({"shelf": "read", "read_count": "-1"}, "can&#x27;t be below 0"),
        ({"shelf": "read", "read_count": "x"}, "whole number"),
        ({"shelf": "did-not-finish"}, "is not a shelf"),
        ({}, "Choose a shelf"),
    ],
)
def test_bad_input_says_why_and_loses_nothing(reader_client, reader, book, data, message):
    ShelfEntry.objects.create(user=reader, book=book, shelf="read", date_read=date(2020, 1, 2), read_count=2)
    response = reader_client.post(reverse("accounts:shelf", args=[book.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    entry = ShelfEntry.objects.get(user=reader, book=book)
    assert (entry.shelf, entry.date_read, entry.read_count) == ("read", date(2020, 1, 2), 2)


def test_the_old_want_to_read_toggle_never_takes_a_book_off_read(reader_client, reader, book):
    ShelfEntry.objects.create(user=reader, book=book, shelf="read")
    reader_client.post(reverse("accounts:shelf", args=[book.pk]), {"action": "remove"})
    assert shelf_of(reader, book) == "read"


def test_the_book_page_shows_the_shelf_chooser(reader_client, reader, book, books, rate):
    html = reader_client.get(book.get_absolute_url()).content.decode()
    assert "+ Want to read" in html
    rate(reader, book, 3)
    html = reader_client.get(book.get_absolute_url()).content.decode()
    assert "+ Want to read" not in html  # a rated book is on Read: it was read, so it is not "to read"
    assert 'aria-pressed="false" hidden>Want to read</button>' in html
    assert 'aria-pressed="true">✓ Read</button>' in html
    ShelfEntry.objects.create(user=reader, book=books[1], shelf="currently-reading")
    html = reader_client.get(books[1].get_absolute_url()).content.decode()
    assert 'value="none" data-shelf="currently-reading"' in html
    assert "✓ Currently reading" in html


def test_fetch_gets_the_shelf(reader_client, reader, book):
    response = reader_client.post(
        reverse("accounts:shelf", args=[book.pk]), {"shelf": "currently-reading"}, headers={"Accept": "application/json"}
    )
    assert response.json()["shelf"] == "currently-reading"
    response = reader_client.post(
        reverse("accounts:shelf", args=[book.pk]), {"shelf": "nope"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert "is not a shelf" in response.json()["error"]
