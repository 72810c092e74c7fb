"""Demo data for `make run`: ~300 real books, genre-shaped demo readers with their ratings, and demo logins.

The catalog comes from demo_data/books.csv (written for this project). The readers are simulated:
each has one to three favourite genres and rates mostly popular books of those genres, highly, so
that a trained model visibly follows taste. Everything is deterministic, and loading twice
duplicates nothing.
"""

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import Author, Book, BookAuthor, Genre
from catalog.tabular import CsvError, CsvTable, isbn13_is_valid, open_text

from .models import Rater, Rating, ShelfEntry
from .ratings import put_rated_on_read, refresh_rating_summaries

BOOKS_CSV = Path(__file__).resolve().parent / "demo_data" / "books.csv"
CSV_COLUMNS = [
    "title", "original_title", "authors", "year", "genres", "series", "series_position", "isbn13",
    "goodreads_book_id", "description",
]  # fmt: skip

DEMO_SOURCE = "demo"
DEFAULT_READERS = 500
MAX_READERS = 100_000
SEED = 2024
BATCH_SIZE = 2000

DEMO_EMAIL = "demo@bookrec.example"
DEMO_PASSWORD = "bookrec-demo"
DEMO_DISPLAY_NAME = "Demo Reader"
STAFF_EMAIL = "staff@bookrec.example"
STAFF_PASSWORD = "bookrec-staff"
STAFF_DISPLAY_NAME = "Staff"

# The demo login's taste: fantasy and science fiction, rated high, with the sequels and near
# neighbours left unrated so that its recommendations have something obvious to find.
DEMO_READER_RATINGS = [
    ("The Hobbit", "J.R.R. Tolkien", 5),
    ("The Fellowship of the Ring", "J.R.R. Tolkien", 5),
    ("A Game of Thrones", "George R.R. Martin", 4),
    ("The Name of the Wind", "Patrick Rothfuss", 5),
    ("The Final Empire", "Brandon Sanderson", 5),
    ("The Way of Kings", "Brandon Sanderson", 5),
    ("A Wizard of Earthsea", "Ursula K. Le Guin", 4),
    ("Dune", "Frank Herbert", 5),
    ("Foundation", "Isaac Asimov", 4),
    ("Ender's Game", "Orson Scott Card", 5),
    ("The Hitchhiker's Guide to the Galaxy", "Douglas Adams", 4),
    ("Hyperion", "Dan Simmons", 5),
]
DEMO_READER_WANTS = [
    ("The Two Towers", "J.R.R. Tolkien"),
    ("Leviathan Wakes", "James S.A. Corey"),
    ("The Lies of Locke Lamora", "Scott Lynch"),
]

# The simulated readers. About 40 ratings each (500 readers give about 20k ratings), most of them
# from their favourite genres; popularity within a genre falls off like a Zipf curve.
RATINGS_PER_READER_MEDIAN = 36
RATINGS_PER_READER_SPREAD = 0.5  # sigma of the log-normal
MIN_RATINGS_PER_READER, MAX_RATINGS_PER_READER = 8, 120
FAVOURITE_SHARE = 0.85
FAVOURITE_GENRE_COUNTS = ((1, 0.45), (2, 0.35), (3, 0.20))
POPULARITY_EXPONENT = 0.8
FAVOURITE_MEAN, OTHER_MEAN = 4.35, 2.9
FAVOURITE_SPREAD, OTHER_SPREAD = 0.7, 1.0



class DemoDataError(ValueError):
    """The demo CSV is malformed: the message names the line."""


@dataclass(frozen=True)
class DemoBook:
    line: int
    title: str
    original_title: str
    authors: tuple
    year: int
    genres: tuple
    series: str
    series_position: str
    isbn13: str
    goodreads_book_id: int | None
    description: str

    @property
    def key(self):
        return book_key(self.title, self.authors[0])


@dataclass
class DemoSummary:
    books: int = 0
    books_created: int = 0
    authors: int = 0
    genres: int = 0
    readers: int = 0
    readers_created: int = 0
    ratings: int = 0
    ratings_created: int = 0
    ratings_changed: int = 0
    accounts_created: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self):
        return [
            f"Books: {self.books} ({self.books_created} new) by {self.authors} authors in {self.genres} genres",
            f"Demo readers: {self.readers} ({self.readers_created} new)",
            f"Demo readers' ratings: {self.ratings} ({self.ratings_created} new, {self.ratings_changed} changed)",
            "Accounts created: " + (", ".join(self.accounts_created) or "none (already there)"),
            f"Done in {self.seconds:.1f}s",
        ]


def book_key(title, first_author):
    """How the demo recognises a book that is already in the catalog: title and main author."""
    return (title.strip().casefold(), first_author.strip().casefold())


def read_demo_books(path=BOOKS_CSV):
    """Parse and check the demo CSV. Raises DemoDataError naming the first bad line."""
    books, seen = [], {}
    try:
        with open_text(path) as f:
            table = CsvTable(f, exact_width=True)
            if table.header != CSV_COLUMNS:
                raise DemoDataError(f"{path.name}: expected columns {','.join(CSV_COLUMNS)}, got {table.header}")
            rows = list(table)
    except CsvError as error:
        where = f" line {error.line}" if error.line else ""
        problem = {CsvError.WIDTH: "wrong number of columns", CsvError.UNREADABLE: f"unreadable CSV ({error.detail})"}
        raise DemoDataError(f"{path.name}{where}: {problem.get(error.reason, error)}") from None
    for line, cells in rows:

        def fail(message, line=line):
            raise DemoDataError(f"{path.name} line {line}: {message}")

        row = {name: value.strip() for name, value in zip(CSV_COLUMNS, cells, strict=True)}
        authors = tuple(name.strip() for name in row["authors"].split(";") if name.strip())
        genres = tuple(name.strip() for name in row["genres"].split(";") if name.strip())
        if not row["title"]:
            fail("missing title")
        if not authors:
            fail("missing authors")
        if not genres:
            fail("missing genres")
        if len(set(genres)) != len(genres) or len(set(authors)) != len(authors):
            fail("a genre or author is listed twice")
        try:
            year = int(row["year"])
        except ValueError:
            fail(f"year {row['year']!r} is not a whole number")
        if not -3000 <= year <= 2100:
            fail(f"year {year} is out of range")
        if row["isbn13"] and not isbn13_is_valid(row["isbn13"]):
            fail(f"ISBN-13 {row['isbn13']!r} is not valid")
        if row["series_position"] and not row["series"]:
            fail("series position without a series")
        goodreads_id = None
        if row["goodreads_book_id"]:
            if not row["goodreads_book_id"].isdigit():
                fail("goodreads_book_id is not a number")
            goodreads_id = int(row["goodreads_book_id"])
        if not row["description"]:
            fail("missing description")
        book = DemoBook(
            line=line, title=row["title"], original_title=row["original_title"], authors=authors, year=year,
            genres=genres, series=row["series"], series_position=row["series_position"], isbn13=row["isbn13"],
            goodreads_book_id=goodreads_id, description=row["description"],
        )  # fmt: skip
        if book.key in seen:
            fail(f"duplicate of line {seen[book.key]} ({book.title} by {authors[0]})")
        seen[book.key] = line
        books.append(book)
    if not books:
        raise DemoDataError(f"{path.name}: no books")
    return books


def _unique_slug(name, taken):
    base = slugify(name) or "item"
    slug, n = base[:240], 2
    while slug in taken:
        slug = f"{base[:240]}-{n}"
        n += 1
    taken.add(slug)
    return slug


def load_catalog(demo_books):
    """Create the demo's genres, authors and books that are missing. Returns ({key: book_id}, created)."""
    genre_names = sorted({name for book in demo_books for name in book.genres})
    genre_by_name = {g.name: g for g in Genre.objects.filter(name__in=genre_names)}
    taken = set(Genre.objects.values_list("slug", flat=True))
    new_genres = [Genre(name=name, slug=_unique_slug(name, taken)) for name in genre_names if name not in genre_by_name]
    Genre.objects.bulk_create(new_genres)
    genre_by_name = {g.name: g.pk for g in Genre.objects.filter(name__in=genre_names)}

    author_names = sorted({name for book in demo_books for name in book.authors})
    author_by_name = {}
    for author in Author.objects.filter(name__in=author_names).order_by("pk"):
        author_by_name.setdefault(author.name, author.pk)
    taken = set(Author.objects.values_list("slug", flat=True))
    new_authors = [
        Author(name=name, slug=_unique_slug(name, taken)) for name in author_names if name not in author_by_name
    ]
    Author.objects.bulk_create(new_authors, batch_size=BATCH_SIZE)
    for author in Author.objects.filter(name__in=[a.name for a in new_authors]):
        author_by_name.setdefault(author.name, author.pk)

    # Existing books, keyed by title and main author, so a second run (or a catalog that already
    # holds some of these books) adds nothing twice. Existing books are left as staff curated them.
    book_ids, seen_books = {}, set()
    titles = {book.title for book in demo_books}
    existing = BookAuthor.objects.filter(book__title__in=titles).order_by("book_id", "position", "pk")
    for book_id, title, author_name in existing.values_list("book_id", "book__title", "author__name"):
        if book_id not in seen_books:  # the first row of each book is its main author
            seen_books.add(book_id)
            book_ids.setdefault(book_key(title, author_name), book_id)

    missing = [book for book in demo_books if book.key not in book_ids]
    new_books = []
    for book in missing:
        new_book = Book(
            title=book.title,
            original_title=book.original_title,
            series=book.series,
            series_position=book.series_position,
            publication_year=book.year,
            isbn13=book.isbn13,
            goodreads_book_id=book.goodreads_book_id,
            language="eng",
            description=book.description,
        )
        new_book.search_text = new_book.composed_search_text(book.authors)
        new_books.append(new_book)
    Book.objects.bulk_create(new_books, batch_size=BATCH_SIZE)
    # bulk_create sets primary keys on PostgreSQL and SQLite alike.
    BookAuthor.objects.bulk_create(
        [
            BookAuthor(book_id=book.pk, author_id=author_by_name[name], position=position)
            for book, demo in zip(new_books, missing, strict=True)
            for position, name in enumerate(demo.authors)
        ],
        batch_size=BATCH_SIZE,
    )
    BookGenre = Book.genres.through
    BookGenre.objects.bulk_create(
        [
            BookGenre(book_id=book.pk, genre_id=genre_by_name[name])
            for book, demo in zip(new_books, missing, strict=True)
            for name in demo.genres
        ],
        batch_size=BATCH_SIZE,
    )
    for book, demo in zip(new_books, missing, strict=True):
        book_ids[demo.key] = book.pk
    return book_ids, len(new_books)


def _weighted_sample(rng, items, weights, k):
    """k distinct items, each drawn with probability proportional to its weight (Efraimidis–Spirakis)."""
    if k <= 0 or not items:
        return []
    keyed = sorted(zip(items, weights, strict=True), key=lambda pair: rng.random() ** (1.0 / pair[1]), reverse=True)
    return [item for item, _ in keyed[:k]]


def _stars(rng, mean, spread):
    return min(5, max(1, round(rng.gauss(mean, spread))))


def simulate_reader(index, demo_books, popularity, quality, seed=SEED):
    """One demo reader's favourite genres and {book index: stars}, the same for the same index and seed.

    Each reader has their own random stream, so reader 7 rates the same books whatever the reader count.
    """
    rng = random.Random(f"bookrec-demo:{seed}:{index}")
    genres = sorted({name for book in demo_books for name in book.genres})
    counts, weights = zip(*FAVOURITE_GENRE_COUNTS, strict=True)
    favourites = set(rng.sample(genres, rng.choices(counts, weights)[0]))
    n = round(rng.lognormvariate(math.log(RATINGS_PER_READER_MEDIAN), RATINGS_PER_READER_SPREAD))
    n = max(MIN_RATINGS_PER_READER, min(MAX_RATINGS_PER_READER, n))

    liked = [i for i, book in enumerate(demo_books) if favourites.intersection(book.genres)]
    others = [i for i, book in enumerate(demo_books) if not favourites.intersection(book.genres)]
    n_liked = min(len(liked), round(n * FAVOURITE_SHARE))
    chosen_liked = _weighted_sample(rng, liked, [popularity[i] for i in liked], n_liked)
    chosen_others = _weighted_sample(rng, others, [popularity[i] for i in others], n - n_liked)

    # A reader's generosity shifts all their stars a little; a book's quality shifts everyone's.
    generosity = rng.gauss(0, 0.3)
    ratings = {i: _stars(rng, FAVOURITE_MEAN + generosity + quality[i], FAVOURITE_SPREAD) for i in chosen_liked}
    ratings.update({i: _stars(rng, OTHER_MEAN + generosity + quality[i], OTHER_SPREAD) for i in chosen_others})
    return favourites, ratings


def book_popularity_and_quality(demo_books, seed=SEED):
    """Per book: a popularity weight (Zipf by its order within its first genre in the CSV, which lists
    the best-known books first) and a small quality offset to its stars, both deterministic."""
    rank_in_genre, seen = [], {}
    for book in demo_books:
        rank_in_genre.append(seen.get(book.genres[0], 0))
        seen[book.genres[0]] = rank_in_genre[-1] + 1
    rng = random.Random(f"bookrec-demo-books:{seed}")
    # A book in several genres sits in more readers' favourite pools; damp it so it doesn't top every chart.
    popularity = [
        rng.lognormvariate(0, 0.2) / (rank + 2) ** POPULARITY_EXPONENT / math.sqrt(len(book.genres))
        for rank, book in zip(rank_in_genre, demo_books, strict=True)
    ]
    quality = [rng.uniform(-0.35, 0.35) for _ in demo_books]
    return popularity, quality


def load_readers_and_ratings(demo_books, book_ids, n_readers, summary, seed=SEED):
    """Create the demo readers 0..n-1 and upsert their ratings: missing ones inserted, changed ones updated."""
    external_ids = [f"reader-{i:05d}" for i in range(n_readers)]
    existing = set(Rater.objects.filter(source=DEMO_SOURCE, user__isnull=True).values_list("external_id", flat=True))
    new_raters = [Rater(source=DEMO_SOURCE, external_id=ext) for ext in external_ids if ext not in existing]
    Rater.objects.bulk_create(new_raters, batch_size=BATCH_SIZE)
    summary.readers_created = len(new_raters)
    rater_ids = dict(
        Rater.objects.filter(source=DEMO_SOURCE, user__isnull=True, external_id__in=external_ids).values_list(
            "external_id", "pk"
        )
    )

    popularity, quality = book_popularity_and_quality(demo_books, seed)
    wanted = {}
    for i, ext in enumerate(external_ids):
        _, ratings = simulate_reader(i, demo_books, popularity, quality, seed)
        for book_index, stars in ratings.items():
            wanted[(rater_ids[ext], book_ids[demo_books[book_index].key])] = stars

    current = {
        (rater_id, book_id): (pk, value)
        for pk, rater_id, book_id, value in Rating.objects.filter(rater_id__in=rater_ids.values()).values_list(
            "pk", "rater_id", "book_id", "value"
        )
    }
    to_create = [
        Rating(rater_id=rater_id, book_id=book_id, value=stars)
        for (rater_id, book_id), stars in wanted.items()
        if (rater_id, book_id) not in current
    ]
    to_update = [
        Rating(pk=current[pair][0], value=stars)
        for pair, stars in wanted.items()
        if pair in current and current[pair][1] != stars
    ]
    Rating.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    # bulk_update skips auto_now, so set `updated` by hand: retrain notices the change.
    if to_update:
        now = timezone.now()
        for rating in to_update:
            rating.updated = now
        Rating.objects.bulk_update(to_update, ["value", "updated"], batch_size=BATCH_SIZE)
    summary.readers = len(rater_ids)
    summary.ratings_created = len(to_create)
    summary.ratings_changed = len(to_update)


def _verified_email(user):
    """Mark the address verified, so the demo logins work even where allauth requires verification."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})


def ensure_accounts(book_ids, summary):
    """The demo login and the staff account. A password is set only when the account is created."""
    User = get_user_model()
    demo_user = User.objects.filter(email=DEMO_EMAIL).first()
    if demo_user is None:
        demo_user = User.objects.create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD, display_name=DEMO_DISPLAY_NAME)
        summary.accounts_created.append(DEMO_EMAIL)
    staff = User.objects.filter(email=STAFF_EMAIL).first()
    if staff is None:
        staff = User.objects.create_superuser(
            email=STAFF_EMAIL, password=STAFF_PASSWORD, display_name=STAFF_DISPLAY_NAME
        )
        summary.accounts_created.append(STAFF_EMAIL)
    _verified_email(demo_user)
    _verified_email(staff)

    # The demo reader's own ratings are only added where missing: a rating they changed stays changed.
    rater = Rater.objects.get_or_create(user=demo_user)[0]
    already = set(Rating.objects.filter(rater=rater).values_list("book_id", flat=True))
    Rating.objects.bulk_create(
        [
            Rating(rater=rater, book_id=book_ids[book_key(title, author)], value=stars)
            for title, author, stars in DEMO_READER_RATINGS
            if book_ids[book_key(title, author)] not in already
        ]
    )
    rated = set(Rating.objects.filter(rater=rater).values_list("book_id", flat=True))
    put_rated_on_read(demo_user, rated)
    ShelfEntry.objects.bulk_create(
        [
            ShelfEntry(user=demo_user, book_id=book_ids[book_key(title, author)])
            for title, author in DEMO_READER_WANTS
            if book_ids[book_key(title, author)] not in rated
        ],
        ignore_conflicts=True,
    )
    return demo_user, staff


def load_demo(readers=DEFAULT_READERS, *, path=BOOKS_CSV, seed=SEED, dry_run=False, progress=None):
    """Load (or top up) the whole demo: catalog, readers, ratings and accounts. Returns a DemoSummary."""
    if not isinstance(readers, int) or isinstance(readers, bool) or not 1 <= readers <= MAX_READERS:
        raise ValueError(f"readers must be a whole number from 1 to {MAX_READERS}, not {readers!r}")
    report = progress or (lambda message: None)
    started = time.monotonic()
    summary = DemoSummary()
    demo_books = read_demo_books(path)
    for title, author, *_ in [*DEMO_READER_RATINGS, *DEMO_READER_WANTS]:
        if not any(book.key == book_key(title, author) for book in demo_books):
            raise DemoDataError(f"the demo reader's book {title!r} by {author} is not in {path.name}")

    report(f"Loading {len(demo_books)} books from {path.name}…")
    with transaction.atomic():
        book_ids, summary.books_created = load_catalog(demo_books)
        summary.books = len(book_ids)
        summary.authors = len({name for book in demo_books for name in book.authors})
        summary.genres = len({name for book in demo_books for name in book.genres})
        report(f"Catalog loaded; simulating {readers} demo readers…")
        load_readers_and_ratings(demo_books, book_ids, readers, summary, seed)
        report("Ratings written; creating the demo accounts and recounting rating summaries…")
        ensure_accounts(book_ids, summary)
        refresh_rating_summaries()
        summary.ratings = Rating.objects.filter(rater__source=DEMO_SOURCE, rater__user__isnull=True).count()
        if dry_run:
            transaction.set_rollback(True)
    summary.seconds = time.monotonic() - started
    return summary
