"""A reader's reading stats: which books they have read and when, counted per year, month, genre, star and author."""

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.utils import timezone

from catalog.models import Book, BookAuthor

from .models import ImportedBook, Rating, Shelf, ShelfEntry

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TOP_GENRES = 10
TOP_AUTHORS = 10


@dataclass
class ReadBook:
    book_id: int
    read_on: datetime.date | None  # the finish date, if the reader gave one
    stars: int | None
    pages: int | None


def read_entries(user):
    """The rows that say a reader has read a book, one per book: what every stat counts.

    A book counts as read when it is on the reader's Read shelf (rating a book puts it there).
    """
    return ShelfEntry.objects.filter(user=user, shelf=Shelf.READ)


def books_read(user):
    """Every book the reader has read, with the day they finished it (if they said) and its pages.

    The day is the finish date on the Read shelf (the Goodreads import brings Date Read there, the reader can set it
    on My books). A book without one has no day: rating a book puts it on Read, and a reader who rates a book says
    they read it at some time, not that they read it today, so the day it was shelved would say nothing. Pages are
    the catalog's, else the reader's edition's from their Goodreads export.
    """
    stars = dict(Rating.objects.filter(rater__user=user).values_list("book_id", "value"))
    edition_pages = dict(
        ImportedBook.objects.filter(user=user, pages__isnull=False).values_list("book_id", "pages")
    )
    rows = read_entries(user).values_list("book_id", "date_read", "book__pages")
    return [
        ReadBook(book_id, date_read, stars.get(book_id), pages or edition_pages.get(book_id))
        for book_id, date_read, pages in rows
    ]


@dataclass
class ReadingStats:
    total: int
    # Years, months and the goal count the books with a finish date, as Goodreads does; `undated` says how many
    # read books have none. Genres, stars, authors and pages_known count every book read.
    undated: int
    years: list  # [(year, books, pages)], oldest first, every year from the first dated read to this one
    months: list  # [(month name, books, pages)] of `month_year`
    month_year: int
    genres: list  # [(genre, books, percent of books read)], most read first
    stars: list  # [(stars, books)], 5 down to 1
    authors: list  # [(author, books)], most read first
    pages_known: int  # read books whose page count is known

    def read_in(self, year):
        return next((books for each_year, books, _ in self.years if each_year == year), 0)


def reading_stats(user, month_year=None):
    today = timezone.localdate()
    month_year = month_year or today.year
    read = books_read(user)
    book_ids = read_entries(user).values("book_id")  # a subquery: a long library is no long IN list

    dated = [entry for entry in read if entry.read_on is not None]
    years = []
    if dated:
        per_year = defaultdict(lambda: [0, 0])
        for entry in dated:
            per_year[entry.read_on.year][0] += 1
            per_year[entry.read_on.year][1] += entry.pages or 0
        for year in range(min(per_year), max(max(per_year), today.year) + 1):
            years.append((year, *per_year.get(year, (0, 0))))

    per_month = [[0, 0] for _ in MONTHS]
    for entry in dated:
        if entry.read_on.year == month_year:
            per_month[entry.read_on.month - 1][0] += 1
            per_month[entry.read_on.month - 1][1] += entry.pages or 0
    months = [(name, books, pages) for name, (books, pages) in zip(MONTHS, per_month, strict=True)]

    genre_counts = Counter(
        Book.genres.through.objects.filter(book_id__in=book_ids).values_list("genre__name", flat=True)
    )
    genres = [
        (name, count, round(100 * count / len(read)))
        for name, count in sorted(genre_counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_GENRES]
    ]

    star_counts = Counter(entry.stars for entry in read if entry.stars)
    stars = [(value, star_counts.get(value, 0)) for value in range(5, 0, -1)]

    author_counts = Counter(
        BookAuthor.objects.filter(book_id__in=book_ids).values_list("author__name", flat=True)
    )
    authors = sorted(author_counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_AUTHORS]

    return ReadingStats(
        total=len(read),
        undated=len(read) - len(dated),
        years=years,
        months=months,
        month_year=month_year,
        genres=genres,
        stars=stars,
        authors=authors,
        pages_known=sum(1 for entry in read if entry.pages),
    )
