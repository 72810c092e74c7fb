"""Goodreads library export import: read the CSV, match its books to the catalog, write ratings, shelves and reviews.

The re-import rule: the import only changes what it owns. For each matched book and each field (My Rating,
Exclusive Shelf, Date Read, Read Count, My Review),
- BookRec has no value and the import never set one before → the Goodreads value is added;
- BookRec's value still equals what the last import set → it follows Goodreads;
- the reader set it on BookRec first, changed what the import set, or removed it → BookRec's is kept ("kept"),
  and the results page says so. Two exceptions follow what reading is: a shelf moves forward (want to read →
  currently reading → read) and a read count grows, whoever set the old value, since a book read on Goodreads
  since was read. A removed rating or shelf stays removed.
Date Added becomes the earlier of the two dates: the book was in the reader's library from then.
ImportedBook remembers, per reader and book, what the last import wrote, and the whole Goodreads row, so the
export (accounts/library_export.py) gives back the columns BookRec doesn't model.
"""

import io
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from difflib import SequenceMatcher

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import strip_tags

from catalog.models import Author, Book, BookAuthor
from catalog.tabular import CsvError, CsvTable, decode_text, in_batches

from .models import MAX_READ_COUNT, READING_ORDER, GoodreadsImport, ImportedBook, Rating, Review, Shelf, ShelfEntry
from .ratings import set_ratings

MAX_BYTES = 5 * 1024 * 1024
REQUIRED_COLUMNS = ("Book Id", "Title", "Author", "My Rating", "Exclusive Shelf")
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
}
# One outcome per row, in the order the results page lists them.
OUTCOMES = {
    "imported": "New rating",
    "updated": "Updated from Goodreads",
    "shelved": "Added to your shelves, unrated",
    "kept": "Kept what you set on BookRec",
    "unchanged": "Already up to date",
    "not_shelved": "Not put on a shelf",
    **REASONS,
}
SHELF_NAMES = {shelf.value: shelf.label for shelf in Shelf}
MAX_PAGES = 100_000


class ImportError_(Exception):
    """The file as a whole can't be imported; the message is shown to the reader."""


@dataclass
class Row:
    line: int
    goodreads_id: int | None
    title: str
    author: str
    isbns: list = field(default_factory=list)
    rating: int | None = None  # 1–5, or None: not rated (0) or unreadable (see problems)
    shelf: str = ""  # one of Shelf, or "" when the cell names no shelf BookRec has
    date_read: object = None
    date_added: object = None
    read_count: int | None = None
    review: str = ""
    pages: int | None = None
    problems: list = field(default_factory=list)  # (column, sentence for the results page): cells that couldn't be read
    record: dict = field(default_factory=dict)  # the row as Goodreads wrote it, column by column


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


LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def review_text(cell):
    """Goodreads writes a review as HTML (<br/> between lines, <i>, <a>…); BookRec keeps plain text with newlines,
    which the book page shows as paragraphs and the export writes back as they are."""
    return strip_tags(LINE_BREAK.sub("\n", cell or "")).strip()


def _row_from_record(line, record):
    problems = []

    def number(column, maximum, what):
        text = _cell(record, column)
        if not text:
            return None
        value = _whole_number(text)
        if value is None or value > maximum:
            problems.append((column, f"{column} “{text[:40]}” is not {what}, so it was not imported."))
            return None
        return value

    def day(column):
        text = _cell(record, column)
        value = _date(text) if text else None
        if text and value is None:
            problems.append((column, f"{column} “{text[:40]}” is not a date (Goodreads writes 2024/03/31), so it was left empty."))
        return value

    goodreads_id = _whole_number(_cell(record, "Book Id"))
    rating = number("My Rating", 5, "a number from 0 to 5")
    shelf_name = _cell(record, "Exclusive Shelf")
    shelf = shelf_name.lower() if shelf_name.lower() in SHELF_NAMES else ""
    if not shelf:
        problems.append((
            "Exclusive Shelf",
            f"Exclusive Shelf “{shelf_name[:40]}” is not one of BookRec's shelves (to-read, currently-reading, read), "
            "so the book was not put on a shelf." if shelf_name else "The row names no Exclusive Shelf, so the book was not put on a shelf.",
        ))
    return Row(
        line=line,
        goodreads_id=goodreads_id if goodreads_id and goodreads_id <= MAX_GOODREADS_ID else None,
        title=_cell(record, "Title"),
        author=_cell(record, "Author"),
        isbns=[isbn for isbn in (_isbn(_cell(record, "ISBN13")), _isbn(_cell(record, "ISBN"))) if isbn],
        rating=rating or None,
        shelf=shelf,
        date_read=day("Date Read"),
        date_added=day("Date Added"),
        read_count=number("Read Count", MAX_READ_COUNT, "a whole number of times read"),
        review=review_text(record.get("My Review")),
        pages=number("Number of Pages", MAX_PAGES, "a number of pages"),
        problems=problems,
        # None for a missing cell would be a shifted row, refused by read_export; keep every column as written.
        record={name: value for name, value in record.items() if isinstance(name, str)},
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


def _stars(value):
    return f"{value} star{'s' if value != 1 else ''}" if value else "no rating"


def _shown(name, value):
    """A field's value as the results page words it."""
    if name == "rating":
        return _stars(value)
    if name == "shelf":
        return SHELF_NAMES.get(value, "no shelf")
    if name == "date_read":
        return value.isoformat() if value else "no date"
    if name == "review":
        return "your review" if value else "no review"
    return str(value if value is not None else "none")


FIELD_LABELS = {
    "rating": "My Rating",
    "shelf": "Exclusive Shelf",
    "date_read": "Date Read",
    "read_count": "Read Count",
    "review": "My Review",
}


def _decide(name, have, new, before):
    """(value to write or None to leave BookRec's, note or "") for one field, by the module's re-import rule.

    have: BookRec's value now; new: Goodreads'; before: the last ImportedBook of this book, or None.
    """
    empty = have in (None, "")
    if new in (None, ""):
        return None, ""  # Goodreads says nothing: BookRec's value stands, whatever it is
    if have == new:
        return None, ""
    last = getattr(before, name) if before is not None else None
    last = None if last == "" else last
    if last is not None and have == last:
        return new, ""  # the import set it and the reader hasn't touched it
    if name == "shelf" and not empty and READING_ORDER[new] > READING_ORDER[have]:
        return new, f"{FIELD_LABELS[name]}: moved from {_shown(name, have)} to {_shown(name, new)}, as on Goodreads."
    if name == "read_count" and not empty and new > have:
        return new, f"{FIELD_LABELS[name]}: {new}, as on Goodreads (BookRec had {have})."
    if empty and last is None:
        return new, ""  # nothing on BookRec and nothing imported before: a new value
    label = FIELD_LABELS[name]
    if empty:  # the import set it, the reader removed it
        return None, f"{label}: not added back: you removed {_shown(name, last)} on BookRec after an earlier import."
    why = "you changed it on BookRec after the last import" if last is not None else "you set it on BookRec before importing"
    return None, f"{label}: kept your BookRec {_shown(name, have)} over Goodreads' {_shown(name, new)}: {why}."


def _start_of_day(day):
    return timezone.make_aware(datetime.combine(day, time()))


def run_import(user, data: bytes, filename=""):
    """Import an export for a reader, all or nothing. Returns the GoodreadsImport with its report.

    The report lists every row: {"line", "title", "author", "outcome", "shelf", "rating", "notes"}, where notes say
    which value was kept where BookRec and Goodreads disagree, and which cells could not be read. Rows that matched
    no book also keep their "record", the row as Goodreads wrote it, which the export gives back.
    """
    rows = read_export(data)
    counts = Counter()
    problems = Counter()
    listed = []

    def report(row, outcome, notes=(), shelf="", rating=None, book_id=None):
        counts[outcome] += 1
        listed.append(
            {
                "line": row.line, "title": row.title, "author": row.author, "book": book_id, "outcome": outcome,
                "shelf": shelf, "rating": rating, "notes": [*(sentence for _, sentence in row.problems), *notes],
            }
        )

    for row in rows:
        problems.update(column for column, _ in row.problems)
    matched = match_rows(rows)

    with transaction.atomic():
        # The reader's own rows, whole: as many queries for a 60,000-row file as for a 6-row one.
        current = dict(Rating.objects.filter(rater__user=user).values_list("book_id", "value"))
        entries = {entry.book_id: entry for entry in ShelfEntry.objects.filter(user=user)}
        reviews = {review.book_id: review for review in Review.objects.filter(user=user)}
        previous = {entry.book_id: entry for entry in ImportedBook.objects.filter(user=user)}
        to_rate, new_entries, changed_entries, new_reviews, changed_reviews, gone_reviews = {}, {}, {}, [], [], []
        records = []
        seen = set()
        for row, book_id, reason in matched:
            if book_id is None:
                report(row, reason)
                listed[-1]["record"] = row.record  # no ImportedBook to keep it: the export gives it back from here
                continue
            if book_id in seen:
                report(row, "duplicate", book_id=book_id)
                continue
            seen.add(book_id)
            before = previous.get(book_id)
            entry = entries.get(book_id)
            review = reviews.get(book_id)
            have = {
                "rating": current.get(book_id),
                "shelf": entry.shelf if entry is not None else None,
                "date_read": entry.date_read if entry is not None else None,
                "read_count": entry.read_count if entry is not None and entry.read_count else None,
                "review": review.text if review is not None else "",
            }
            new = {"rating": row.rating, "shelf": row.shelf or None, "date_read": row.date_read,
                   "read_count": row.read_count or None, "review": row.review}
            # A fresh object even for a book imported before: it is upserted on (user, book) below.
            record = ImportedBook(
                user=user, book_id=book_id, goodreads_book_id=row.goodreads_id, pages=row.pages, goodreads_row=row.record,
                **{name: getattr(before, name) if before is not None else ImportedBook._meta.get_field(name).get_default()
                   for name in FIELD_LABELS},
            )
            notes, changed = [], set()
            final = dict(have)
            for name in FIELD_LABELS:
                value, note = _decide(name, have[name], new[name], before)
                if note:
                    notes.append(note)
                if value is not None:
                    final[name] = value
                    changed.add(name)
                if new[name] not in (None, "") and (value is not None or have[name] == new[name]):
                    setattr(record, name, new[name])  # the import owns it now
            if final["rating"] is not None and final["shelf"] is None:
                final["shelf"] = Shelf.READ  # a rated book is on Read, as when rating on the site
                changed.add("shelf")
            if "rating" in changed:
                to_rate[book_id] = final["rating"]
            if changed & {"shelf", "date_read", "read_count"} or (entry is not None and row.date_added
                                                                  and row.date_added < timezone.localdate(entry.added)):
                target = entry if entry is not None else ShelfEntry(user=user, book_id=book_id)
                target.shelf = final["shelf"]
                target.date_read = final["date_read"]
                target.read_count = max(final["read_count"] or 0, 1 if final["shelf"] == Shelf.READ else 0)
                if row.date_added and (entry is None or row.date_added < timezone.localdate(entry.added)):
                    if entry is not None:
                        notes.append(f"Date Added: {row.date_added.isoformat()}, the earlier of Goodreads' and BookRec's.")
                        changed.add("added")
                    target.added = _start_of_day(row.date_added)
                (new_entries if entry is None else changed_entries)[book_id] = target
            if "review" in changed:
                if review is None:
                    new_reviews.append(Review(user=user, book_id=book_id, text=final["review"]))
                else:
                    review.text = final["review"]
                    review.updated = timezone.now()  # bulk_update skips auto_now
                    changed_reviews.append(review)
            if before is not None and before.review and not row.review and have["review"] == before.review:
                gone_reviews.append(book_id)  # the review the import wrote was deleted on Goodreads
                record.review = ""
            if "rating" in changed:
                outcome = "imported" if have["rating"] is None else "updated"
            elif changed and final["shelf"] is None:
                outcome = "not_shelved"  # its review imported, but it is on none of the reader's shelves
            elif changed and have["shelf"] is None and final["rating"] is None:
                outcome = "shelved"
            elif changed:
                outcome = "updated"
            elif notes:
                outcome = "kept"
            elif final["shelf"] is None:
                outcome = "not_shelved"
            else:
                outcome = "unchanged"
            report(row, outcome, notes, shelf=final["shelf"] or "", rating=final["rating"], book_id=book_id)
            records.append(record)

        set_ratings(user, to_rate)
        ShelfEntry.objects.bulk_create(new_entries.values(), batch_size=1000)
        ShelfEntry.objects.bulk_update(changed_entries.values(), ["shelf", "date_read", "read_count", "added"], batch_size=1000)
        Review.objects.bulk_create(new_reviews, batch_size=1000)
        Review.objects.bulk_update(changed_reviews, ["text", "updated"], batch_size=1000)
        for batch in in_batches(gone_reviews):
            Review.objects.filter(user=user, book_id__in=batch).delete()
        ImportedBook.objects.bulk_create(
            records,
            update_conflicts=True,
            unique_fields=["user", "book"],
            update_fields=[*FIELD_LABELS, "goodreads_book_id", "pages", "goodreads_row", "imported"],
        )
        return GoodreadsImport.objects.create(
            user=user,
            filename=filename[:255],
            rows=len(rows),
            report={"version": 2, "counts": dict(counts), "problems": dict(problems), "rows": listed},
        )
