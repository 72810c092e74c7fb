"""Goodreads library export import: read the CSV, match its books to the catalog, write ratings and shelves.

The re-import rule: the import only changes what it owns. For each matched book,
- no BookRec rating and never imported before → the Goodreads rating is added;
- the current rating still equals what the last import set → it is updated to the new Goodreads value;
- the reader rated it on BookRec first, changed the imported rating, or removed it → left alone ("kept");
- "to-read" puts the book on want-to-read once; if the reader later takes it off, a re-import does not put it back.
ImportedBook remembers, per reader and book, what the last import wrote.
"""

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher

from django.db import transaction
from django.db.models import Prefetch, Q

from catalog.models import Book, BookAuthor
from recommender.models import Rating
from recommender.ratings import set_rating

from .models import GoodreadsImport, ImportedBook, ShelfEntry

MAX_BYTES = 5 * 1024 * 1024
REQUIRED_COLUMNS = ("Book Id", "Title", "Author", "My Rating", "Exclusive Shelf")
# How many reasons the results page lists; the counts cover every row.
MAX_LISTED_SKIPS = 500
TITLE_SIMILARITY = 0.9

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
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportError_(
            "That file is not UTF-8 text. Upload the CSV exactly as Goodreads exported it "
            "(My Books → Import and export → Export library)."
        ) from None
    if "\x00" in text:
        raise ImportError_("That file is not a CSV text file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise ImportError_(
                "This doesn't look like a Goodreads library export: it has no "
                + ", ".join(f"“{name}”" for name in missing)
                + " column. Upload the comma-separated file Goodreads exports."
            )
        reader.fieldnames = header
        rows = []
        for record in reader:
            if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
                continue
            rows.append(_row_from_record(reader.line_num, record))
    except csv.Error as error:
        raise ImportError_(f"The CSV could not be read near line {reader.line_num}: {error}.") from None
    if not rows:
        raise ImportError_("That export has no books in it.")
    return rows


def _cell(record, name):
    value = record.get(name)
    return value.strip() if isinstance(value, str) else ""


def _isbn(value):
    """Goodreads writes ISBNs as ="9780…" (and ="" when unknown)."""
    value = value.strip()
    if value.startswith("="):
        value = value[1:]
    value = value.strip('"').replace("-", "").replace(" ", "").upper()
    return value if re.fullmatch(r"\d{9}[\dX]|\d{13}", value) else ""


def _row_from_record(line, record):
    goodreads_id = _cell(record, "Book Id")
    rating = _cell(record, "My Rating") or "0"
    date_read = None
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            date_read = datetime.strptime(_cell(record, "Date Read"), fmt).date()
            break
        except ValueError:
            pass
    return Row(
        line=line,
        goodreads_id=int(goodreads_id) if goodreads_id.isdigit() else None,
        title=_cell(record, "Title"),
        author=_cell(record, "Author"),
        isbns=[isbn for isbn in (_isbn(_cell(record, "ISBN13")), _isbn(_cell(record, "ISBN"))) if isbn],
        rating=int(rating) if rating.isdigit() and int(rating) <= 5 else -1,
        to_read=_cell(record, "Exclusive Shelf").lower() == "to-read",
        date_read=date_read,
    )


def normalize_title(title):
    """Case, accents, punctuation and a trailing "(Series, #2)" don't tell books apart."""
    title = re.sub(r"\s*\([^()]*#[^()]*\)\s*$", "", title)
    title = re.sub(r"['’‘`]", "", title)  # Sorcerer's and Sorcerer’s alike
    title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    title = re.sub(r"[^a-z0-9]+", " ", title).strip()
    return re.sub(r"^(the|a|an) ", "", title)


def _surname(author):
    words = normalize_title(author.split(",")[0] if "," in author else author).split()
    if "," in author:
        return words[0] if words else ""
    return words[-1] if words else ""


def _books(queryset):
    return queryset.prefetch_related(
        Prefetch("bookauthor_set", queryset=BookAuthor.objects.select_related("author").order_by("position"))
    )


def match_rows(rows):
    """[(row, book or None, reason)]: by Goodreads id, then ISBN, then an unambiguous close title and author."""
    by_goodreads = {
        book.goodreads_book_id: book
        for book in Book.objects.filter(goodreads_book_id__in={row.goodreads_id for row in rows if row.goodreads_id})
    }
    isbns = {isbn for row in rows for isbn in row.isbns}
    by_isbn = {}
    for book in Book.objects.filter(Q(isbn13__in=isbns) | Q(isbn10__in=isbns)) if isbns else []:
        for isbn in (book.isbn13, book.isbn10):
            if isbn:
                by_isbn.setdefault(isbn, set()).add(book)
    results = []
    for row in rows:
        book = by_goodreads.get(row.goodreads_id)
        if book is None:
            candidates = set().union(*(by_isbn.get(isbn, set()) for isbn in row.isbns)) if row.isbns else set()
            if len(candidates) == 1:
                book = candidates.pop()
            elif len(candidates) > 1:
                results.append((row, None, "ambiguous"))
                continue
        if book is None:
            book, reason = _match_by_title(row)
            if book is None:
                results.append((row, None, reason))
                continue
        results.append((row, book, ""))
    return results


def _match_by_title(row):
    wanted = normalize_title(row.title)
    surname = _surname(row.author)
    if not wanted or not surname:
        return None, "not_in_catalog"
    # Narrow the catalog with the title's longest word (indexed lookups stay cheap), then compare properly.
    probe = max(wanted.split(), key=len)
    candidates = _books(
        Book.objects.filter(Q(title__icontains=probe) | Q(original_title__icontains=probe)).order_by("id")
    )[:200]
    matches = []
    for book in candidates:
        titles = {normalize_title(book.title), normalize_title(book.original_title)} - {""}
        if not any(t == wanted or SequenceMatcher(None, t, wanted).ratio() >= TITLE_SIMILARITY for t in titles):
            continue
        authors = {_surname(ba.author.name) for ba in book.bookauthor_set.all()}
        if surname in authors:
            matches.append(book)
    if len(matches) == 1:
        return matches[0], ""
    return None, "ambiguous" if matches else "not_in_catalog"


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
        book_ids = [book.pk for _, book, _ in matched if book is not None]
        current = dict(Rating.objects.filter(rater__user=user, book_id__in=book_ids).values_list("book_id", "value"))
        shelved = set(ShelfEntry.objects.filter(user=user, book_id__in=book_ids).values_list("book_id", flat=True))
        previous = {entry.book_id: entry for entry in ImportedBook.objects.filter(user=user, book_id__in=book_ids)}
        seen = set()
        for row, book, reason in matched:
            if book is None:
                skip(row, reason)
                continue
            if book.pk in seen:
                skip(row, "duplicate")
                continue
            seen.add(book.pk)
            before = previous.get(book.pk)
            record = before or ImportedBook(user=user, book=book)
            record.goodreads_book_id = row.goodreads_id
            record.date_read = row.date_read or record.date_read
            outcome = None
            if row.rating:
                have = current.get(book.pk)
                last_imported = before.rating if before is not None else None
                # The import owns a rating it set and the reader hasn't touched, or a book with no rating at all
                # that it never rated before (a removed imported rating stays removed).
                owned = have == last_imported if last_imported is not None else have is None
                if have == row.rating:
                    outcome = "unchanged"
                    if owned:
                        record.rating = row.rating
                elif owned:
                    set_rating(user, book, row.rating)
                    outcome = "imported" if have is None else "updated"
                    record.rating = row.rating
                    if book.pk in shelved:
                        # A book the reader has rated leaves want-to-read, as on the site.
                        ShelfEntry.objects.filter(user=user, book=book).delete()
                        shelved.discard(book.pk)
                else:
                    skip(row, "kept")
                    outcome = "kept"
            else:  # on to-read
                if book.pk in shelved or book.pk in current:
                    outcome = "unchanged"
                elif before is not None and before.shelved:
                    outcome = "unchanged"  # the reader took it off want-to-read since; respect that
                else:
                    ShelfEntry.objects.get_or_create(user=user, book=book)
                    shelved.add(book.pk)
                    record.shelved = True
                    outcome = "shelved"
            if outcome != "kept":
                counts[outcome] += 1
            record.save()
        return GoodreadsImport.objects.create(
            user=user,
            filename=filename[:255],
            rows=len(rows),
            report={"counts": dict(counts), "skipped": skipped},
        )
