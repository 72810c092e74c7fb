"""Series order: where a volume sits in its series, omnibus editions, and each series' volumes in reading order."""

import re
from dataclasses import dataclass
from functools import cached_property

from django.db import connection

from .models import Book

# Titles of editions that bind several volumes together (Goodreads writes them with or without a "#1-3").
OMNIBUS_TITLE = re.compile(r"\b(box(ed)?\s*set|complete|collection|omnibus)\b", re.IGNORECASE)
_RANGE = re.compile(r"^\s*(?P<start>\d+(?:\.\d+)?)\s*(?:-\s*(?P<end>\d+(?:\.\d+)?))?\s*$")


def position_range(position):
    """(first, last) volume numbers of a series position ("2" → (2, 2), "1-3" → (1, 3)), or None if unreadable."""
    match = _RANGE.match(position or "")
    if not match:
        return None
    start = float(match["start"])
    end = float(match["end"]) if match["end"] else start
    return (start, end) if end >= start else None


@dataclass(frozen=True)
class Volume:
    """What the series rules need to know about one book of a series."""

    pk: int
    series: str
    position: str
    title: str
    hidden: bool = False

    # Read many times per ranking: parsed once per Volume (cached_property writes the instance dict, frozen or not).
    @cached_property
    def span(self):
        return position_range(self.position)

    @cached_property
    def start(self):
        """Numeric position for ordering; unnumbered books sort last."""
        span = self.span
        return span[0] if span else float("inf")

    @cached_property
    def is_omnibus(self):
        span = self.span
        return (span is not None and span[1] > span[0]) or bool(OMNIBUS_TITLE.search(self.title))

    def contains(self, other):
        """True when this omnibus edition binds the single volume ``other``."""
        if not self.is_omnibus or other.pk == self.pk or other.is_omnibus or other.series != self.series:
            return False
        span, inner = self.span, other.span
        if span is None or span[1] == span[0]:  # "Boxed Set" without a range: taken to hold the whole series
            return True
        return inner is not None and span[0] <= inner[0] <= span[1]

    @classmethod
    def of(cls, book):
        return cls(book.pk, book.series, book.series_position, book.title, book.hidden_from_recommendations)


_VOLUME_FIELDS = ("pk", "series", "series_position", "title", "hidden_from_recommendations")


def volumes_of_books(book_ids):
    """{book id: Volume} for the given books that belong to a series (one query)."""
    ids = sorted({int(book_id) for book_id in book_ids})
    if not ids:
        return {}
    # A ranking's few hundred ids: Django's pk__in prepares each value on its own (~10 µs apiece,
    # the larger part of the series rules' time); whole numbers are written into the SQL as they are.
    column = f"{connection.ops.quote_name(Book._meta.db_table)}.{connection.ops.quote_name('id')}"
    books = Book.objects.extra(where=[f"{column} IN ({', '.join(map(str, ids))})"])
    return {row[0]: Volume(*row) for row in books.exclude(series="").values_list(*_VOLUME_FIELDS)}


def series_volumes(names):
    """{series name: its volumes in reading order (numeric position; unnumbered last)} in one query."""
    names = {name for name in names if name}
    by_series = {name: [] for name in names}
    if not names:
        return by_series
    for row in Book.objects.filter(series__in=names).values_list(*_VOLUME_FIELDS):
        by_series[row[1]].append(Volume(*row))
    for volumes in by_series.values():
        volumes.sort(key=reading_key)
    return by_series


def reading_key(volume):
    """Reading order: numeric position (unnumbered last), a single volume before an omnibus of the same start."""
    return (volume.start, volume.is_omnibus, volume.title, volume.pk)


def first_volume(volumes, excluded=()):
    """The series' entry point: the single volume of lowest position >= 1 that is shown (not hidden), or None.

    ``excluded`` (book ids) are passed over, e.g. a volume the reader dismissed. A novella numbered 0.5
    is not where a series starts, and neither is an omnibus.
    """
    for volume in volumes:
        if volume.hidden or volume.is_omnibus or volume.pk in excluded:
            continue
        if volume.span is not None and volume.start >= 1:
            return volume
    return None


def reading_order(book):
    """Every book of ``book``'s series, numeric position first (a list of Books with authors prefetched)."""
    if not book.series:
        return []
    order = [volume.pk for volume in series_volumes([book.series])[book.series]]
    by_pk = Book.objects.defer("description", "search_text").with_list_data().in_bulk(order)
    return [by_pk[pk] for pk in order if pk in by_pk]


def series_starts(books, limit):
    """``books`` in order with each later volume or omnibus replaced by its series' first volume, one book per series.

    For lists that introduce books to a new reader (onboarding): Harry Potter #5 becomes #1.
    A series with no first volume to show is left out.
    """
    volumes = {book.pk: Volume.of(book) for book in books if book.series}
    by_series = series_volumes({volume.series for volume in volumes.values()})
    order, seen_series = [], set()
    for book in books:
        volume = volumes.get(book.pk)
        if volume is None:
            order.append(book.pk)
            continue
        if volume.series in seen_series:
            continue
        seen_series.add(volume.series)
        first = first_volume(by_series[volume.series])
        if first is not None:
            order.append(first.pk)
    order = list(dict.fromkeys(order))[:limit]
    have = {book.pk: book for book in books}
    missing = [pk for pk in order if pk not in have]
    have.update(Book.objects.defer("description", "search_text").with_list_data().in_bulk(missing))
    return [have[pk] for pk in order if pk in have]
