"""Reading the goodbooks-10k catalog (books.csv, tags.csv, book_tags.csv) and writing it as books, authors and genres.

The ratings half lives in accounts.dataset_import; the import_goodbooks command runs both.
"""

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from .models import Author, Book, BookAuthor, Genre, parse_series
from .tabular import (
    CsvError,
    CsvTable,
    has_broken_encoding,
    in_batches,
    isbn10_is_valid,
    isbn10_to_isbn13,
    isbn13_is_valid,
    open_text,
)

BOOKS_FILE = "books.csv"
TAGS_FILE = "tags.csv"
BOOK_TAGS_FILE = "book_tags.csv"
RATINGS_FILE = "ratings.csv"

REQUIRED_COLUMNS = {
    BOOKS_FILE: ["book_id", "goodreads_book_id", "isbn", "isbn13", "authors", "original_publication_year",
                 "original_title", "title", "language_code", "image_url"],
    TAGS_FILE: ["tag_id", "tag_name"],
    BOOK_TAGS_FILE: ["goodreads_book_id", "tag_id", "count"],
    RATINGS_FILE: ["user_id", "book_id", "rating"],
}

# Goodreads shelf names that mean a genre, by the genre they mean. Shelves not listed here
# ("to-read", "owned", "favorites", "kindle", "read-in-2015", "fiction"…) never become genres.
# A few combined shelves ("sci-fi-fantasy") count towards both genres.
GENRE_SHELVES = {
    "Fantasy": ["fantasy", "high-fantasy", "epic-fantasy", "ya-fantasy", "sci-fi-fantasy", "scifi-fantasy",
                "fantasy-sci-fi", "fantasy-scifi", "science-fiction-fantasy", "sci-fi-and-fantasy", "sff", "magic"],
    "Urban Fantasy": ["urban-fantasy"],
    "Science Fiction": ["science-fiction", "sci-fi", "scifi", "sf", "sci-fi-fantasy", "scifi-fantasy", "fantasy-sci-fi",
                        "fantasy-scifi", "science-fiction-fantasy", "sci-fi-and-fantasy", "sff", "space-opera"],
    "Dystopian": ["dystopian", "dystopia", "post-apocalyptic", "apocalyptic"],
    "Young Adult": ["young-adult", "ya", "teen", "ya-fiction", "young-adult-fiction", "ya-books", "ya-lit", "teen-fiction"],
    "Children's": ["childrens", "children", "children-s", "children-s-books", "kids", "childrens-books", "kids-books",
                   "picture-books", "picture-book", "children-s-literature", "children-s-lit", "juvenile",
                   "juvenile-fiction", "children-books", "childrens-lit"],
    "Middle Grade": ["middle-grade"],
    "Classics": ["classics", "classic", "classic-literature", "classic-fiction", "modern-classics", "classic-lit"],
    "Romance": ["romance", "contemporary-romance", "historical-romance", "ya-romance", "romantic-suspense"],
    "Paranormal": ["paranormal", "supernatural", "vampires", "vampire", "vamps", "werewolves", "shapeshifters",
                   "shifters", "ya-paranormal", "paranormal-fantasy", "fantasy-paranormal", "angels", "demons"],
    "Paranormal Romance": ["paranormal-romance", "pnr"],
    "Historical Fiction": ["historical-fiction", "historical"],
    "Mystery": ["mystery", "mysteries", "detective", "murder-mystery", "mystery-thriller", "mystery-suspense",
                "mystery-crime", "crime-mystery"],
    "Thriller": ["thriller", "thrillers", "suspense", "mystery-thriller", "suspense-thriller", "espionage",
                 "crime-thriller"],
    "Crime": ["crime", "crime-fiction", "crime-thriller", "mystery-crime", "crime-mystery"],
    "Horror": ["horror"],
    "Nonfiction": ["non-fiction", "nonfiction"],
    "Biography & Memoir": ["biography", "memoir", "memoirs", "autobiography", "biographies", "biography-memoir",
                           "memoir-biography"],
    "History": ["history", "american-history"],
    "Science": ["science"],
    "Philosophy": ["philosophy"],
    "Psychology": ["psychology"],
    "Self-Help": ["self-help", "self-improvement", "personal-development"],
    "Business": ["business", "economics", "leadership"],
    "Religion & Spirituality": ["religion", "christian", "christianity", "religious", "spirituality", "spiritual"],
    "Humor": ["humor", "humour", "funny", "comedy", "humorous", "satire"],
    "Poetry": ["poetry"],
    "Plays": ["plays", "play", "theatre"],
    "Graphic Novels & Comics": ["graphic-novels", "graphic-novel", "comics", "comic", "manga", "comics-graphic-novels",
                                "graphic-novels-comics", "comic-books", "comics-and-graphic-novels", "cómics", "mangá"],
    "Short Stories": ["short-stories"],
    "Chick Lit": ["chick-lit", "chicklit", "chic-lit"],
    "New Adult": ["new-adult"],
    "Erotica": ["erotica", "erotic", "erotic-romance", "bdsm"],
    "Literary Fiction": ["literary-fiction", "literary"],
    "Contemporary": ["contemporary", "contemporary-fiction", "realistic-fiction", "ya-contemporary"],
    "Adventure": ["adventure", "action-adventure"],
    "Mythology & Fairy Tales": ["mythology", "fairy-tales", "fairy-tale", "retellings"],
    "Steampunk": ["steampunk"],
    "War": ["war", "military", "wwii", "world-war-ii"],
    "Travel": ["travel"],
    "Food & Cooking": ["cookbooks", "food"],
    "Politics": ["politics"],
    "LGBTQ+": ["lgbt", "lgbtq"],
    "Essays": ["essays"],
    "Sports": ["sports"],
}
SHELF_TO_GENRES = defaultdict(list)
for _genre, _shelves in GENRE_SHELVES.items():
    for _shelf in _shelves:
        SHELF_TO_GENRES[_shelf].append(_genre)

GENRES_PER_BOOK = 3
# A book gets a genre only if that many readers shelved it so, and at least this share of its strongest genre.
GENRE_MIN_SHELVINGS = 5
GENRE_MIN_SHARE = 0.15

MAX_REPORTED_PROBLEMS = 20


class GoodbooksFormatError(Exception):
    """A file is missing or is not in the goodbooks format: nothing is written."""


@dataclass
class Problems:
    """Bad rows, by file: each (line number, message). Bad rows are skipped, the rest is imported."""

    by_file: dict = field(default_factory=lambda: defaultdict(list))

    def add(self, file_name, line, message):
        self.by_file[file_name].append((line, message))

    def count(self, file_name=None):
        if file_name is not None:
            return len(self.by_file.get(file_name, ()))
        return sum(len(rows) for rows in self.by_file.values())

    def lines(self, limit=MAX_REPORTED_PROBLEMS):
        """Human-readable lines: the first `limit` problems of each file, then how many more."""
        out = []
        for file_name, rows in self.by_file.items():
            for line, message in rows[:limit]:
                out.append(f"{file_name} line {line}: {message}")
            if len(rows) > limit:
                out.append(f"{file_name}: … and {len(rows) - limit:,} more bad rows")
        return out


@dataclass
class BookRow:
    dataset_id: int
    goodreads_book_id: int
    title: str
    original_title: str
    series: str
    series_position: str
    authors: list
    publication_year: int | None
    isbn10: str
    isbn13: str
    language: str
    cover_url: str


@dataclass
class CatalogResult:
    book_ids: dict  # dataset book_id → Book pk
    created: int = 0
    updated: int = 0
    authors_created: int = 0
    genres_created: int = 0
    books_with_genres: int = 0


def check_files(directory, *, with_ratings=True):
    """Which goodbooks files to read, after checking that each exists and has the expected header.

    Raises GoodbooksFormatError before anything is written when books.csv is missing, when only one of
    tags.csv / book_tags.csv is present, or when any header lacks a required column.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise GoodbooksFormatError(f"{directory} is not a directory.")
    files = {BOOKS_FILE: directory / BOOKS_FILE}
    if not files[BOOKS_FILE].is_file():
        raise GoodbooksFormatError(f"{files[BOOKS_FILE]} is missing: it is the one file an import needs.")
    tags, book_tags = directory / TAGS_FILE, directory / BOOK_TAGS_FILE
    if tags.is_file() != book_tags.is_file():
        missing = book_tags if tags.is_file() else tags
        raise GoodbooksFormatError(f"{missing} is missing: genres need both {TAGS_FILE} and {BOOK_TAGS_FILE}.")
    if tags.is_file():
        files[TAGS_FILE], files[BOOK_TAGS_FILE] = tags, book_tags
    if with_ratings and (directory / RATINGS_FILE).is_file():
        files[RATINGS_FILE] = directory / RATINGS_FILE
    for name, path in files.items():
        read_header(path, REQUIRED_COLUMNS[name])
    return files


def read_header(path, required):
    try:
        with open_text(path) as handle:
            return CsvTable(handle, required=required).header
    except CsvError as error:
        if error.reason == CsvError.NOT_TEXT:
            raise GoodbooksFormatError(f"{path.name} is not UTF-8 text (expected a CSV file); nothing was imported.") from None
        if error.reason == CsvError.EMPTY:
            raise GoodbooksFormatError(f"{path} is empty: expected a header with {', '.join(required)}.") from None
        if error.reason == CsvError.MISSING_COLUMNS:
            raise GoodbooksFormatError(
                f"{path.name} has the wrong header: missing {', '.join(error.missing)} "
                f"(found {', '.join(error.header[:12])[:200]})."
            ) from None
        raise GoodbooksFormatError(f"{path} cannot be read: {error}") from None
    except OSError as error:
        raise GoodbooksFormatError(f"{path} cannot be read: {error}") from error


def read_rows(path, required, problems):
    """Yield (line number, {column: value}) for each well-formed row; report the others."""
    name = path.name
    with open_text(path) as handle:
        table = CsvTable(handle, required=required)
        width = max(table.index[column] for column in required) + 1
        try:
            for line, cells in table:
                if len(cells) < width:
                    problems.add(name, line, f"missing columns: expected at least {width}, found {len(cells)}")
                    continue
                values = table.values(cells, required)
                if has_broken_encoding(values.values()):
                    problems.add(name, line, "broken text encoding (not UTF-8)")
                    continue
                yield line, values
        except CsvError as error:
            # The parser cannot tell where the next row starts: importing the rows before it would be half a file.
            raise GoodbooksFormatError(
                f"{name} line {error.line}: unreadable CSV ({error.detail}); nothing was imported."
            ) from error


def parse_id(value):
    """A positive whole number, also when written as a float ("12.0"); None otherwise."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        return None
    return int(number)


def parse_year(value):
    """'2008.0' → 2008; empty or unparseable → None; negative years (BCE) are kept."""
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value() or not -32768 < number < 32768 or number == 0:
        return None
    return int(number)


def parse_isbn10(value):
    """goodbooks stores ISBN-10 as a number, dropping leading zeros: pad back and keep it only if valid."""
    value = value.strip().upper()
    if value.endswith(".0"):
        value = value[:-2]
    if not re.fullmatch(r"\d{1,9}[\dX]", value):
        return ""
    value = value.zfill(10)
    return value if isbn10_is_valid(value) else ""


def parse_isbn13(value, isbn10=""):
    """An ISBN-13 only when it survives the float round trip exactly; else derived from the ISBN-10, else ''.

    "9.78043902348e+12" has lost its last digit to the float, so it cannot be trusted.
    """
    candidate = ""
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is not None and number.is_finite() and number == number.to_integral_value():
        exact = number.as_tuple().exponent <= 0 or len(number.normalize().as_tuple().digits) >= 13
        digits = str(int(number))
        if exact and isbn13_is_valid(digits):
            candidate = digits
    if not candidate and isbn10:
        candidate = isbn10_to_isbn13(isbn10)
    return candidate


def parse_cover_url(value):
    if not value.startswith(("https://", "http://")) or "nophoto" in value or len(value) > 500:
        return ""
    return value


def read_books(path, problems):
    """The valid rows of books.csv as BookRows; duplicate ids and rows without a title are reported."""
    rows, seen_dataset, seen_goodreads = [], set(), set()
    for line, values in read_rows(path, REQUIRED_COLUMNS[BOOKS_FILE], problems):
        dataset_id, goodreads_id = parse_id(values["book_id"]), parse_id(values["goodreads_book_id"])
        if dataset_id is None or goodreads_id is None:
            problems.add(path.name, line, "book_id and goodreads_book_id must be positive whole numbers")
            continue
        if dataset_id in seen_dataset or goodreads_id in seen_goodreads:
            problems.add(path.name, line, f"duplicate book (book_id {dataset_id}, goodreads_book_id {goodreads_id})")
            continue
        raw_title = values["title"] or values["original_title"]
        if not raw_title:
            problems.add(path.name, line, "the book has no title")
            continue
        seen_dataset.add(dataset_id)
        seen_goodreads.add(goodreads_id)
        title, series, position = parse_series(raw_title)
        authors = list(dict.fromkeys(name.strip()[:255] for name in values["authors"].split(",") if name.strip()))
        if not authors:
            problems.add(path.name, line, "the book has no author (imported without one)")
        isbn10 = parse_isbn10(values["isbn"])
        original_title = values["original_title"]
        rows.append(BookRow(
            dataset_id=dataset_id,
            goodreads_book_id=goodreads_id,
            title=title[:500],
            original_title="" if original_title == title else original_title[:500],
            series=series[:255],
            series_position=position,
            authors=authors,
            publication_year=parse_year(values["original_publication_year"]),
            isbn10=isbn10,
            isbn13=parse_isbn13(values["isbn13"], isbn10),
            language=values["language_code"][:16],
            cover_url=parse_cover_url(values["image_url"]),
        ))
    return rows


def read_book_genres(tags_path, book_tags_path, problems):
    """{goodreads_book_id: [genre names, strongest first]} from readers' shelf counts."""
    genre_tags = {}
    for line, values in read_rows(tags_path, REQUIRED_COLUMNS[TAGS_FILE], problems):
        tag_id = values["tag_id"]
        if not (tag_id.isascii() and tag_id.isdigit()):
            problems.add(tags_path.name, line, f"tag_id {tag_id[:40]!r} is not a number")
            continue
        genres = SHELF_TO_GENRES.get(values["tag_name"].lower())
        if genres:
            genre_tags[int(tag_id)] = genres
    # The original file repeats a few (book, tag) pairs: count each pair once, at its largest count.
    shelvings = defaultdict(dict)
    for line, values in read_rows(book_tags_path, REQUIRED_COLUMNS[BOOK_TAGS_FILE], problems):
        book_id, tag_id = parse_id(values["goodreads_book_id"]), values["tag_id"]
        try:
            count = int(values["count"])
        except ValueError:
            count = None
        if book_id is None or not (tag_id.isascii() and tag_id.isdigit()) or count is None:
            problems.add(book_tags_path.name, line, "goodreads_book_id, tag_id and count must be whole numbers")
            continue
        if count < 0:
            continue  # the dataset has a few -1 counts: no readers, not an error worth a line
        tag_id = int(tag_id)
        if tag_id in genre_tags:
            pairs = shelvings[book_id]
            pairs[tag_id] = max(count, pairs.get(tag_id, 0))
    result = {}
    for book_id, pairs in shelvings.items():
        scores = defaultdict(int)
        for tag_id, count in pairs.items():
            for genre in genre_tags[tag_id]:
                scores[genre] += count
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        if not ranked:
            continue
        floor = max(GENRE_MIN_SHELVINGS, ranked[0][1] * GENRE_MIN_SHARE)
        chosen = [genre for genre, score in ranked[:GENRES_PER_BOOK] if score >= floor]
        if chosen:
            result[book_id] = chosen
    return result


def author_slug(name):
    slug = slugify(name)[:200]
    if not slug:  # names in scripts slugify() drops entirely
        slug = "author-" + hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return slug


BOOK_FIELDS = ["title", "original_title", "series", "series_position", "publication_year", "isbn10", "isbn13",
               "language", "cover_url", "search_text"]


@transaction.atomic
def write_catalog(rows, book_genres, progress=lambda message: None):
    """Create or update books (matched on goodreads_book_id), their authors and genres. Idempotent."""
    # Authors, matched by slug so "J.K. Rowling" written twice is one author.
    author_ids = dict(Author.objects.values_list("slug", "id"))
    new_authors = {}
    for row in rows:
        for name in row.authors:
            slug = author_slug(name)
            if slug not in author_ids and slug not in new_authors:
                new_authors[slug] = Author(name=name, slug=slug)
    Author.objects.bulk_create(new_authors.values(), batch_size=1000)
    if new_authors:
        author_ids = dict(Author.objects.values_list("slug", "id"))
    author_name = {author_ids[slug]: name for slug, name in Author.objects.values_list("slug", "name")}
    progress(f"authors: {len(new_authors):,} new, {len(author_ids):,} in the catalog")

    existing = dict(Book.objects.filter(goodreads_book_id__isnull=False).values_list("goodreads_book_id", "id"))
    books = []
    for row in rows:
        ids = [author_ids[author_slug(name)] for name in row.authors]
        book = Book(
            goodreads_book_id=row.goodreads_book_id,
            title=row.title,
            original_title=row.original_title,
            series=row.series,
            series_position=row.series_position,
            publication_year=row.publication_year,
            isbn10=row.isbn10,
            isbn13=row.isbn13,
            language=row.language,
            cover_url=row.cover_url,
        )
        book.search_text = book.composed_search_text(list(dict.fromkeys(author_name[i] for i in ids)))
        books.append(book)
    # One upsert keyed on goodreads_book_id: new books are inserted, known ones updated in place;
    # staff choices (hidden flag, description, genres of books without shelf data) are left alone.
    for batch in in_batches(books, 1000):
        Book.objects.bulk_create(batch, update_conflicts=True, unique_fields=["goodreads_book_id"],
                                 update_fields=[*BOOK_FIELDS, "updated"])
    book_pk = dict(Book.objects.filter(goodreads_book_id__isnull=False).values_list("goodreads_book_id", "id"))
    result = CatalogResult(book_ids={row.dataset_id: book_pk[row.goodreads_book_id] for row in rows})
    result.created = sum(1 for row in rows if row.goodreads_book_id not in existing)
    result.updated = len(rows) - result.created
    result.authors_created = len(new_authors)
    progress(f"books: {result.created:,} new, {result.updated:,} updated")

    desired_authors = {
        book_pk[row.goodreads_book_id]: list(dict.fromkeys(author_ids[author_slug(n)] for n in row.authors))
        for row in rows
    }
    _sync_links(BookAuthor, "author_id", desired_authors, ordered=True)

    if book_genres:
        genre_ids = dict(Genre.objects.values_list("name", "id"))
        names = {name for genres in book_genres.values() for name in genres}
        new_genres = [Genre(name=name, slug=slugify(name)) for name in sorted(names - genre_ids.keys())]
        Genre.objects.bulk_create(new_genres)
        result.genres_created = len(new_genres)
        genre_ids = dict(Genre.objects.values_list("name", "id"))
        desired_genres = {
            book_pk[row.goodreads_book_id]: [genre_ids[name] for name in book_genres[row.goodreads_book_id]]
            for row in rows if row.goodreads_book_id in book_genres
        }
        _sync_links(Book.genres.through, "genre_id", desired_genres, ordered=False)
        result.books_with_genres = len(desired_genres)
        progress(f"genres: {len(genre_ids):,} genres, {len(desired_genres):,} books with genres")
    return result


def _sync_links(model, target, desired, *, ordered):
    """Make each book's links (authors or genres) exactly the desired ones, touching only books that differ."""
    current = defaultdict(list)
    fields = ["book_id", target]
    # Authors are compared in their listed order, so read them by position: ordering by author_id first
    # would make every multi-author book whose authors aren't listed in id order look changed.
    order = ["book_id", "position"] if ordered else fields
    for values in model.objects.order_by(*order).values_list(*fields):
        current[values[0]].append(values[1])
    changed = [book_id for book_id, ids in desired.items()
               if (current.get(book_id, []) if ordered else sorted(current.get(book_id, []))) != (ids if ordered else sorted(ids))]
    for batch in in_batches(changed):
        model.objects.filter(book_id__in=batch).delete()
    links = []
    for book_id in changed:
        for position, target_id in enumerate(desired[book_id]):
            link = model(book_id=book_id, **{target: target_id})
            if ordered:
                link.position = position
            links.append(link)
    model.objects.bulk_create(links, batch_size=2000)
    return len(changed)
