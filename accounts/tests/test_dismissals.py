""""Not interested": the POST and its undo, the list on My books, export and account deletion, bad input."""

import csv
import io
import json

import pytest
from django.urls import reverse

from accounts.models import Dismissal, User

from .conftest import make_book

MY_DISMISSALS = reverse("accounts:my_books") + "?list=dismissed"


def dismiss_url(book):
    return reverse("accounts:dismiss", args=[book.pk])


def dismissed_titles(user):
    return sorted(Dismissal.objects.filter(user=user).values_list("book__title", flat=True))


def test_dismissing_redirects_back_with_an_undo_that_works(reader_client, reader, book):
    next_url = reverse("catalog:book_detail", args=[book.pk]) + "?from=card"
    response = reader_client.post(dismiss_url(book), {"action": "dismiss", "next": next_url})
    assert response.status_code == 302 and response["Location"] == next_url
    assert dismissed_titles(reader) == [book.title]

    # The page it lands on says so and offers Undo as a POST form to the same address.
    page = reader_client.get(next_url).content.decode()
    assert f"{book.title} won&#x27;t be recommended to you again." in page
    undo_form = f'action="{dismiss_url(book)}"'
    assert undo_form in page and 'name="action" value="undo"' in page

    response = reader_client.post(dismiss_url(book), {"action": "undo", "next": next_url})
    assert response.status_code == 302 and response["Location"] == next_url
    assert dismissed_titles(reader) == []
    # After the undo, no Undo button is left on the page.
    assert 'value="undo"' not in reader_client.get(next_url).content.decode()


def test_dismissing_twice_keeps_one_and_undo_of_nothing_is_harmless(reader_client, reader, book):
    for _ in range(2):
        reader_client.post(dismiss_url(book), {"action": "dismiss"})
    assert Dismissal.objects.filter(user=reader).count() == 1
    reader_client.post(dismiss_url(book), {"action": "undo"})
    response = reader_client.post(dismiss_url(book), {"action": "undo"})
    assert response.status_code == 302
    assert Dismissal.objects.filter(user=reader).count() == 0


def test_the_list_on_my_books_shows_dismissals_with_an_undo_each(reader_client, reader, books):
    for book in books[:2]:
        reader_client.post(dismiss_url(book), {"action": "dismiss"})
    response = reader_client.get(MY_DISMISSALS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not interested (2)" in page
    assert books[0].title in page and books[1].title in page and books[2].title not in page
    # Two Undo buttons in the list, and one in each message, each for its own book.
    assert page.count('name="action" value="undo"') == 4
    assert page.count(f'action="{dismiss_url(books[0])}"') == 2 and page.count(f'action="{dismiss_url(books[1])}"') == 2
    # Undo from the list returns to the list.
    response = reader_client.post(dismiss_url(books[0]), {"action": "undo", "next": MY_DISMISSALS})
    assert response["Location"] == MY_DISMISSALS
    assert dismissed_titles(reader) == [books[1].title]


def test_profile_links_to_the_dismissed_list(reader_client, reader, book):
    reader_client.post(dismiss_url(book), {"action": "dismiss"})
    page = reader_client.get(reverse("accounts:profile")).content.decode()
    assert "1 marked" in page and 'href="/my-books/?list=dismissed"' in page


def test_one_readers_dismissals_are_not_anothers(client, reader, other_reader, book):
    client.force_login(reader)
    client.post(dismiss_url(book), {"action": "dismiss"})
    client.force_login(other_reader)
    assert "Not interested (0)" in client.get(MY_DISMISSALS).content.decode()
    # Undo by another reader leaves the first reader's dismissal alone.
    client.post(dismiss_url(book), {"action": "undo"})
    assert dismissed_titles(reader) == [book.title]


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "0", ""]
)
def test_unsafe_next_falls_back_to_for_you(reader_client, book, next_url):
    response = reader_client.post(dismiss_url(book), {"action": "dismiss", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("recommender:for_you")


def test_bad_input_changes_nothing(reader_client, reader, book):
    reader_client.post(dismiss_url(book), {"action": "dismiss"})
    # GET is not allowed: a link or prefetch must never dismiss.
    assert reader_client.get(dismiss_url(book)).status_code == 405
    # An unknown book is a 404.
    assert reader_client.post(reverse("accounts:dismiss", args=[999_999]), {"action": "dismiss"}).status_code == 404
    # An unknown action is refused with a message.
    response = reader_client.post(dismiss_url(book), {"action": "maybe"})
    assert response.status_code == 400
    assert "not interested or to undo" in response.content.decode()
    assert dismissed_titles(reader) == [book.title]


def test_the_form_needs_its_csrf_token(reader, book):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)
    assert client.post(dismiss_url(book), {"action": "dismiss"}).status_code == 403
    assert dismissed_titles(reader) == []


def test_anonymous_visitors_are_sent_to_log_in(client, book):
    response = client.post(dismiss_url(book), {"action": "dismiss"})
    assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert Dismissal.objects.count() == 0


def test_fetch_gets_json(reader_client, reader, book):
    response = reader_client.post(dismiss_url(book), {"action": "dismiss"}, HTTP_ACCEPT="application/json")
    assert response.json() == {"book": book.pk, "dismissed": True, "message": f"{book.title} won't be recommended to you again."}


def test_export_lists_dismissals_in_json(reader_client, reader, books):
    reader_client.post(dismiss_url(books[1]), {"action": "dismiss"})
    data = json.loads(reader_client.get(reverse("accounts:export_json")).content)
    assert [row["title"] for row in data["not_interested"]] == [books[1].title]
    assert data["not_interested"][0]["book_id"] == books[1].pk and data["not_interested"][0]["dismissed"]
    # The CSV is Goodreads' library format, which has no "not interested": a dismissed book is not a library row.
    rows = list(csv.DictReader(io.StringIO(reader_client.get(reverse("accounts:export_csv")).content.decode())))
    assert books[1].title not in [row["Title"] for row in rows]


def test_account_deletion_removes_dismissals(reader_client, reader, books, other_reader):
    reader_client.post(dismiss_url(books[0]), {"action": "dismiss"})
    Dismissal.objects.create(user=other_reader, book=books[0])
    response = reader_client.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"})
    assert response.status_code == 302, response.content.decode()[:500]
    assert not User.objects.filter(pk=reader.pk).exists()
    assert list(Dismissal.objects.values_list("user_id", flat=True)) == [other_reader.pk]


def test_a_book_merge_moves_dismissals_to_the_kept_book(reader, db):
    from catalog.merge import merge_books

    keep, duplicate = make_book("Dune", "Frank Herbert"), make_book("Dune (paperback)", "Frank Herbert")
    Dismissal.objects.create(user=reader, book=duplicate)
    merge_books(keep, [duplicate])
    assert list(Dismissal.objects.values_list("book_id", flat=True)) == [keep.pk]
