"""My books: my ratings (sorted, filtered, paginated) and my want-to-read shelf."""

import pytest
from django.urls import reverse

from accounts.models import ShelfEntry
from accounts.tests.conftest import make_book


def titles(response):
    return [row["book"].title for row in response.context["rows"]]


@pytest.fixture
def rated(reader, books, rate):
    rate(reader, books[0], 3)  # Anna Karenina
    rate(reader, books[1], 5)  # Beloved
    rate(reader, books[2], 1)  # Catch-22
    return books


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("accounts:my_books"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_lists_my_ratings_most_recent_first(reader_client, rated):
    response = reader_client.get(reverse("accounts:my_books"))
    assert response.status_code == 200
    assert titles(response) == ["Catch-22", "Beloved", "Anna Karenina"]
    assert "Rated (3)" in response.content.decode()


def test_sort_by_stars_and_title(reader_client, rated):
    assert titles(reader_client.get(reverse("accounts:my_books") + "?sort=stars")) == ["Beloved", "Anna Karenina", "Catch-22"]
    assert titles(reader_client.get(reverse("accounts:my_books") + "?sort=title")) == ["Anna Karenina", "Beloved", "Catch-22"]


def test_filter_by_stars(reader_client, rated):
    assert titles(reader_client.get(reverse("accounts:my_books") + "?stars=5")) == ["Beloved"]
    response = reader_client.get(reverse("accounts:my_books") + "?stars=2")
    assert titles(response) == []
    assert "no 2-star ratings" in response.content.decode()


@pytest.mark.parametrize("query", ["?sort=;drop", "?stars=9", "?stars=abc", "?page=999", "?page=-1", "?list=nope"])
def test_bad_parameters_fall_back_quietly(reader_client, rated, query):
    response = reader_client.get(reverse("accounts:my_books") + query)
    assert response.status_code == 200


def test_another_readers_ratings_and_shelf_are_not_shown(reader_client, other_reader, books, rate):
    rate(other_reader, books[0], 4)
    ShelfEntry.objects.create(user=other_reader, book=books[1])
    response = reader_client.get(reverse("accounts:my_books"))
    assert titles(response) == []
    response = reader_client.get(reverse("accounts:my_books") + "?list=want")
    assert titles(response) == []
    assert "Anna Karenina" not in response.content.decode()


def test_want_to_read_list(reader_client, reader, books):
    ShelfEntry.objects.create(user=reader, book=books[2])
    response = reader_client.get(reverse("accounts:my_books") + "?list=want")
    assert titles(response) == ["Catch-22"]
    html = response.content.decode()
    assert "✓ Want to read" in html
    assert "Want to read (1)" in html


def test_paginated(reader_client, reader, rate):
    for number in range(25):
        rate(reader, make_book(f"Book {number:02d}", f"Writer {number}"), 4)
    first = reader_client.get(reverse("accounts:my_books") + "?sort=title")
    assert len(first.context["rows"]) == 20
    second = reader_client.get(reverse("accounts:my_books") + "?sort=title&page=2")
    assert titles(second) == ["Book 20", "Book 21", "Book 22", "Book 23", "Book 24"]
    assert "sort=title&amp;page=2" in first.content.decode()


@pytest.mark.parametrize("query", ["", "?sort=stars&stars=4", "?list=want"])
def test_query_count_does_not_grow_with_the_list(client, reader, rate, django_assert_num_queries, query):
    def add(count, start):
        for number in range(start, start + count):
            book = make_book(f"Book {number}", f"Writer {number}")
            rate(reader, book, 4)
            ShelfEntry.objects.create(user=reader, book=make_book(f"Shelved {number}", f"Writer {number}"))

    client.force_login(reader)
    url = reverse("accounts:my_books") + query
    add(2, 0)
    # session, user, three tab counts, [filtered count], page, authors, state: ratings and shelf
    expected = 10 if "stars=" in query else 9
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
    add(15, 100)
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
