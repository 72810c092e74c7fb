"""Fixtures for the accounts tests: a small catalog to rate (the root conftest empties the cache)."""

import pytest

from accounts.ratings import set_rating
from catalog.models import Author, Book, BookAuthor, Genre


def make_book(title, author="Some Author", genre=None, **fields):
    book = Book.objects.create(title=title, **fields)
    slug = author.lower().replace(" ", "-").replace(".", "")
    person, _ = Author.objects.get_or_create(slug=slug, defaults={"name": author})
    BookAuthor.objects.create(book=book, author=person, position=0)
    if genre is not None:
        book.genres.add(genre)
    return book


@pytest.fixture
def books(db):
    """Three books, each with an author."""
    return [
        make_book("Anna Karenina", "Leo Tolstoy"),
        make_book("Beloved", "Toni Morrison"),
        make_book("Catch-22", "Joseph Heller"),
    ]


@pytest.fixture
def book(books):
    return books[0]


@pytest.fixture
def genres(db):
    return [Genre.objects.create(name=name, slug=name.lower()) for name in ("Fantasy", "Mystery", "Classics")]


@pytest.fixture
def rate():
    """Rate through the recommender's API, as the site does."""

    def rate(user, book, value):
        return set_rating(user, book, value)

    return rate
