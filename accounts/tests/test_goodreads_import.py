"""Goodreads library export import: matching, the results page, re-imports and broken files."""

from html import unescape
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.goodreads import normalize_title
from accounts.models import GoodreadsImport, ImportedBook, ShelfEntry
from accounts.tests.conftest import make_book
from recommender.models import Rating

DATA = Path(__file__).parent / "data"
URL = "/import/goodreads/"


@pytest.fixture
def catalog(db):
    return {
        "hobbit": make_book("The Hobbit", "J.R.R. Tolkien", goodreads_book_id=5907),
        "dune": make_book("Dune", "Frank Herbert", isbn13="9780441172719"),
        "neuromancer": make_book("Neuromancer", "William Gibson", isbn10="0441569595"),
        "wind": make_book("The Name of the Wind (The Kingkiller Chronicle, #1)", "Patrick Rothfuss"),
        "emma": make_book("Emma", "Jane Austen"),
        "emma2": make_book("Emma.", "Jane Austen"),
        "gone": make_book("Gone Girl", "Gillian Flynn", goodreads_book_id=19288043),
        "rebecca": make_book("Rebecca", "Daphne du Maurier"),
    }


def upload(client, name, content=None):
    content = (DATA / name).read_bytes() if content is None else content
    return client.post(URL, {"export": SimpleUploadedFile(name, content, content_type="text/csv")})


def my_ratings(user):
    return dict(Rating.objects.filter(rater__user=user).values_list("book__title", "value"))


def nothing_written(user):
    return (
        not Rating.objects.filter(rater__user=user).exists()
        and not ShelfEntry.objects.filter(user=user).exists()
        and not ImportedBook.objects.filter(user=user).exists()
        and not GoodreadsImport.objects.filter(user=user).exists()
    )


def test_anonymous_is_sent_to_log_in(client, db):
    assert client.get(URL)["Location"].startswith(reverse("account_login"))
    response = upload(client, "goodreads_library_export.csv")
    assert response.status_code == 302
    assert not GoodreadsImport.objects.exists()


def test_form_page(reader_client):
    response = reader_client.get(reverse("accounts:goodreads_import"))
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_imports_ratings_and_to_read(reader_client, reader, catalog):
    response = upload(reader_client, "goodreads_library_export.csv")
    result = GoodreadsImport.objects.get(user=reader)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:goodreads_import_result", args=[result.pk])
    assert my_ratings(reader) == {
        "The Hobbit": 5,  # by Goodreads Book Id
        "Dune": 4,  # by ISBN-13
        "Neuromancer": 3,  # by ISBN-10
        "The Name of the Wind (The Kingkiller Chronicle, #1)": 4,  # by title and author
    }
    assert list(ShelfEntry.objects.filter(user=reader).values_list("book__title", flat=True)) == ["Gone Girl"]
    assert result.rows == 9
    assert result.report["counts"] == {"imported": 4, "shelved": 1, "ambiguous": 1, "not_in_catalog": 1, "nothing": 2}
    # Ratings went through recommender.ratings, so the books' summaries are current.
    catalog["hobbit"].refresh_from_db()
    assert (catalog["hobbit"].ratings_count, catalog["hobbit"].ratings_5) == (1, 1)
    assert ImportedBook.objects.get(user=reader, book=catalog["hobbit"]).date_read.isoformat() == "2019-05-12"


def test_results_page_says_what_was_skipped_and_why(reader_client, reader, catalog):
    response = reader_client.get(upload(reader_client, "goodreads_library_export.csv")["Location"])
    html = response.content.decode()
    assert response.status_code == 200
    assert "New ratings" in html
    assert "A Book Nobody Has Heard Of" in html
    assert "Not in our catalog" in html
    assert "More than one book in our catalog could be this one" in html
    assert reverse("recommender:for_you") in html


def test_another_readers_results_are_404(client, reader, other_reader, catalog):
    client.force_login(other_reader)
    upload(client, "goodreads_library_export.csv")
    result = GoodreadsImport.objects.get(user=other_reader)
    client.force_login(reader)
    assert client.get(reverse("accounts:goodreads_import_result", args=[result.pk])).status_code == 404


def test_importing_again_duplicates_nothing(reader_client, reader, catalog):
    upload(reader_client, "goodreads_library_export.csv")
    upload(reader_client, "goodreads_library_export.csv")
    assert Rating.objects.filter(rater__user=reader).count() == 4
    assert ShelfEntry.objects.filter(user=reader).count() == 1
    second = GoodreadsImport.objects.filter(user=reader).first()
    assert second.report["counts"]["unchanged"] == 5
    catalog["dune"].refresh_from_db()
    assert catalog["dune"].ratings_count == 1


def test_reimport_updates_untouched_ratings_and_keeps_ones_changed_on_the_site(reader_client, reader, catalog):
    upload(reader_client, "goodreads_library_export.csv")
    # On BookRec, the reader changes Dune from 4 to 2 and removes their Neuromancer rating.
    reader_client.post(reverse("accounts:rate", args=[catalog["dune"].pk]), {"value": "2"})
    reader_client.post(reverse("accounts:rate", args=[catalog["neuromancer"].pk]), {"remove": "1"})
    # and takes Gone Girl off want-to-read.
    reader_client.post(reverse("accounts:shelf", args=[catalog["gone"].pk]), {"action": "remove"})
    upload(reader_client, "goodreads_later_export.csv")
    ratings = my_ratings(reader)
    assert ratings["The Hobbit"] == 4  # untouched on BookRec: follows Goodreads (5 → 4)
    assert ratings["Dune"] == 2  # changed on BookRec: kept
    assert "Neuromancer" not in ratings  # removed on BookRec: stays removed
    assert not ShelfEntry.objects.filter(user=reader).exists()
    report = GoodreadsImport.objects.filter(user=reader).first().report
    assert report["counts"]["updated"] == 1
    assert report["counts"]["kept"] == 2
    assert any(item["title"] == "Dune" and "kept yours" in item["reason"] for item in report["skipped"])


def test_a_rating_made_on_the_site_first_is_kept(reader_client, reader, catalog, rate):
    rate(reader, catalog["hobbit"], 2)
    upload(reader_client, "goodreads_library_export.csv")
    assert my_ratings(reader)["The Hobbit"] == 2


def test_rated_import_takes_the_book_off_want_to_read(reader_client, reader, catalog):
    ShelfEntry.objects.create(user=reader, book=catalog["hobbit"])
    upload(reader_client, "goodreads_library_export.csv")
    assert not ShelfEntry.objects.filter(user=reader, book=catalog["hobbit"]).exists()


def test_bom_is_accepted(reader_client, reader, catalog):
    response = upload(reader_client, "goodreads_with_bom.csv")
    assert response.status_code == 302
    assert my_ratings(reader) == {"The Hobbit": 5, "Dune": 4}


def test_duplicate_rows_are_reported_once(reader_client, reader, catalog):
    upload(reader_client, "goodreads_duplicate_rows.csv")
    assert Rating.objects.filter(rater__user=reader).count() == 2
    assert GoodreadsImport.objects.get(user=reader).report["counts"]["duplicate"] == 1


def test_a_bad_rating_cell_is_skipped_not_fatal(reader_client, reader, catalog):
    upload(reader_client, "goodreads_bad_rating.csv")
    assert my_ratings(reader) == {"Dune": 4}
    assert GoodreadsImport.objects.get(user=reader).report["counts"]["bad_rating"] == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("goodbooks_ratings.csv", "doesn't look like a Goodreads library export"),
        ("goodreads_semicolons.csv", "doesn't look like a Goodreads library export"),
        ("goodreads_latin1.csv", "not UTF-8"),
        ("empty.csv", "empty"),
        ("header_only.csv", "no books"),
    ],
)
def test_broken_files_get_a_clear_error_and_nothing_is_written(reader_client, reader, catalog, name, message):
    response = upload(reader_client, name)
    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    assert nothing_written(reader)


def test_binary_file_is_rejected(reader_client, reader, catalog):
    response = upload(reader_client, "export.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert response.status_code == 400
    assert nothing_written(reader)


def test_file_over_5_mb_is_rejected_without_reading_it(reader_client, reader, catalog):
    good = (DATA / "goodreads_library_export.csv").read_bytes()
    big = good + b"\n" * (5 * 1024 * 1024)
    response = upload(reader_client, "big.csv", big)
    assert response.status_code == 400
    assert "over 5 MB" in response.content.decode()
    assert nothing_written(reader)


def test_no_file_is_a_form_error(reader_client, reader):
    response = reader_client.post(URL, {})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_imports_are_rate_limited(reader_client, reader, catalog):
    for _ in range(10):
        assert upload(reader_client, "goodreads_with_bom.csv").status_code == 302
    response = upload(reader_client, "goodreads_with_bom.csv")
    assert response.status_code == 429
    assert "wait" in response.content.decode()
    assert GoodreadsImport.objects.filter(user=reader).count() == 10


def test_failure_midway_writes_nothing(reader_client, reader, catalog, monkeypatch):
    # The second rating write fails (say the database goes away): the first must be rolled back too.
    from accounts import goodreads

    calls = []

    def failing_set_rating(user, book, value):
        calls.append(book)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(user, book, value)

    original = goodreads.set_rating
    monkeypatch.setattr(goodreads, "set_rating", failing_set_rating)
    reader_client.raise_request_exception = False
    response = upload(reader_client, "goodreads_library_export.csv")
    assert response.status_code == 500
    assert nothing_written(reader)
    catalog["hobbit"].refresh_from_db()
    assert catalog["hobbit"].ratings_count == 0


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("The Hunger Games (The Hunger Games, #1)", "hunger games"),
        ("Harry Potter and the Sorcerer’s Stone", "harry potter and the sorcerers stone"),
        ("Harry Potter and the Sorcerer's Stone", "harry potter and the sorcerers stone"),
        ("CATCH-22", "catch 22"),
        ("Les Misérables", "les miserables"),
    ],
)
def test_normalize_title(title, expected):
    assert normalize_title(title) == expected
