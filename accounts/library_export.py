"""A reader's library in Goodreads' own export format, so it can go to Goodreads, StoryGraph or BookWyrm.

One row per book on a shelf (and per rated or reviewed book, which is always on one), with Goodreads' columns in Goodreads'
order. What BookRec keeps (rating, shelf, dates, read count, review) comes from BookRec; what it doesn't model
(Publisher, Binding, Private Notes, other shelves, the edition's title and ISBNs) comes back from the row the
Goodreads import stored, and for books never imported, from the catalog. Rows of the latest import that matched
no book in the catalog, or matched one but are on no BookRec shelf (a custom exclusive shelf), come back as Goodreads
wrote them, so nothing of the reader's library is lost.
"""

from collections import defaultdict

from django.utils import timezone

from catalog.models import BookAuthor

from .models import GoodreadsImport, ImportedBook, Rating, Review, Shelf, ShelfEntry

COLUMNS = [
    "Book Id", "Title", "Author", "Author l-f", "Additional Authors", "ISBN", "ISBN13", "My Rating",
    "Average Rating", "Publisher", "Binding", "Number of Pages", "Year Published", "Original Publication Year",
    "Date Read", "Date Added", "Bookshelves", "Bookshelves with positions", "Exclusive Shelf", "My Review",
    "Spoiler", "Private Notes", "Read Count", "Owned Copies",
]
EXCLUSIVE = set(Shelf.values)
# Columns BookRec owns: never copied from the stored Goodreads row.
ISBN_COLUMNS = {"ISBN", "ISBN13"}
OWNED = {"My Rating", "Date Read", "Date Added", "Exclusive Shelf", "My Review", "Read Count",
         "Bookshelves", "Bookshelves with positions"}


def _last_first(name):
    """"Ursula K. Le Guin" → "Le Guin, Ursula K." is beyond a rule; Goodreads' own value is used when known."""
    first, _, last = name.rpartition(" ")
    return f"{last}, {first}" if first else name


def _isbn_cell(cell):
    """Goodreads writes ISBNs as ="0618260307" so spreadsheets keep the leading zero; keep a stored cell as it was."""
    cell = (cell or "").strip()
    return cell if cell.startswith('="') and cell.endswith('"') else f'="{cell}"'


def plain_isbn(cell):
    """The ISBN inside a ="…" cell."""
    return cell[2:-1] if cell.startswith('="') and cell.endswith('"') else cell


def _goodreads_date(day):
    return day.strftime("%Y/%m/%d") if day else ""


def _other_shelves(row):
    """The reader's non-exclusive Goodreads shelves, as (name, "name (#n)") pairs from the stored row.

    The row's own exclusive shelf is left out too: a custom one (did-not-finish) is what the book has left once it
    is on a BookRec shelf."""
    exclusive = EXCLUSIVE | {(row.get("Exclusive Shelf") or "").strip().lower()}
    names = [name.strip() for name in (row.get("Bookshelves") or "").split(",") if name.strip()]
    positions = {}
    for item in (row.get("Bookshelves with positions") or "").split(","):
        name = item.strip().split(" (#")[0]
        if name:
            positions[name] = item.strip()
    return [(name, positions.get(name, name)) for name in names if name not in exclusive]


def library_rows(user):
    """[{column: value}] in Goodreads' format, most recently added first (as Goodreads exports).

    Six queries of plain values (no model instances: a library can hold tens of thousands of books).
    """
    entries = list(
        ShelfEntry.objects.filter(user=user)
        .order_by("-added", "-id")
        .values(
            "id", "book_id", "shelf", "added", "date_read", "read_count", "book__title", "book__goodreads_book_id",
            "book__isbn10", "book__isbn13", "book__average_rating", "book__ratings_count", "book__publication_year",
            "book__pages",
        )
    )
    authors = defaultdict(list)
    links = BookAuthor.objects.filter(book__shelf_entries__user=user).order_by("book_id", "position", "id")
    for book_id, name in links.values_list("book_id", "author__name"):
        authors[book_id].append(name)
    ratings = dict(Rating.objects.filter(rater__user=user).values_list("book_id", "value"))
    reviews = dict(Review.objects.filter(user=user).values_list("book_id", "text"))
    imported = {
        book_id: (goodreads_id, pages, row or {})
        for book_id, goodreads_id, pages, row in ImportedBook.objects.filter(user=user).values_list(
            "book_id", "goodreads_book_id", "pages", "goodreads_row"
        )
    }
    # Goodreads numbers each shelf's books in the order they were added.
    position = {}
    for shelf in Shelf.values:
        on_shelf = sorted((e for e in entries if e["shelf"] == shelf), key=lambda e: (e["added"], e["id"]))
        position.update({e["id"]: n for n, e in enumerate(on_shelf, start=1)})
    rows = []
    for entry in entries:
        book_id, shelf = entry["book_id"], entry["shelf"]
        goodreads_id, pages, stored = imported.get(book_id, (None, None, {}))
        names = authors.get(book_id, [])
        others = _other_shelves(stored)
        if stored.get("Exclusive Shelf", "").strip().lower() == shelf:
            shelves, with_positions = stored.get("Bookshelves", ""), stored.get("Bookshelves with positions", "")
        else:
            exclusive = [] if shelf == Shelf.READ else [(shelf, f"{shelf} (#{position[entry['id']]})")]
            shelves = ", ".join(name for name, _ in [*exclusive, *others])
            with_positions = ", ".join(item for _, item in [*exclusive, *others])
        row = {
            "Book Id": goodreads_id or entry["book__goodreads_book_id"] or "",
            "Title": entry["book__title"],
            "Author": names[0] if names else "",
            "Author l-f": _last_first(names[0]) if names else "",
            "Additional Authors": ", ".join(names[1:]),
            "ISBN": _isbn_cell(stored["ISBN"]) if "ISBN" in stored else f'="{entry["book__isbn10"]}"',
            "ISBN13": _isbn_cell(stored["ISBN13"]) if "ISBN13" in stored else f'="{entry["book__isbn13"]}"',
            "My Rating": ratings.get(book_id, 0),
            "Average Rating": f"{entry['book__average_rating']:.2f}" if entry["book__ratings_count"] else "",
            "Publisher": "",
            "Binding": "",
            "Number of Pages": pages or entry["book__pages"] or "",  # the reader's edition, else the catalog's
            "Year Published": entry["book__publication_year"] or "",
            "Original Publication Year": entry["book__publication_year"] or "",
            "Date Read": _goodreads_date(entry["date_read"]),
            "Date Added": _goodreads_date(timezone.localdate(entry["added"])),
            "Bookshelves": shelves,
            "Bookshelves with positions": with_positions,
            "Exclusive Shelf": shelf,
            "My Review": reviews.get(book_id, ""),
            "Spoiler": "",
            "Private Notes": "",
            "Read Count": entry["read_count"],
            "Owned Copies": 0,
        }
        # The reader's edition as Goodreads knows it: its title, authors and the columns BookRec lacks.
        row.update(
            {name: value for name, value in stored.items() if name in row and name not in OWNED | ISBN_COLUMNS and value != ""}
        )
        rows.append(row)
    # Books of the latest import that are on no shelf here go back out as Goodreads wrote them: those that matched
    # nothing, and those matched but left off BookRec's shelves because Goodreads had them on a custom exclusive
    # shelf (such as did-not-finish), with the reader's review and rating as BookRec has them now.
    latest = GoodreadsImport.objects.filter(user=user).order_by("-created", "-id").values_list("report", flat=True).first()
    exported = {str(row["Book Id"]) for row in rows}
    shelved = {entry["book_id"] for entry in entries}
    for item in (latest or {}).get("rows", []):
        book_id = item.get("book")
        if book_id is None:
            record = item.get("record")
        elif book_id in shelved or book_id not in imported:
            continue
        elif (imported[book_id][2].get("Exclusive Shelf") or "").strip().lower() in EXCLUSIVE:
            continue  # shelved by the import, then taken off its shelf on BookRec: the reader removed it
        else:
            shelved.add(book_id)  # once, whatever duplicate rows the file had
            record = {**imported[book_id][2], "My Review": reviews.get(book_id, ""), "My Rating": ratings.get(book_id, 0)}
        if not record:
            continue
        goodreads_id = str(record.get("Book Id") or "").strip()
        if goodreads_id and goodreads_id in exported:
            continue  # a duplicate row, or a book matched since under the same id
        exported.add(goodreads_id)
        rows.append({column: record.get(column, "") for column in COLUMNS})
    return rows
