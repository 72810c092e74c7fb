"""manage.py load_demo: the real-book catalog, genre-shaped demo readers, the demo logins, idempotency."""

import csv
import io
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts import demo
from accounts.models import Rater, Rating, ShelfEntry, User
from catalog.models import Author, Book, BookAuthor, Genre

SMALL = 40  # readers: enough to see taste, quick to load
GOODBOOKS_CSV = Path(settings.BASE_DIR).parent / "shared" / "data" / "goodbooks-10k" / "books.csv"
# Years checked by hand where goodbooks differs by more than a year: ours is the first printing
# (The Prince, Romeo and Juliet, On the Road, Seabiscuit) where goodbooks gives the year of writing or
# of an excerpt, or goodbooks' row is a later collection.
REVIEWED_YEARS = {
    "The Prince", "Romeo and Juliet", "On the Road", "Seabiscuit: An American Legend", "At the Mountains of Madness",
}  # fmt: skip


def load(readers=SMALL, *args):
    out = io.StringIO()
    call_command("load_demo", f"--readers={readers}", "--allow-demo-logins", *args, stdout=out)
    return out.getvalue()


def counts():
    models = [Book, Author, Genre, BookAuthor, Book.genres.through, Rater, Rating, User, ShelfEntry]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def demo_books():
    return demo.read_demo_books()


@pytest.fixture
def loaded(db):
    return load()


def test_csv_has_about_300_real_books_over_about_10_genres(demo_books):
    assert 280 <= len(demo_books) <= 340
    by_genre = Counter(name for book in demo_books for name in book.genres)
    assert 9 <= len(by_genre) <= 12
    assert min(by_genre.values()) >= 25
    main_genre = Counter(book.genres[0] for book in demo_books)
    assert all(25 <= n <= 40 for n in main_genre.values()), main_genre
    # Facts spot-checked: the loader must not garble them.
    by_title = {book.title: book for book in demo_books}
    fellowship = by_title["The Fellowship of the Ring"]
    assert (fellowship.authors, fellowship.year, fellowship.series, fellowship.series_position) == (
        ("J.R.R. Tolkien",),
        1954,
        "The Lord of the Rings",
        "1",
    )
    assert by_title["Good Omens"].authors == ("Terry Pratchett", "Neil Gaiman")
    assert by_title["The Odyssey"].year < 0
    assert all(book.goodreads_book_id is None for book in demo_books)


def test_csv_has_no_duplicates_and_sane_values(demo_books):
    assert len({book.key for book in demo_books}) == len(demo_books)
    assert len({book.isbn13 for book in demo_books if book.isbn13}) == sum(1 for book in demo_books if book.isbn13)
    for book in demo_books:
        assert book.year <= 2024, book.title
        assert 20 <= len(book.description) <= 400, book.title
    assert all(demo.isbn13_is_valid(book.isbn13) for book in demo_books if book.isbn13)


def _plain(text):
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"\(.*?\)", "", text)).strip()


@pytest.mark.skipif(not GOODBOOKS_CSV.is_file(), reason="goodbooks-10k is not in ../shared/data")
def test_csv_facts_agree_with_goodbooks(demo_books):
    """A fact check: where goodbooks-10k has the same title by the same main author, the years agree,
    and every ISBN-13 we give is one of goodbooks' editions of that book."""
    with open(GOODBOOKS_CSV, encoding="utf-8") as f:
        goodbooks = list(csv.DictReader(f))
    by_title = defaultdict(list)
    for row in goodbooks:
        for title in {_plain(row["title"]), _plain(row["original_title"])} - {""}:
            by_title[title].append(row)
    checked = 0
    for book in demo_books:
        surname = _plain(book.authors[0]).split()[-1]
        rows = [row for row in by_title.get(_plain(book.title), []) if surname in _plain(row["authors"])]
        if not rows:
            continue
        checked += 1
        if book.isbn13:
            assert book.isbn13[3:12] in {row["isbn"].zfill(10)[:9] for row in rows}, book.title
        years = {int(float(row["original_publication_year"])) for row in rows if row["original_publication_year"]}
        tolerance = 10 if book.year < 0 else 1
        if years and book.title not in REVIEWED_YEARS:
            assert any(abs(book.year - year) <= tolerance for year in years), (book.title, book.year, years)
    assert checked > 200


def test_broken_csv_names_the_line(tmp_path):
    good = demo.BOOKS_CSV.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "books.csv"
    broken.write_text("\n".join([good[0], good[1], good[1]]) + "\n", encoding="utf-8")
    with pytest.raises(demo.DemoDataError, match="line 3: duplicate of line 2"):
        demo.read_demo_books(broken)
    broken.write_text("\n".join([good[0], good[1].replace(",1937,", ",nineteen,")]) + "\n", encoding="utf-8")
    with pytest.raises(demo.DemoDataError, match="line 2: year 'nineteen'"):
        demo.read_demo_books(broken)


def test_loads_the_catalog_with_authors_genres_and_search_text(loaded, demo_books):
    assert Book.objects.count() == len(demo_books)
    assert 9 <= Genre.objects.count() <= 12
    assert not Book.objects.filter(bookauthor__isnull=True).exists()
    assert not Book.objects.filter(genres__isnull=True).exists()
    assert not Book.objects.filter(search_text="").exists()
    book = Book.objects.get(title="Good Omens")
    assert [ba.author.name for ba in book.bookauthor_set.order_by("position")] == ["Terry Pratchett", "Neil Gaiman"]
    solitude = Book.objects.get(title="One Hundred Years of Solitude")
    assert "garcia marquez" in solitude.search_text and "cien anos" in solitude.search_text
    assert Genre.objects.get(name="Science Fiction").slug == "science-fiction"
    # Rating summaries were recounted after the bulk insert.
    assert sum(Book.objects.values_list("ratings_count", flat=True)) == Rating.objects.count()
    assert Book.objects.filter(ratings_count__gt=0).count() > 250


def test_demo_readers_are_dataset_raters_with_genre_shaped_tastes(loaded, demo_books):
    readers = Rater.objects.filter(source="demo")
    assert readers.count() == SMALL
    assert not readers.filter(user__isnull=False).exists()
    assert User.objects.count() == 2  # the demo login and staff: readers are not accounts

    genres_of = {book.pk: set(book.genres.values_list("name", flat=True)) for book in Book.objects.all()}
    popularity, quality = demo.book_popularity_and_quality(demo_books)
    favourite_stars, other_stars, favourite_share = [], [], []
    for i, rater in enumerate(readers.order_by("external_id")):
        favourites, _ = demo.simulate_reader(i, demo_books, popularity, quality)
        assert 1 <= len(favourites) <= 3
        mine = defaultdict(list)
        for book_id, stars in rater.ratings.values_list("book_id", "value"):
            mine[bool(favourites & genres_of[book_id])].append(stars)
        favourite_share.append(len(mine[True]) / (len(mine[True]) + len(mine[False])))
        favourite_stars += mine[True]
        other_stars += mine[False]
        if mine[True] and mine[False]:
            assert mean(mine[True]) > mean(mine[False]), rater
    assert mean(favourite_share) > 0.75
    assert mean(favourite_stars) >= 4.0
    assert mean(other_stars) <= 3.3


def test_full_size_gives_about_20k_ratings_and_a_model_that_follows_taste(db):
    from recommender.api import recommendations_for

    output = load(demo.DEFAULT_READERS)
    assert Rater.objects.filter(source="demo").count() == 500
    assert 18_000 <= Rating.objects.filter(rater__source="demo").count() <= 22_000
    assert "Demo data loaded." in output
    # Popular books get many ratings, obscure ones few, and every book gets some.
    rating_counts = sorted(Book.objects.values_list("ratings_count", flat=True))
    assert rating_counts[0] > 0
    assert rating_counts[-1] > 5 * rating_counts[len(rating_counts) // 10]

    # What `make run` does next: a model trained on the demo recommends the demo reader's genres.
    call_command("retrain", "--factors", "8", "--epochs", "8", "--seed", "1", stdout=io.StringIO())
    user = User.objects.get(email=demo.DEMO_EMAIL)
    picks = [rec.book for rec in recommendations_for(user, limit=10)]
    in_taste = [
        book for book in picks if {"Fantasy", "Science Fiction"} & set(book.genres.values_list("name", flat=True))
    ]
    assert len(in_taste) >= 7, [book.title for book in picks]


def test_demo_user_and_staff_log_in(loaded, client):
    user = User.objects.get(email=demo.DEMO_EMAIL)
    assert user.display_name == "Demo Reader" and not user.is_staff
    ratings = Rating.objects.filter(rater__user=user)
    assert 10 <= ratings.count() <= 14
    assert all(value >= 4 for value in ratings.values_list("value", flat=True))
    for rating in ratings.select_related("book"):
        assert {"Fantasy", "Science Fiction"} & set(rating.book.genres.values_list("name", flat=True))
    assert ShelfEntry.objects.filter(user=user, shelf="to-read").count() == 3
    # Rated books are on Read, as when a reader rates on the site.
    assert ShelfEntry.objects.filter(user=user, shelf="read").count() == ratings.count()

    response = client.post("/accounts/login/", {"login": demo.DEMO_EMAIL, "password": demo.DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(user.pk)
    client.logout()

    assert client.login(email=demo.STAFF_EMAIL, password=demo.STAFF_PASSWORD)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/catalog/book/").status_code == 200


def test_second_run_duplicates_nothing_and_keeps_changed_passwords(loaded, client):
    before = counts()
    user = User.objects.get(email=demo.DEMO_EMAIL)
    user.set_password("my-own-secret-phrase")
    user.save()

    output = load()

    assert counts() == before
    assert f"Books: {before['Book']} (0 new)" in output
    assert "0 new, 0 changed" in output
    assert not client.login(email=demo.DEMO_EMAIL, password=demo.DEMO_PASSWORD)
    assert client.login(email=demo.DEMO_EMAIL, password="my-own-secret-phrase")


def test_more_readers_later_keeps_the_first_ones_ratings(loaded):
    first = set(Rating.objects.filter(rater__external_id="reader-00007").values_list("book_id", "value"))
    load(SMALL + 20)
    assert Rater.objects.filter(source="demo").count() == SMALL + 20
    assert set(Rating.objects.filter(rater__external_id="reader-00007").values_list("book_id", "value")) == first


def test_reuses_a_book_already_in_the_catalog(db):
    dune = Book.objects.create(title="Dune", publication_year=1965)
    herbert = Author.objects.create(name="Frank Herbert", slug="frank-herbert")
    BookAuthor.objects.create(book=dune, author=herbert, position=0)
    load(1)
    assert Book.objects.filter(title="Dune").count() == 1
    assert Author.objects.filter(name="Frank Herbert").count() == 1


def test_dry_run_writes_nothing(db, demo_books):
    output = load(5, "--dry-run")
    assert "Dry run" in output and f"Books: {len(demo_books)} ({len(demo_books)} new)" in output
    assert Book.objects.count() == 0 and User.objects.count() == 0


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "1.5", str(demo.MAX_READERS + 1)])
def test_bad_reader_count_is_a_command_error(db, bad):
    with pytest.raises(CommandError, match="readers"):
        call_command("load_demo", f"--readers={bad}", "--allow-demo-logins", stdout=io.StringIO())
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_refuses_to_create_published_logins_on_a_production_site():
    # The suite runs with DEBUG off, as production does.
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("load_demo", "--readers=5", stdout=io.StringIO())
    assert not User.objects.filter(email="staff@bookrec.example").exists()
