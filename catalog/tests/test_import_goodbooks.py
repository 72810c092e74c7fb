from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import Rater, Rating
from catalog.models import Author, Book, Genre

DATA = Path(__file__).parent / "data"
REAL_DATA = Path(settings.BASE_DIR).parent / "shared" / "data" / "goodbooks-10k"


def run_import(directory, *args):
    from io import StringIO

    out = StringIO()
    call_command("import_goodbooks", str(directory), *args, stdout=out)
    return out.getvalue()


def catalog_snapshot():
    return (
        sorted(Book.objects.values_list("goodreads_book_id", "title", "series", "series_position", "publication_year",
                                        "isbn10", "isbn13", "language", "cover_url")),
        sorted(Author.objects.values_list("slug", flat=True)),
        sorted(Book.genres.through.objects.values_list("book__goodreads_book_id", "genre__name")),
        sorted(Rating.objects.values_list("id", "rater__external_id", "book__goodreads_book_id", "value")),
    )


@pytest.mark.django_db
def test_good_files_import_books_authors_genres_and_ratings():
    out = run_import(DATA / "good")
    assert "Imported 7 new and 0 updated books" in out

    hunger = Book.objects.get(goodreads_book_id=2767052)
    assert (hunger.title, hunger.series, hunger.series_position) == ("The Hunger Games", "The Hunger Games", "1")
    assert hunger.publication_year == 2008
    # The float ISBN-13 lost its last digit, so it is rebuilt from the (zero-padded) ISBN-10.
    assert (hunger.isbn10, hunger.isbn13) == ("0439023483", "9780439023481")
    assert [name for name in hunger.genres.values_list("name", flat=True).order_by("name")] == [
        "Science Fiction", "Young Adult"]  # sci-fi, science-fiction and scifi merged; to-read/favorites ignored

    harry = Book.objects.with_list_data().get(goodreads_book_id=3)
    assert harry.author_list == ["J.K. Rowling", "Mary GrandPré"]
    assert harry.isbn13 == "9780439554930"
    assert harry.original_title == "Harry Potter and the Philosopher's Stone"
    assert "philosophers stone" in harry.search_text and "grandpre" in harry.search_text

    kings = Book.objects.get(goodreads_book_id=7235533)
    assert kings.cover_url == ""  # "nophoto" placeholder
    assert Book.objects.get(goodreads_book_id=1381).publication_year == -720
    catcher = Book.objects.get(goodreads_book_id=5107)
    assert (catcher.publication_year, catcher.language, catcher.isbn13) == (None, "", "")
    assert not Genre.objects.filter(name__in=["to-read", "favorites", "owned", "To Read"]).exists()

    # Dataset readers are raters without accounts; user 1's repeated (1, book 1) row: the later one (4) wins.
    assert Rater.objects.filter(source="goodbooks", user__isnull=True).count() == 3
    assert Rating.objects.count() == 10
    assert Rating.objects.get(rater__external_id="1", book=hunger).value == 4
    hunger.refresh_from_db()
    assert (hunger.ratings_count, hunger.ratings_4, hunger.ratings_3, hunger.average_rating) == (2, 1, 1, 3.5)


@pytest.mark.django_db
def test_second_run_duplicates_nothing_and_updates_in_place(tmp_path):
    run_import(DATA / "good")
    first = catalog_snapshot()
    out = run_import(DATA / "good")
    assert "0 new and 7 updated books" in out
    assert catalog_snapshot() == first

    # A changed rating is updated in the same row; a changed title is updated on the same book.
    changed = tmp_path / "changed"
    changed.mkdir()
    for name in ("books.csv", "tags.csv", "book_tags.csv"):
        text = (DATA / "good" / name).read_text(encoding="utf-8")
        (changed / name).write_text(text.replace("The Catcher in the Rye", "The Catcher in the Rye (Revised)"), encoding="utf-8")
    (changed / "ratings.csv").write_text("user_id,book_id,rating\n3,7,1\n", encoding="utf-8")
    rating_id = Rating.objects.get(rater__external_id="3", book__goodreads_book_id=5107).pk
    run_import(changed)
    assert Rating.objects.get(pk=rating_id).value == 1
    assert Rating.objects.count() == 10
    assert Book.objects.count() == 7
    assert Book.objects.get(goodreads_book_id=5107).title == "The Catcher in the Rye (Revised)"


@pytest.mark.django_db
def test_dry_run_validates_and_writes_nothing():
    out = run_import(DATA / "bad_rows", "--dry-run")
    assert "nothing was written" in out
    assert "ratings.csv line 3" in out
    assert Book.objects.count() == 0 and Rating.objects.count() == 0 and Rater.objects.count() == 0


@pytest.mark.django_db
def test_bad_rows_are_reported_with_file_and_line_and_skipped():
    out = run_import(DATA / "bad_rows")
    expected = [
        "books.csv line 5: book_id and goodreads_book_id must be positive whole numbers",
        "books.csv line 6: missing columns",
        "books.csv line 7: the book has no title",
        "books.csv line 8: duplicate book",
        "books.csv line 9: broken text encoding",
        "ratings.csv line 3: rating '6' is not a whole or half star from 1 to 5",
        "ratings.csv line 4: user_id and book_id must be positive whole numbers",
        "ratings.csv line 5: unknown book_id 999",
        "ratings.csv line 6: missing columns",
        "ratings.csv line 7: rating '0'",
        "ratings.csv line 8: rating '4.7' is not a whole or half star",
        "ratings.csv line 9: broken text encoding",
        "ratings.csv line 11: user_id and book_id must be positive whole numbers",  # "²" is a digit to str.isdigit
        "ratings.csv line 12: user_id and book_id must be positive whole numbers",
    ]
    for message in expected:
        assert message in out
    assert Book.objects.count() == 3
    assert sorted(Rating.objects.values_list("rater__external_id", "value")) == [("1", 5), ("7", 3)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("no_books", "books.csv is missing"),
        ("wrong_header", "ratings.csv has the wrong header: missing user_id, book_id, rating"),
        ("tags_only", "book_tags.csv is missing"),
        ("does-not-exist", "is not a directory"),
    ],
)
def test_missing_or_malformed_file_stops_before_writing(folder, message):
    with pytest.raises(CommandError, match=message):
        run_import(DATA / folder)
    assert Book.objects.count() == 0 and Author.objects.count() == 0 and Rating.objects.count() == 0


@pytest.mark.django_db
def test_skip_ratings_imports_only_the_catalog():
    run_import(DATA / "good", "--skip-ratings")
    assert Book.objects.count() == 7
    assert Rating.objects.count() == 0 and Rater.objects.count() == 0


@pytest.mark.django_db
def test_empty_and_bom_files(tmp_path):
    (tmp_path / "books.csv").write_bytes(b"")
    with pytest.raises(CommandError, match="books.csv is empty"):
        run_import(tmp_path)
    # A byte-order mark before the header is fine.
    (tmp_path / "books.csv").write_bytes(b"\xef\xbb\xbf" + (DATA / "good" / "books.csv").read_bytes())
    run_import(tmp_path)
    assert Book.objects.count() == 7


@pytest.mark.django_db
@pytest.mark.skipif(not (REAL_DATA / "books.csv").is_file(), reason="goodbooks-10k is not in ../shared/data")
def test_real_books_csv_imports_all_ten_thousand_books(tmp_path):
    (tmp_path / "books.csv").symlink_to(REAL_DATA / "books.csv")
    out = run_import(tmp_path)
    assert "Imported 10,000 new" in out
    assert Book.objects.count() == 10_000
    hunger = Book.objects.get(goodreads_book_id=2767052)
    assert hunger.series == "The Hunger Games" and hunger.isbn13 == "9780439023481"
    assert not Book.objects.filter(cover_url__contains="nophoto").exists()


@pytest.mark.django_db
def test_unreadable_csv_midway_stops_the_whole_import(tmp_path):
    # A stray quote makes the rest of ratings.csv one endless field: importing the rows before it
    # would be half a file, so the import stops and writes nothing.
    folder = tmp_path / "stray-quote"
    folder.mkdir()
    (folder / "books.csv").write_text((DATA / "good" / "books.csv").read_text())
    rows = ["user_id,book_id,rating"] + [f"{n},1,4" for n in range(1, 5)] + ['5,1,"4'] + [f"{n},2,3" for n in range(6, 60_000)]
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(CommandError, match="ratings.csv line .*unreadable CSV"):
        run_import(folder)
    assert not Book.objects.exists()
    assert not Rating.objects.exists()


@pytest.mark.django_db
def test_reimport_leaves_author_links_of_unchanged_books_alone():
    from catalog.goodbooks import author_slug
    from catalog.models import BookAuthor

    # The Odyssey lists Homer, Robert Fagles, E.V. Rieu; an existing E.V. Rieu has the lowest author id,
    # so the links' author order differs from their listed order.
    Author.objects.create(name="E.V. Rieu", slug=author_slug("E.V. Rieu"))
    run_import(DATA / "good")
    odyssey = Book.objects.with_list_data().get(goodreads_book_id=1381)
    assert odyssey.author_list == ["Homer", "Robert Fagles", "E.V. Rieu"]
    links = sorted(BookAuthor.objects.values_list("id", "book_id", "author_id", "position"))
    run_import(DATA / "good")
    assert sorted(BookAuthor.objects.values_list("id", "book_id", "author_id", "position")) == links


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["books.csv", "ratings.csv"])
def test_binary_file_is_refused_as_not_utf8_text(tmp_path, name):
    for path in (DATA / "good").iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    junk = b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 8
    (tmp_path / name).write_bytes(junk)
    with pytest.raises(CommandError) as raised:
        run_import(tmp_path)
    message = str(raised.value)
    assert message == f"{name} is not UTF-8 text (expected a CSV file); nothing was imported."
    assert not Book.objects.exists() and not Rating.objects.exists()
