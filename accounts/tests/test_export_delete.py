"""Download my data (JSON, CSV) and delete my account."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.models import GoodreadsImport, ImportedBook, Rater, Rating, ShelfEntry
from accounts.ratings import refresh_rating_summaries, set_rating
from catalog.models import Book

from .concurrency import contend_with_open_transaction

User = get_user_model()


@pytest.fixture
def library(reader, other_reader, books, rate):
    books[0].goodreads_book_id = 123
    books[0].isbn13 = "9780000000017"
    books[0].save()
    rate(reader, books[0], 5)
    rate(reader, books[1], 2)
    ShelfEntry.objects.create(user=reader, book=books[2])
    rate(other_reader, books[0], 1)
    ShelfEntry.objects.create(user=other_reader, book=books[1])
    return books


def test_export_json(reader_client, reader, library):
    response = reader_client.get(reverse("accounts:export_json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["account"]["email"] == reader.email
    assert [(r["title"], r["stars"]) for r in data["ratings"]] == [("Anna Karenina", 5), ("Beloved", 2)]
    first = data["ratings"][0]
    assert first["authors"] == "Leo Tolstoy"
    assert first["goodreads_book_id"] == 123
    assert first["isbn13"] == "9780000000017"
    assert first["rated"] and first["updated"]
    shelves = {(e["Title"], e["Exclusive Shelf"], e["My Rating"]) for e in data["library"]}
    assert shelves == {("Anna Karenina", "read", 5), ("Beloved", "read", 2), ("Catch-22", "to-read", 0)}


def test_export_csv(reader_client, library):
    response = reader_client.get(reverse("accounts:export_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted((r["Exclusive Shelf"], r["Title"], r["My Rating"]) for r in rows) == [
        ("read", "Anna Karenina", "5"),
        ("read", "Beloved", "2"),
        ("to-read", "Catch-22", "0"),
    ]
    anna = next(r for r in rows if r["Title"] == "Anna Karenina")
    assert (anna["Book Id"], anna["ISBN13"]) == ("123", '="9780000000017"')


def test_export_csv_gives_the_catalog_page_count_when_no_import_did(reader_client, library):
    Book.objects.filter(pk=library[1].pk).update(pages=324)
    rows = list(csv.DictReader(io.StringIO(reader_client.get(reverse("accounts:export_csv")).content.decode())))
    pages = {r["Title"]: r["Number of Pages"] for r in rows}
    assert pages == {"Anna Karenina": "", "Beloved": "324", "Catch-22": ""}

def test_export_has_only_my_data(client, other_reader, library):
    client.force_login(other_reader)
    data = client.get(reverse("accounts:export_json")).json()
    assert [(r["title"], r["stars"]) for r in data["ratings"]] == [("Anna Karenina", 1)]
    assert [(e["Title"], e["Exclusive Shelf"]) for e in data["library"]] == [("Beloved", "to-read"), ("Anna Karenina", "read")]


@pytest.mark.parametrize("name", ["accounts:export_json", "accounts:export_csv", "accounts:delete_account", "accounts:profile"])
def test_anonymous_is_sent_to_log_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_export_is_get_only(reader_client):
    assert reader_client.post(reverse("accounts:export_json")).status_code == 405


def test_delete_asks_again(reader_client, reader):
    response = reader_client.get(reverse("accounts:delete_account"))
    assert response.status_code == 200
    assert 'type="password"' in response.content.decode()
    assert User.objects.filter(pk=reader.pk).exists()


def test_delete_with_the_wrong_password_changes_nothing(reader_client, reader, library):
    response = reader_client.post(reverse("accounts:delete_account"), {"password": "not-my-password"})
    assert response.status_code == 400
    assert "not your password" in response.content.decode()
    assert User.objects.filter(pk=reader.pk).exists()
    assert Rating.objects.filter(rater__user=reader).count() == 2


def test_delete_removes_account_ratings_shelf_and_recounts(reader_client, reader, other_reader, library):
    rater_id = reader.rater.pk
    GoodreadsImport.objects.create(user=reader)
    ImportedBook.objects.create(user=reader, book=library[0], rating=5)
    response = reader_client.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=reader.pk).exists()
    assert not Rater.objects.filter(pk=rater_id).exists()  # so the next retrain forgets this reader
    assert not Rating.objects.filter(rater_id=rater_id).exists()
    assert not ShelfEntry.objects.filter(user_id=reader.pk).exists()
    assert not ImportedBook.objects.filter(user_id=reader.pk).exists()
    # The other reader is untouched, and the books' summaries no longer count the deleted ratings.
    assert Rating.objects.filter(rater__user=other_reader).count() == 1
    library[0].refresh_from_db()
    library[1].refresh_from_db()
    assert (library[0].ratings_count, library[0].ratings_5, library[0].ratings_1) == (1, 0, 1)
    assert library[0].average_rating == 1.0
    assert library[1].ratings_count == 0
    # Only the deleted reader's ratings left the summaries: they agree with a recount.
    assert summaries(library) == recounted(library)
    # Logged out.
    assert reader_client.get(reverse("accounts:profile")).status_code == 302


def summaries(books):
    fields = ["ratings_count", "ratings_1", "ratings_2", "ratings_3", "ratings_4", "ratings_5", "average_rating"]
    return list(Book.objects.filter(pk__in=[book.pk for book in books]).order_by("pk").values_list(*fields))


def recounted(books):
    with transaction.atomic():
        refresh_rating_summaries([book.pk for book in books])
        counts = summaries(books)
        transaction.set_rollback(True)
    return counts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rating_given_while_an_account_is_deleted_stays_counted(reader, other_reader, books):
    """The deletion waits for the other reader's rating of the same book, then keeps it in the summary."""
    set_rating(reader, books[0], 5)
    set_rating(reader, books[1], 2)
    set_rating(other_reader, books[1], 4)
    client = Client()
    client.force_login(reader)
    waited, statuses = contend_with_open_transaction(
        # another reader's rating of the same book, committed while the deletion waits
        lambda: set_rating(other_reader, books[0], 3),
        lambda: client.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"}).status_code,
    )
    assert waited and statuses == [302]
    assert summaries(books) == recounted(books)
    assert summaries(books)[0][:6] == (1, 0, 0, 1, 0, 0)


def test_delete_is_csrf_protected(reader, library):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)
    assert strict.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"}).status_code == 403
    assert User.objects.filter(pk=reader.pk).exists()
