"""Catalog test fixtures: a way to make books with authors and genres, and a small real-looking catalog."""

import pytest
from django.utils.text import slugify

from catalog.models import Author, Book, BookAuthor, Genre


@pytest.fixture
def make_book(db):
    def make(title, authors=("Anonymous",), genres=(), **fields):
        book = Book.objects.create(title=title, **fields)
        for position, name in enumerate(authors):
            author, _ = Author.objects.get_or_create(slug=slugify(name), defaults={"name": name})
            BookAuthor.objects.create(book=book, author=author, position=position)
        for name in genres:
            genre, _ = Genre.objects.get_or_create(slug=slugify(name), defaults={"name": name})
            book.genres.add(genre)
        book.save()  # search_text now includes the authors
        return book

    return make


@pytest.fixture
def catalog(make_book):
    """A dozen well-known books, with popularity so ranking ties have a clear winner."""
    books = {
        "hp1": make_book("Harry Potter and the Sorcerer's Stone", ["J.K. Rowling"], ["Fantasy"], series="Harry Potter",
                         series_position="1", publication_year=1997, ratings_count=900, average_rating=4.4, language="eng"),
        "hp2": make_book("Harry Potter and the Chamber of Secrets", ["J.K. Rowling"], ["Fantasy"], series="Harry Potter",
                         series_position="2", publication_year=1998, ratings_count=700, average_rating=4.3, language="eng"),
        "lotr": make_book("The Lord of the Rings", ["J.R.R. Tolkien"], ["Fantasy", "Classics"], publication_year=1955,
                          ratings_count=800, average_rating=4.5, language="eng"),
        "fellowship": make_book("The Fellowship of the Ring", ["J.R.R. Tolkien"], ["Fantasy"], series="The Lord of the Rings",
                                series_position="1", publication_year=1954, ratings_count=600, average_rating=4.3, language="eng"),
        "flies": make_book("Lord of the Flies", ["William Golding"], ["Classics"], publication_year=1954,
                           ratings_count=500, average_rating=3.7, language="eng"),
        "kings": make_book("The Way of Kings", ["Brandon Sanderson"], ["Fantasy"], series="The Stormlight Archive",
                           series_position="1", publication_year=2010, ratings_count=300, average_rating=4.6, language="en-US"),
        "mistborn": make_book("The Final Empire", ["Brandon Sanderson"], ["Fantasy"], series="Mistborn",
                              series_position="1", publication_year=2006, ratings_count=350, average_rating=4.4, language="eng"),
        "solitude": make_book("One Hundred Years of Solitude", ["Gabriel García Márquez"], ["Classics"],
                              original_title="Cien años de soledad", publication_year=1967, ratings_count=400,
                              average_rating=4.0, language="spa"),
        "cholera": make_book("Love in the Time of Cholera", ["Gabriel García Márquez"], ["Romance"], publication_year=1985,
                             ratings_count=250, average_rating=3.9, language="eng"),
        "hunger": make_book("The Hunger Games", ["Suzanne Collins"], ["Young Adult", "Science Fiction"],
                            series="The Hunger Games", series_position="1", publication_year=2008, ratings_count=950,
                            average_rating=4.3, language="eng"),
        "pride": make_book("Pride and Prejudice", ["Jane Austen"], ["Classics", "Romance"], publication_year=1813,
                           ratings_count=650, average_rating=4.2, language="eng"),
        "dune": make_book("Dune", ["Frank Herbert"], ["Science Fiction"], publication_year=1965, ratings_count=450,
                          average_rating=4.2, language="eng"),
    }
    return books
