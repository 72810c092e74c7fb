"""A reader's reading stats: which books they have read and when, counted per year, month, genre, star and author."""

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.utils import timezone

from catalog.models import Book, BookAuthor

from .models import ImportedBook, Rating

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TOP_GENRES = 10
TOP_AUTHORS = 10


@dataclass
class ReadBook:
    book_id: int
    read_on: datetime.date
    stars: int | None
    pages: int | None


def read_entries(user):
    """The rows that say a reader has read a book, one per book: what every stat counts.

    Until the exclusive shelves land, a book counts as read when the reader rated it (a want-to-read
    entry is not read). With the Read shelf, this and books_read() below are the only code to change:
    the shelf's entries, and their date_read (falling back to when the book was shelved).
    """
    return Rating.objects.filter(rater__user=user)


def books_read(user):
    """Every book the reader has read, with the day they finished it.

    The day is the Goodreads "Date Read" the import kept for the book, else the day the reader rated it.
    """
    imported_dates = dict(
        ImportedBook.objects.filter(user=user, date_read__isnull=False).values_list("book_id", "date_read")
    )
    rows = read_entries(user).values_list("book_id", "value", "created", "book__pages")
    return [
        ReadBook(book_id, imported_dates.get(book_id) or timezone.localdate(created), value, pages)
        for book_id, value, created, pages in rows
    ]


@dataclass
class ReadingStats:
    total: int
    years: list  # [(year, books, pages)], oldest first, every year from the first read to this one
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

    years = []
    if read:
        per_year = defaultdict(lambda: [0, 0])
        for entry in read:
            per_year[entry.read_on.year][0] += 1
            per_year[entry.read_on.year][1] += entry.pages or 0
        for year in range(min(per_year), max(max(per_year), today.year) + 1):
            years.append((year, *per_year.get(year, (0, 0))))

    per_month = [[0, 0] for _ in MONTHS]
    for entry in read:
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
        years=years,
        months=months,
        month_year=month_year,
        genres=genres,
        stars=stars,
        authors=authors,
        pages_known=sum(1 for entry in read if entry.pages),
    )
