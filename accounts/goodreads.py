"""Goodreads library export import: read the CSV, match its books to the catalog, write ratings and shelves.

The re-import rule: the import only changes what it owns. For each matched book,
- no BookRec rating and never imported before → the Goodreads rating is added;
- the current rating still equals what the last import set → it is updated to the new Goodreads value;
- the reader rated it on BookRec first, changed the imported rating, or removed it → left alone ("kept");
- "to-read" puts the book on want-to-read once; if the reader later takes it off, a re-import does not put it back.
ImportedBook remembers, per reader and book, what the last import wrote.
"""

import io
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher

from django.db import transaction
from django.db.models import Q

from catalog.models import Author, Book, BookAuthor
from catalog.tabular import CsvError, CsvTable, decode_text, in_batches

from .models import GoodreadsImport, ImportedBook, Rating, ShelfEntry
from .ratings import set_ratings

MAX_BYTES = 5 * 1024 * 1024
REQUIRED_COLUMNS = ("Book Id", "Title", "Author", "My Rating", "Exclusive Shelf")
# How many reasons the results page lists; the counts cover every row.
MAX_LISTED_SKIPS = 500
TITLE_SIMILARITY = 0.9
# Book.title and Author.name are at most 500 and 255 characters: a longer cell can't be close to one, and
# normalize_title's series pattern backtracks quadratically on long runs of spaces, so it isn't normalized.
MAX_MATCHED_LENGTH = 1000
# Book.goodreads_book_id is a PositiveBigIntegerField: a bigger number can't be in the catalog (or be stored).
MAX_GOODREADS_ID = 2**63 - 1

# Numbers in ASCII digits only: str.isdigit() accepts "²" (which int() refuses) and int() reads "٣", and
# a cell of thousands of digits would hit int()'s digit limit, so leading zeros aside, 19 digits at most.
WHOLE_NUMBER = re.compile(r"0*([0-9]{1,19})")
DATE = re.compile(r"([0-9]{4})([/-])([0-9]{1,2})\2([0-9]{1,2})")  # 2019/05/12 or 2019-05-12
ISBN = re.compile(r"[0-9]{9}[0-9X]|[0-9]{13}")

REASONS = {
    "not_in_catalog": "Not in our catalog",
    "ambiguous": "More than one book in our catalog could be this one",
    "duplicate": "Appears more than once in the file",
    "bad_rating": "My Rating is not a number from 0 to 5",
    "kept": "You changed this rating on BookRec, so we kept yours",
    "nothing": "Not rated and not on to-read",
}


class ImportError_(Exception):
    """The file as a whole can't be imported; the message is shown to the reader."""


@dataclass
class Row:
    line: int
    goodreads_id: int | None
    title: str
    author: str
    isbns: list = field(default_factory=list)
    rating: int = 0
    to_read: bool = False
    date_read: object = None


def read_export(data: bytes):
    """Decode and parse an uploaded export into Rows, or raise ImportError_ with a reason."""
    if len(data) > MAX_BYTES:
        raise ImportError_("That file is over 5 MB. A Goodreads library export is much smaller; is it the right file?")
    if not data.strip():
        raise ImportError_("That file is empty.")
    try:
        table = CsvTable(io.StringIO(decode_text(data), newline=""), required=REQUIRED_COLUMNS, exact_width=True)
        rows = [_row_from_record(line, dict(zip(table.header, cells, strict=True))) for line, cells in table]
    except CsvError as error:
        raise ImportError_(_problem(error)) from None
    if not rows:
        raise ImportError_("That export has no books in it.")
    return rows


def _problem(error):
    """What the reader is told about a file that can't be read as a whole."""
    if error.reason == CsvError.NOT_TEXT:
        return ("That file is not UTF-8 text. Upload the CSV exactly as Goodreads exported it "
                "(My Books → Import and export → Export library).")
    if error.reason in (CsvError.EMPTY, CsvError.MISSING_COLUMNS):
        return ("This doesn't look like a Goodreads library export: it has no "
                + ", ".join(f"“{name}”" for name in error.missing or REQUIRED_COLUMNS)
                + " column. Upload the comma-separated file Goodreads exports.")
    if error.reason == CsvError.WIDTH:
        # Goodreads writes every column on every row: a different count means a quote was left
        # open (or closed early) and the cells after it have shifted into the wrong columns.
        return (f"Line {error.line} has {error.width} columns where the header has {len(error.header)}: "
                "probably a quote (\") that is not closed. Nothing was imported.")
    return f"The CSV could not be read near line {error.line}: {error.detail}."


def _cell(record, name):
    value = record.get(name)
    return value.strip() if isinstance(value, str) else ""


def _isbn(value):
    """Goodreads writes ISBNs as ="9780…" (and ="" when unknown)."""
    value = value.strip()
    if value.startswith("="):
        value = value[1:]
    value = value.strip('"').replace("-", "").replace(" ", "").upper()
    return value if ISBN.fullmatch(value) else ""


def _whole_number(value):
    """The int a cell of ASCII digits means, or None for anything else."""
    match = WHOLE_NUMBER.fullmatch(value)
    return int(match[1]) if match else None


def _date(value):
    match = DATE.fullmatch(value)
    if match:
        try:
            return date(int(match[1]), int(match[3]), int(match[4]))
        except ValueError:  # 2019/02/30
            pass
    return None


def _row_from_record(line, record):
    goodreads_id = _whole_number(_cell(record, "Book Id"))
    rating = _whole_number(_cell(record, "My Rating") or "0")
    return Row(
        line=line,
        goodreads_id=goodreads_id if goodreads_id and goodreads_id <= MAX_GOODREADS_ID else None,
        title=_cell(record, "Title"),
        author=_cell(record, "Author"),
        isbns=[isbn for isbn in (_isbn(_cell(record, "ISBN13")), _isbn(_cell(record, "ISBN"))) if isbn],
        rating=rating if rating is not None and rating <= 5 else -1,
        to_read=_cell(record, "Exclusive Shelf").lower() == "to-read",
        date_read=_date(_cell(record, "Date Read")),
    )


SERIES_SUFFIX = re.compile(r"\s*\([^()]*#[^()]*\)\s*$")
APOSTROPHES = re.compile(r"['’‘`]")
NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
LEADING_ARTICLE = re.compile(r"^(the|a|an) ")


def normalize_title(title):
    """Case, accents, punctuation and a trailing "(Series, #2)" don't tell books apart."""
    title = SERIES_SUFFIX.sub("", title)
    title = APOSTROPHES.sub("", title)  # Sorcerer's and Sorcerer’s alike
    if not title.isascii():  # most titles are, and the catalog's are normalized by the hundred thousand
        title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    title = NOT_ALPHANUMERIC.sub(" ", title.lower()).strip()
    return LEADING_ARTICLE.sub("", title)


def _surname(author):
    words = normalize_title(author.split(",")[0] if "," in author else author).split()
    if "," in author:
        return words[0] if words else ""
    return words[-1] if words else ""


def match_rows(rows):
    """[(row, book id or None, reason)]: by Goodreads id, then ISBN, then an unambiguous close title and author.

    Each lookup is made for the whole file at once, in `__in` batches of about a thousand values on SQLite and
    ten thousand on PostgreSQL, so a file's rows don't cost a query each.
    """
    by_goodreads = {}
    for batch in in_batches(sorted({row.goodreads_id for row in rows if row.goodreads_id})):
        books = Book.objects.filter(goodreads_book_id__in=batch).order_by()
        by_goodreads.update(books.values_list("goodreads_book_id", "pk"))
    by_isbn = defaultdict(set)
    for batch in in_batches(sorted({isbn for row in rows for isbn in row.isbns}), params_per_value=2):
        books = Book.objects.filter(Q(isbn13__in=batch) | Q(isbn10__in=batch)).order_by()
        for book_id, *isbns in books.values_list("pk", "isbn13", "isbn10"):
            for isbn in isbns:
                if isbn:
                    by_isbn[isbn].add(book_id)
    results = []
    by_title = []
    for row in rows:
        book_id = by_goodreads.get(row.goodreads_id)
        if book_id is None:
            candidates = set().union(*(by_isbn.get(isbn, set()) for isbn in row.isbns))
            if len(candidates) == 1:
                (book_id,) = candidates
            elif len(candidates) > 1:
                results.append((row, None, "ambiguous"))
                continue
        if book_id is None:
            by_title.append(len(results))
        results.append((row, book_id, ""))
    if by_title:
        surnames = {}  # a library has many books by one author
        keys = {}
        for index in by_title:
            row = results[index][0]
            if len(row.title) > MAX_MATCHED_LENGTH or len(row.author) > MAX_MATCHED_LENGTH:
                keys[index] = ("", "")
                continue
            if row.author not in surnames:
                surnames[row.author] = _surname(row.author)
            keys[index] = (normalize_title(row.title), surnames[row.author])
        matches = _match_titles({key for key in keys.values() if all(key)})
        for index, key in keys.items():
            book_ids = matches.get(key, ())
            if len(book_ids) == 1:
                results[index] = (results[index][0], next(iter(book_ids)), "")
            else:
                results[index] = (results[index][0], None, "ambiguous" if book_ids else "not_in_catalog")
    return results


def _title_keys(title):
    """Parts of a normalized title that a close variant of it almost always shares: its words of four letters or
    more, and its first and last four characters. One typo leaves one end alone; a title long enough to stay 90%
    alike after two keeps the words between them."""
    return {word for word in title.split() if len(word) >= 4} | {"^" + title[:4], title[-4:] + "$"}


def _close(title, wanted):
    if title == wanted:
        return True
    # SequenceMatcher's ratio is at most 2·min(a, b) / (a + b) for lengths a and b: check that bound first.
    if 2 * min(len(title), len(wanted)) < TITLE_SIMILARITY * (len(title) + len(wanted)):
        return False
    matcher = SequenceMatcher(None, title, wanted)
    return matcher.quick_ratio() >= TITLE_SIMILARITY and matcher.ratio() >= TITLE_SIMILARITY


def _match_titles(wanted):
    """{(normalized title, surname): ids of the catalog books by an author of that surname whose normalized title
    or original title is the same or at least TITLE_SIMILARITY alike (among those sharing a _title_keys part)}.

    Two queries for the whole file (more only past a batch of authors): every author, to compare surnames as
    _surname sees them (the database can't), then the books of the authors with one of the file's surnames,
    streamed once. Each book
    is compared only with the file's titles by that surname that share a key with its own, so the work follows
    the file and those books, and memory only the file.
    """
    if not wanted:
        return {}
    by_key = defaultdict(set)  # (surname, key) → the file's normalized titles by that surname with that key
    for title, surname in wanted:
        for key in _title_keys(title):
            by_key[surname, key].add(title)
    surnames = {surname for _, surname in wanted}
    surname_of_author = {}
    for author_id, name in Author.objects.order_by().values_list("pk", "name"):
        surname = _surname(name) if len(name) <= MAX_MATCHED_LENGTH else ""
        if surname in surnames:
            surname_of_author[author_id] = surname
    matches = defaultdict(set)
    for batch in in_batches(sorted(surname_of_author)):
        links = (
            BookAuthor.objects.filter(author_id__in=batch)
            .order_by()
            .values_list("author_id", "book_id", "book__title", "book__original_title")
        )
        for author_id, book_id, title, original_title in links.iterator(chunk_size=10_000):
            surname = surname_of_author[author_id]
            for text in {title, original_title}:
                if not text or len(text) > MAX_MATCHED_LENGTH:
                    continue
                normalized = normalize_title(text)
                candidates = set()
                for key in _title_keys(normalized) if normalized else ():
                    candidates.update(by_key.get((surname, key), ()))
                for other in candidates:
                    if _close(normalized, other):
                        matches[other, surname].add(book_id)
    return matches


def run_import(user, data: bytes, filename=""):
    """Import an export for a reader, all or nothing. Returns the GoodreadsImport with its report."""
    rows = read_export(data)
    counts = Counter()
    skipped = []

    def skip(row, reason):
        counts[reason] += 1
        if reason != "nothing" and len(skipped) < MAX_LISTED_SKIPS:
            skipped.append({"line": row.line, "title": row.title, "author": row.author, "reason": REASONS[reason]})

    # Read-but-unrated and currently-reading books carry nothing to import: count them, don't match them.
    wanted = []
    for row in rows:
        if row.rating < 0:
            skip(row, "bad_rating")
        elif row.rating == 0 and not row.to_read:
            skip(row, "nothing")
        else:
            wanted.append(row)
    matched = match_rows(wanted)

    with transaction.atomic():
        # The reader's own rows, whole: as many queries for a 60,000-row file as for a 6-row one.
        current = dict(Rating.objects.filter(rater__user=user).values_list("book_id", "value"))
        shelved = set(ShelfEntry.objects.filter(user=user).order_by().values_list("book_id", flat=True))
        previous = {entry.book_id: entry for entry in ImportedBook.objects.filter(user=user)}
        to_rate, to_unshelve, to_shelve, records = {}, set(), set(), []
        seen = set()
        for row, book_id, reason in matched:
            if book_id is None:
                skip(row, reason)
                continue
            if book_id in seen:
                skip(row, "duplicate")
                continue
            seen.add(book_id)
            before = previous.get(book_id)
            # A fresh object even for a book imported before: it is upserted on (user, book) below.
            record = ImportedBook(
                user=user,
                book_id=book_id,
                rating=before.rating if before is not None else None,
                shelved=before.shelved if before is not None else False,
                goodreads_book_id=row.goodreads_id,
                date_read=row.date_read or (before.date_read if before is not None else None),
            )
            outcome = None
            if row.rating:
                have = current.get(book_id)
                last_imported = before.rating if before is not None else None
                # The import owns a rating it set and the reader hasn't touched, or a book with no rating at all
                # that it never rated before (a removed imported rating stays removed).
                owned = have == last_imported if last_imported is not None else have is None
                if have == row.rating:
                    outcome = "unchanged"
                    if owned:
                        record.rating = row.rating
                elif owned:
                    to_rate[book_id] = row.rating
                    outcome = "imported" if have is None else "updated"
                    record.rating = row.rating
                    if book_id in shelved:
                        to_unshelve.add(book_id)  # a book the reader has rated leaves want-to-read, as on the site
                else:
                    skip(row, "kept")
                    outcome = "kept"
            else:  # on to-read
                if book_id in shelved or book_id in current:
                    outcome = "unchanged"
                elif before is not None and before.shelved:
                    outcome = "unchanged"  # the reader took it off want-to-read since; respect that
                else:
                    to_shelve.add(book_id)
                    record.shelved = True
                    outcome = "shelved"
            if outcome != "kept":
                counts[outcome] += 1
            records.append(record)

        set_ratings(user, to_rate)
        for batch in in_batches(sorted(to_unshelve)):
            ShelfEntry.objects.filter(user=user, book_id__in=batch).delete()
        ShelfEntry.objects.bulk_create(
            [ShelfEntry(user=user, book_id=book_id) for book_id in sorted(to_shelve)], ignore_conflicts=True
        )
        ImportedBook.objects.bulk_create(
            records,
            update_conflicts=True,
            unique_fields=["user", "book"],
            update_fields=["rating", "shelved", "goodreads_book_id", "date_read", "imported"],
        )
        return GoodreadsImport.objects.create(
            user=user,
            filename=filename[:255],
            rows=len(rows),
            report={"counts": dict(counts), "skipped": skipped},
        )
