"""A Goodreads export imported into BookRec and exported again comes back the same, column by column."""

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.library_export import COLUMNS
from accounts.models import GoodreadsImport, ImportedBook, Rating, Review, ShelfEntry
from accounts.tests.conftest import make_book

FIXTURE = Path(__file__).parent / "data" / "goodreads_round_trip.csv"


@pytest.fixture
def catalog(db):
    return {
        "hobbit": make_book("The Hobbit", "J.R.R. Tolkien", goodreads_book_id=5907),
        "dune": make_book("Dune", "Frank Herbert", isbn13="9780441013593"),
        "gone": make_book("Gone Girl", "Gillian Flynn", goodreads_book_id=19288043),
        "omens": make_book("Good Omens", "Terry Pratchett", isbn10="0060853980"),
        "wind": make_book("The Name of the Wind", "Patrick Rothfuss"),
        "jest": make_book("Infinite Jest", "David Foster Wallace", goodreads_book_id=6759),  # on did-not-finish
    }


def import_fixture(client):
    upload = SimpleUploadedFile("goodreads_library_export.csv", FIXTURE.read_bytes(), content_type="text/csv")
    response = client.post(reverse("accounts:goodreads_import"), {"export": upload})
    assert response.status_code == 302
    return response


def read_csv(text):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return reader.fieldnames, list(reader)


def test_import_then_export_gives_back_every_field(reader_client, reader, catalog):
    import_fixture(reader_client)
    response = reader_client.get(reverse("accounts:export_csv"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    header, exported = read_csv(response.content.decode())
    assert header == COLUMNS
    _, original = read_csv(FIXTURE.read_text(encoding="utf-8"))
    # Every row, the book BookRec doesn't have and the one on a shelf BookRec doesn't have (did-not-finish)
    # included: both come back as Goodreads wrote them, the latter with the review BookRec keeps.
    expected = {row["Book Id"]: row for row in original}
    # The one change: Goodreads' HTML line break is stored, and exported, as a newline.
    assert expected["234225"]["My Review"] == "Slow start, <br/>then “the spice must flow”."
    expected["234225"]["My Review"] = "Slow start, \nthen “the spice must flow”."
    assert sorted(row["Book Id"] for row in exported) == sorted(expected)
    for row in exported:
        for column in COLUMNS:
            assert row[column] == expected[row["Book Id"]][column], (row["Title"], column)
    # Goodreads' own spelling of the file, not just its values: ="…" ISBNs, quoted commas and line breaks.
    text = response.content.decode()
    assert '"=""0618260307"""' in text and '"="""""' in text
    assert '"A comfortable hobbit, a dragon, and a long way home.\nRead it aloud' in text


def test_the_import_keeps_what_bookrec_models(reader_client, reader, catalog):
    import_fixture(reader_client)
    entries = {e.book_id: e for e in ShelfEntry.objects.filter(user=reader)}
    hobbit = entries[catalog["hobbit"].pk]
    assert (hobbit.shelf, hobbit.date_read, hobbit.read_count, hobbit.added.date()) == (
        "read", date(2019, 5, 12), 2, date(2018, 11, 30))
    assert entries[catalog["omens"].pk].shelf == "currently-reading"
    assert entries[catalog["gone"].pk].shelf == "to-read"
    assert (entries[catalog["wind"].pk].shelf, entries[catalog["wind"].pk].date_read) == ("read", date(2021, 8, 3))
    assert Review.objects.get(user=reader, book=catalog["hobbit"]).text.endswith("she did the voices.\n\nStill the best.")
    assert ImportedBook.objects.get(user=reader, book=catalog["dune"]).pages == 604


def test_json_export_carries_the_same_library(reader_client, reader, catalog):
    import_fixture(reader_client)
    _, exported = read_csv(reader_client.get(reverse("accounts:export_csv")).content.decode())
    data = reader_client.get(reverse("accounts:export_json")).json()
    by_id = {str(row["Book Id"]): row for row in data["library"]}
    for row in exported:
        item = by_id[row["Book Id"]]
        assert set(item) == set(COLUMNS)
        assert item["ISBN13"] == row["ISBN13"][2:-1]
        assert (item["Date Added"] or "") == row["Date Added"].replace("/", "-")
        for column in set(COLUMNS) - {"ISBN", "ISBN13", "Date Read", "Date Added"}:
            assert str(item[column]) == row[column], column


def test_a_book_rated_on_bookrec_exports_in_goodreads_format(reader_client, reader, books, rate):
    books[0].isbn13, books[0].goodreads_book_id = "9780000000017", 123
    books[0].save()
    rate(reader, books[0], 4)
    _, (row,) = read_csv(reader_client.get(reverse("accounts:export_csv")).content.decode())
    assert (row["Book Id"], row["Title"], row["Author"], row["Author l-f"]) == ("123", "Anna Karenina", "Leo Tolstoy", "Tolstoy, Leo")
    assert (row["ISBN"], row["ISBN13"], row["My Rating"], row["Exclusive Shelf"], row["Read Count"]) == (
        '=""', '="9780000000017"', "4", "read", "1")
    assert row["Date Added"] == ShelfEntry.objects.get(user=reader).added.strftime("%Y/%m/%d")
    assert (row["Date Read"], row["Bookshelves"]) == ("", "")


def test_a_book_moved_on_bookrec_exports_its_new_shelf(reader_client, reader, catalog):
    import_fixture(reader_client)
    reader_client.post(reverse("accounts:shelf", args=[catalog["gone"].pk]), {"shelf": "currently-reading"})
    _, exported = read_csv(reader_client.get(reverse("accounts:export_csv")).content.decode())
    gone = next(row for row in exported if row["Title"] == "Gone Girl")
    assert (gone["Exclusive Shelf"], gone["Bookshelves"]) == ("currently-reading", "currently-reading")
    assert gone["Bookshelves with positions"] == "currently-reading (#1)"  # added before Good Omens
    omens = next(row for row in exported if row["Title"].startswith("Good Omens"))
    assert omens["Bookshelves"] == "currently-reading, funny"  # untouched: as Goodreads wrote it


def test_the_results_page_lists_every_row(reader_client, reader, catalog):
    response = reader_client.get(import_fixture(reader_client)["Location"])
    html = response.content.decode()
    report = GoodreadsImport.objects.get(user=reader).report
    assert [row["outcome"] for row in report["rows"]] == [
        "imported", "imported", "shelved", "shelved", "shelved", "not_shelved", "not_in_catalog"]
    for title in ["The Hobbit, or There and Back Again", "Gone Girl", "Good Omens", "The Name of the Wind", "Infinite Jest",
                  "A Book Nobody"]:
        assert title in html
    assert "Currently reading, unrated" in html
    assert "Want to read, unrated" in html
    assert "On your shelves without a rating</th><td>3<" in html


HEADER = (
    "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,Binding,"
    "Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,"
    "Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies\n"
)


def upload_text(client, text):
    upload = SimpleUploadedFile("export.csv", text.encode(), content_type="text/csv")
    return client.post(reverse("accounts:goodreads_import"), {"export": upload})


def test_bad_cells_are_reported_and_the_rest_of_each_row_is_imported(reader_client, reader, catalog):
    response = upload_text(reader_client, HEADER + (
        '5907,The Hobbit,J.R.R. Tolkien,,,,,4,,,,,,,2024/13/45,2020/01/02,,,read,,,,-1,0\n'
        '19288043,Gone Girl,Gillian Flynn,,,,,x,,,,abc,,,2023/02/01,2020/01/02,,,read,,,,x,0\n'
        '234225,Dune,Frank Herbert,,,,"=""9780441013593""",5,,,,,,,,2020/01/02,,,did-not-finish,,,,1,0\n'
    ))
    assert response.status_code == 302
    entries = {e.book_id: e for e in ShelfEntry.objects.filter(user=reader)}
    hobbit, gone, dune = (entries[catalog[key].pk] for key in ("hobbit", "gone", "dune"))
    assert (hobbit.shelf, hobbit.date_read, hobbit.read_count) == ("read", None, 1)
    assert (gone.shelf, gone.date_read) == ("read", date(2023, 2, 1))
    assert dune.shelf == "read"  # an unknown shelf: its rating still puts it on Read
    assert Rating.objects.get(rater__user=reader, book=catalog["hobbit"]).value == 4
    assert Rating.objects.get(rater__user=reader, book=catalog["dune"]).value == 5
    assert not Rating.objects.filter(rater__user=reader, book=catalog["gone"]).exists()
    html = reader_client.get(response["Location"]).content.decode()
    for message in [
        "Date Read “2024/13/45” is not a date (Goodreads writes 2024/03/31), so it was left empty.",
        "Read Count “-1” is not a whole number of times read, so it was not imported.",
        "My Rating “x” is not a number from 0 to 5, so it was not imported.",
        "Number of Pages “abc” is not a number of pages, so it was not imported.",
        "Exclusive Shelf “did-not-finish” is not one of BookRec&#x27;s shelves",
    ]:
        assert message in html, message
    # The row as Goodreads wrote it is kept whole, bad cells included.
    assert ImportedBook.objects.get(user=reader, book=catalog["hobbit"]).goodreads_row["Date Read"] == "2024/13/45"


def test_a_reimport_keeps_dates_and_reviews_changed_on_bookrec_and_says_so(reader_client, reader, catalog):
    import_fixture(reader_client)
    url = reverse("accounts:shelf", args=[catalog["hobbit"].pk])
    reader_client.post(url, {"shelf": "read", "date_read": "2019-06-01"})  # the reader corrects the date here
    later = FIXTURE.read_text(encoding="utf-8").replace("2019/05/12", "2019/05/20").replace("2021/08/03", "2021/08/04")
    upload_text(reader_client, later)
    entries = {e.book_id: e for e in ShelfEntry.objects.filter(user=reader)}
    assert entries[catalog["hobbit"].pk].date_read == date(2019, 6, 1)  # changed on BookRec: kept
    assert entries[catalog["wind"].pk].date_read == date(2021, 8, 4)  # untouched: follows Goodreads
    row = next(r for r in GoodreadsImport.objects.first().report["rows"] if r["title"].startswith("The Hobbit"))
    assert row["outcome"] == "kept"
    assert row["notes"] == [
        "Date Read: kept your BookRec 2019-06-01 over Goodreads' 2019-05-20: you changed it on BookRec after the last import."
    ]


def test_the_results_page_filters_by_outcome_and_escapes_titles(reader_client, reader, catalog):
    response = upload_text(reader_client, HEADER + (
        '1,<script>alert(1)</script>,Nobody,,,,,3,,,,,,,,,,,read,,,,1,0\n'
        '5907,The Hobbit,J.R.R. Tolkien,,,,,4,,,,,,,,,,,read,,,,1,0\n'
    ))
    result_url = response["Location"]
    html = reader_client.get(result_url).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    only_missing = reader_client.get(result_url + "?outcome=not_in_catalog")
    assert [row["title"] for row in only_missing.context["page"].object_list] == ["<script>alert(1)</script>"]
    for query in ("?page=abc", "?page=-4", "?outcome=" + "x" * 500):
        assert reader_client.get(result_url + query).status_code == 200


def test_an_import_from_before_the_row_list_still_shows(reader_client, reader):
    old = GoodreadsImport.objects.create(
        user=reader, rows=3, report={"counts": {"imported": 2, "nothing": 1},
                                     "skipped": [{"line": 4, "title": "Lost Book", "author": "X", "reason": "Not in our catalog"}]}
    )
    html = reader_client.get(reverse("accounts:goodreads_import_result", args=[old.pk])).content.decode()
    assert "New ratings</th><td>2<" in html and "Lost Book" in html


def test_export_queries_do_not_grow_with_the_library(client, reader, rate, django_assert_num_queries):
    client.force_login(reader)
    for count, start in ((2, 0), (12, 100)):
        for n in range(start, start + count):
            rate(reader, make_book(f"Book {n}", f"Writer {n}"), 4)
        # session, user, shelf entries, authors, ratings, reviews, imported rows, the latest import's report
        with django_assert_num_queries(8):
            assert client.get(reverse("accounts:export_csv")).status_code == 200


def test_unmatched_rows_come_back_from_the_latest_import_only(reader_client, reader, catalog):
    upload_text(reader_client, HEADER + (
        ',First Lost Book,Nobody,,,,,3,,,,,,,,,,,read,,,,1,0\n'
        ',Second Lost Book,Nobody,,,,,0,,,,,,,,,,,to-read,,,,0,0\n'
    ))
    _, exported = read_csv(reader_client.get(reverse("accounts:export_csv")).content.decode())
    assert [(row["Title"], row["My Rating"]) for row in exported] == [("First Lost Book", "3"), ("Second Lost Book", "0")]
    import_fixture(reader_client)
    _, exported = read_csv(reader_client.get(reverse("accounts:export_csv")).content.decode())
    titles = [row["Title"] for row in exported]
    assert "A Book Nobody Has Heard Of" in titles and "First Lost Book" not in titles
