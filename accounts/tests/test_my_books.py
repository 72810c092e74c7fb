"""My books: the three shelves with counts, sorted, filtered and paginated, with their dates."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ShelfEntry
from accounts.tests.conftest import make_book


def titles(response):
    return [row["book"].title for row in response.context["rows"]]


def my_books(client, query=""):
    return client.get(reverse("accounts:my_books") + query)


@pytest.fixture
def rated(reader, books, rate):
    rate(reader, books[0], 3)  # Anna Karenina
    rate(reader, books[1], 5)  # Beloved
    rate(reader, books[2], 1)  # Catch-22
    return books


def test_anonymous_is_sent_to_log_in(client):
    response = my_books(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_read_shelf_lists_rated_books_newest_first_with_counts(reader_client, reader, rated):
    ShelfEntry.objects.create(user=reader, book=make_book("Dune", "Frank Herbert"), shelf="currently-reading")
    response = my_books(reader_client)
    assert response.status_code == 200
    assert titles(response) == ["Catch-22", "Beloved", "Anna Karenina"]
    html = response.content.decode()
    assert "Read (3)" in html
    assert "Currently reading (1)" in html
    assert "Want to read (0)" in html
    assert titles(my_books(reader_client, "?shelf=currently-reading")) == ["Dune"]


def test_a_read_book_without_a_rating_is_on_read(reader_client, reader, rated):
    ShelfEntry.objects.create(user=reader, book=make_book("Emma", "Jane Austen"), shelf="read")
    assert "Emma" in titles(my_books(reader_client))


def test_sorts(reader_client, reader, rated):
    ShelfEntry.objects.filter(user=reader, book=rated[0]).update(date_read=date(2020, 5, 1))
    ShelfEntry.objects.filter(user=reader, book=rated[2]).update(date_read=date(2023, 1, 9))
    unrated = make_book("Aardvark Days", "Zed Zimmer")
    ShelfEntry.objects.create(user=reader, book=unrated, shelf="read", added=timezone.now() - timedelta(days=400))
    assert titles(my_books(reader_client, "?sort=rating")) == ["Beloved", "Anna Karenina", "Catch-22", "Aardvark Days"]
    assert titles(my_books(reader_client, "?sort=title")) == ["Aardvark Days", "Anna Karenina", "Beloved", "Catch-22"]
    # Joseph Heller, Leo Tolstoy, Toni Morrison, Zed Zimmer
    assert titles(my_books(reader_client, "?sort=author")) == ["Catch-22", "Anna Karenina", "Beloved", "Aardvark Days"]
    assert titles(my_books(reader_client, "?sort=read")) == ["Catch-22", "Anna Karenina", "Beloved", "Aardvark Days"]
    assert titles(my_books(reader_client, "?sort=added")) == ["Catch-22", "Beloved", "Anna Karenina", "Aardvark Days"]


def test_shows_the_dates(reader_client, reader, rated):
    ShelfEntry.objects.filter(user=reader, book=rated[0]).update(date_read=date(2020, 5, 1), read_count=3)
    html = my_books(reader_client, "?sort=title").content.decode()
    assert "Read 1 May 2020" in html
    assert "read 3 times" in html
    assert "Finish date not set" in html
    assert 'name="date_read" value="2020-05-01"' in html


def test_filter_by_stars(reader_client, rated):
    assert titles(my_books(reader_client, "?stars=5")) == ["Beloved"]
    response = my_books(reader_client, "?stars=2")
    assert titles(response) == []
    assert "your 2-star rating" in response.content.decode()


@pytest.mark.parametrize(
    "query, problem",
    [("?sort=;drop", "order"), ("?stars=9", "star filter"), ("?stars=abc", "star filter"),
     ("?page=-1", "page number"), ("?shelf=did-not-finish", "shelf")],
)
def test_bad_parameters_fall_back_and_say_so(reader_client, rated, query, problem):
    response = my_books(reader_client, query)
    assert response.status_code == 200
    assert titles(response) == ["Catch-22", "Beloved", "Anna Karenina"]
    assert f"Unknown {problem}" in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(reader_client, rated):
    assert titles(my_books(reader_client, "?page=999")) == ["Catch-22", "Beloved", "Anna Karenina"]


def test_another_readers_shelves_are_not_shown(reader_client, other_reader, books, rate):
    rate(other_reader, books[0], 4)
    ShelfEntry.objects.create(user=other_reader, book=books[1])
    assert titles(my_books(reader_client)) == []
    response = my_books(reader_client, "?shelf=to-read")
    assert titles(response) == []
    assert "Anna Karenina" not in response.content.decode()


def test_want_to_read_list_and_its_old_address(reader_client, reader, books):
    ShelfEntry.objects.create(user=reader, book=books[2])
    for query in ("?shelf=to-read", "?list=want"):
        response = my_books(reader_client, query)
        assert titles(response) == ["Catch-22"]
        html = response.content.decode()
        assert "✓ Want to read" in html
        assert "Want to read (1)" in html


def test_paginated(reader_client, reader, rate):
    for number in range(25):
        rate(reader, make_book(f"Book {number:02d}", f"Writer {number}"), 4)
    first = my_books(reader_client, "?sort=title")
    assert len(first.context["rows"]) == 20
    second = my_books(reader_client, "?sort=title&page=2")
    assert titles(second) == ["Book 20", "Book 21", "Book 22", "Book 23", "Book 24"]
    assert "sort=title&amp;shelf=read&amp;page=2" in first.content.decode()


@pytest.mark.parametrize("query", ["", "?sort=rating&stars=4", "?shelf=to-read&sort=author"])
def test_query_count_does_not_grow_with_the_list(client, reader, rate, django_assert_num_queries, query):
    def add(count, start):
        for number in range(start, start + count):
            book = make_book(f"Book {number}", f"Writer {number}")
            rate(reader, book, 4)
            ShelfEntry.objects.create(user=reader, book=make_book(f"Shelved {number}", f"Writer {number}"))

    client.force_login(reader)
    url = reverse("accounts:my_books") + query
    add(2, 0)
    # session, user, shelf counts, dismissal count, [filtered count], page, authors, state: ratings and shelves
    expected = 9 if "stars=" in query else 8
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
    add(15, 100)
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
