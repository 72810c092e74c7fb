"""Goodreads library export import: matching, the results page, re-imports and broken files."""

from html import unescape
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.goodreads import normalize_title
from accounts.models import GoodreadsImport, ImportedBook, Rating, ShelfEntry
from accounts.ratings import rater_for, ratings_version
from accounts.tests.conftest import make_book

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
    assert dict(ShelfEntry.objects.filter(user=reader).values_list("book__title", "shelf")) == {
        "The Hobbit": "read",
        "Dune": "read",
        "Neuromancer": "read",
        "The Name of the Wind (The Kingkiller Chronicle, #1)": "read",
        "Gone Girl": "to-read",
        "Rebecca": "read",  # read without a rating: on Read, unrated
    }
    assert result.rows == 9
    # Hyperion (currently reading) is not in the catalog.
    assert result.report["counts"] == {"imported": 4, "shelved": 2, "ambiguous": 1, "not_in_catalog": 2}
    assert [row["outcome"] for row in result.report["rows"]] == [
        "imported", "imported", "imported", "imported", "ambiguous", "not_in_catalog", "shelved", "shelved", "not_in_catalog"
    ]
    # Ratings went through accounts.ratings, so the books' summaries are current.
    catalog["hobbit"].refresh_from_db()
    assert (catalog["hobbit"].ratings_count, catalog["hobbit"].ratings_5) == (1, 1)
    assert ImportedBook.objects.get(user=reader, book=catalog["hobbit"]).date_read.isoformat() == "2019-05-12"


def test_results_page_says_what_was_skipped_and_why(reader_client, reader, catalog):
    response = reader_client.get(upload(reader_client, "goodreads_library_export.csv")["Location"])
    html = response.content.decode()
    assert response.status_code == 200
    assert "New rating" in html
    assert "Added to your shelves, unrated" in html
    assert "On your shelves without a rating</th><td>2<" in html
    assert "Rebecca" in html and "Read, unrated" in html
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
    assert ShelfEntry.objects.filter(user=reader).count() == 6
    second = GoodreadsImport.objects.filter(user=reader).first()
    assert second.report["counts"]["unchanged"] == 6
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
    assert not ShelfEntry.objects.filter(user=reader, book=catalog["gone"]).exists()  # taken off: stays off
    report = GoodreadsImport.objects.filter(user=reader).first().report
    assert report["counts"] == {"updated": 1, "kept": 3}
    notes = {row["title"]: row["notes"] for row in report["rows"]}
    assert notes["Dune"] == [
        "My Rating: kept your BookRec 2 stars over Goodreads' 5 stars: you changed it on BookRec after the last import."
    ]
    assert notes["Neuromancer"] == ["My Rating: not added back: you removed 3 stars on BookRec after an earlier import."]
    assert notes["Gone Girl"] == [
        "Exclusive Shelf: not added back: you removed Want to read on BookRec after an earlier import."
    ]
    html = reader_client.get(reverse("accounts:goodreads_import_result", args=[report and GoodreadsImport.objects.first().pk])).content.decode()
    assert "kept your BookRec 2 stars over Goodreads&#x27; 5 stars" in html


def test_a_rating_made_on_the_site_first_is_kept(reader_client, reader, catalog, rate):
    rate(reader, catalog["hobbit"], 2)
    upload(reader_client, "goodreads_library_export.csv")
    assert my_ratings(reader)["The Hobbit"] == 2
    row = GoodreadsImport.objects.get(user=reader).report["rows"][0]
    assert row["outcome"] == "updated"  # its Date Read was added
    assert row["notes"] == [
        "My Rating: kept your BookRec 2 stars over Goodreads' 5 stars: you set it on BookRec before importing.",
        "Date Added: 2020-01-02, the earlier of Goodreads' and BookRec's.",
    ]
    assert ShelfEntry.objects.get(user=reader, book=catalog["hobbit"]).date_read.isoformat() == "2019-05-12"


def test_a_book_read_on_goodreads_moves_forward_from_want_to_read(reader_client, reader, catalog):
    ShelfEntry.objects.create(user=reader, book=catalog["hobbit"])
    upload(reader_client, "goodreads_library_export.csv")
    assert ShelfEntry.objects.get(user=reader, book=catalog["hobbit"]).shelf == "read"
    row = GoodreadsImport.objects.get(user=reader).report["rows"][0]
    assert "Exclusive Shelf: moved from Want to read to Read, as on Goodreads." in row["notes"]


def test_bom_is_accepted(reader_client, reader, catalog):
    response = upload(reader_client, "goodreads_with_bom.csv")
    assert response.status_code == 302
    assert my_ratings(reader) == {"The Hobbit": 5, "Dune": 4}


def test_duplicate_rows_are_reported_once(reader_client, reader, catalog):
    upload(reader_client, "goodreads_duplicate_rows.csv")
    assert Rating.objects.filter(rater__user=reader).count() == 2
    assert GoodreadsImport.objects.get(user=reader).report["counts"]["duplicate"] == 1


def test_a_bad_rating_cell_is_reported_and_the_rest_of_the_row_imported(reader_client, reader, catalog):
    upload(reader_client, "goodreads_bad_rating.csv")
    assert my_ratings(reader) == {"Dune": 4}
    report = GoodreadsImport.objects.get(user=reader).report
    assert report["problems"] == {"My Rating": 1}
    assert report["rows"][0]["notes"] == ["My Rating “7” is not a number from 0 to 5, so it was not imported."]
    assert ShelfEntry.objects.get(user=reader, book=catalog["hobbit"]).shelf == "read"


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


def test_failure_midway_writes_nothing(reader_client, reader, catalog, monkeypatch, django_capture_on_commit_callbacks):
    # The ratings are written, then the next write fails (say the database goes away): they must be rolled back too.
    from accounts import goodreads

    def failing_set_ratings(user, stars_by_book):
        original(user, stars_by_book)
        raise RuntimeError("database went away")

    original = goodreads.set_ratings
    monkeypatch.setattr(goodreads, "set_ratings", failing_set_ratings)
    reader_client.raise_request_exception = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(reader_client, "goodreads_library_export.csv")
    assert response.status_code == 500
    assert callbacks == []  # the ratings version bump went with the rollback
    assert nothing_written(reader)
    catalog["hobbit"].refresh_from_db()
    assert (catalog["hobbit"].ratings_count, catalog["hobbit"].ratings_5, catalog["hobbit"].average_rating) == (0, 0, 0)


def stars(book):
    book.refresh_from_db()
    return book.ratings_count, [book.ratings_1, book.ratings_2, book.ratings_3, book.ratings_4, book.ratings_5]


def test_reimport_bumps_the_ratings_version_once_and_keeps_summaries(
    reader_client, reader, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(reader_client, "goodreads_library_export.csv")
    version = ratings_version(rater_for(reader).pk)
    with django_capture_on_commit_callbacks(execute=True):
        upload(reader_client, "goodreads_later_export.csv")  # Hobbit 5 → 4, Dune 4 → 5, Neuromancer 3 → 5
    assert version == 1
    assert ratings_version(rater_for(reader).pk) == 2
    assert stars(catalog["hobbit"]) == (1, [0, 0, 0, 1, 0])
    assert stars(catalog["dune"]) == (1, [0, 0, 0, 0, 1])
    assert stars(catalog["neuromancer"]) == (1, [0, 0, 0, 0, 1])
    assert stars(catalog["wind"]) == (1, [0, 0, 0, 1, 0])  # not in the later export: left as it was
    assert catalog["dune"].average_rating == 5.0


def goodreads_export(rows):
    """A minimal Goodreads export: (book id, title, author, ISBN-13, my rating, exclusive shelf) per row."""
    lines = ["Book Id,Title,Author,ISBN,ISBN13,My Rating,Exclusive Shelf,Date Read"]
    for book_id, title, author, isbn13, rating, shelf in rows:
        lines.append(f'{book_id},"{title}",{author},"=""""","=""{isbn13}""",{rating},{shelf},2021/03/04')
    return "\n".join(lines).encode()


def test_query_count_does_not_grow_with_the_file(client, reader, other_reader, db):
    # 72 books, matched a third each by Goodreads id, ISBN-13 and title and author; rated 1–5, or to-read.
    # (Under 83, so that SQLite's batches of bulk_create still hold every ImportedBook in one INSERT.)
    books = [
        make_book(f"Book Number {n}", f"Writer Surname{n}", goodreads_book_id=700_000 + n, isbn13=f"978{n:010d}")
        for n in range(120)
    ]

    def export(count):
        rows = []
        for n, book in enumerate(books[:count]):
            rating, shelf = (0, "to-read") if n % 6 == 0 else (n % 6, "read")
            if n % 3 == 0:
                rows.append((700_000 + n, "Renamed", "Nobody", "", rating, shelf))
            elif n % 3 == 1:
                rows.append((1, "Renamed", "Nobody", book.isbn13, rating, shelf))
            else:
                rows.append((1, f"{book.title}.", f"Writer Surname{n}", "", rating, shelf))
        return goodreads_export(rows)

    def queries_for(user, count):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert upload(client, "export.csv", export(count)).status_code == 302
        assert GoodreadsImport.objects.get(user=user).report["counts"] == {"imported": count * 5 // 6, "shelved": count // 6}
        return len(queries)

    assert queries_for(reader, 12) == queries_for(other_reader, 72)
    assert Rating.objects.filter(rater__user=other_reader).count() == 60
    assert ShelfEntry.objects.filter(user=other_reader, shelf="to-read").count() == 12
    assert stars(books[1]) == (2, [2, 0, 0, 0, 0])  # rated by both readers
    assert stars(books[71]) == (1, [0, 0, 0, 0, 1])


def test_close_titles_match_and_enormous_cells_are_not_compared(reader_client, reader, catalog):
    rows = [
        ("1", "Neuromancr", "William Gibson", "", "4", "read"),  # a typo: 95% alike
        ("2", "Rebeca", "Daphne du Maurier", "", "5", "read"),  # 92% alike
        ("3", "Emm", "Jane Austen", "", "3", "read"),  # 86% like both Emmas: not close enough
        ("4", "x" + " " * 100_000 + "y", "Jane Austen", "", "3", "read"),  # not even normalized
    ]
    assert upload(reader_client, "export.csv", goodreads_export(rows)).status_code == 302
    assert my_ratings(reader) == {"Neuromancer": 4, "Rebecca": 5}
    assert GoodreadsImport.objects.get(user=reader).report["counts"]["not_in_catalog"] == 2


def test_numbers_are_ascii_digits_only(reader_client, reader, catalog):
    rows = [
        ("5907", "The Hobbit", "J.R.R. Tolkien", "", "²", "read"),  # str.isdigit() says yes, int() says no
        ("99990001", "Dune", "Frank Herbert", "9780441172719", "٤", "read"),  # int() reads it as 4
        ("9" * 40, "Neuromancer", "William Gibson", "", "3", "read"),  # too big for the Goodreads id column
        ("²", "Emma", "Jane Austen", "", "9" * 5000, "read"),  # past int()'s digit limit
        ("19288043", "Gone Girl", "Gillian Flynn", "", "05", "read"),
    ]
    response = upload(reader_client, "export.csv", goodreads_export(rows).replace(b"2021/03/04", "٢٠٢١/٠٣/٠٤".encode()))
    assert response.status_code == 302
    assert my_ratings(reader) == {"Neuromancer": 3, "Gone Girl": 5}
    assert GoodreadsImport.objects.get(user=reader).report["problems"] == {"My Rating": 3, "Date Read": 5}
    assert ImportedBook.objects.get(user=reader, book=catalog["neuromancer"]).goodreads_book_id is None
    assert ImportedBook.objects.get(user=reader, book=catalog["gone"]).date_read is None


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


@pytest.mark.parametrize("broken_line", [3, 9])
def test_unbalanced_quote_is_refused_with_its_line_and_nothing_is_written(reader_client, reader, catalog, broken_line):
    # An opening quote before "Dune" (or "Rebecca", the last book) that is never closed where it should be:
    # the cells after it shift into the wrong columns.
    lines = (DATA / "goodreads_library_export.csv").read_text(encoding="utf-8").splitlines()
    title = lines[broken_line - 1].split(",")[1]
    lines[broken_line - 1] = lines[broken_line - 1].replace(f",{title},", f',"{title},', 1)
    response = upload(reader_client, "goodreads_library_export.csv", ("\n".join(lines) + "\n").encode())
    assert response.status_code == 400
    html = unescape(response.content.decode())
    assert f"Line {broken_line} has " in html and "quote" in html and "Nothing was imported" in html
    assert nothing_written(reader)
