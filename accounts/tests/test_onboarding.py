"""Onboarding: "rate a few books to start", popular books across genres."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.conftest import make_book

URL = "/recommendations/start/"


@pytest.fixture
def shelves(genres):
    books = {}
    for genre in genres:
        for rank in range(6):
            book = make_book(f"{genre.name} {rank}", f"Writer {genre.name} {rank}", genre=genre)
            book.bayesian_rating = 4.5 - rank * 0.1
            book.ratings_count = 100 - rank
            book.save()
            books[book.title] = book
    make_book("Hidden gem", "Nobody", genre=genres[0], hidden_from_recommendations=True, bayesian_rating=5)
    return books


def test_url_name():
    assert reverse("accounts:onboarding") == URL


def test_anonymous_is_sent_to_log_in(client, db):
    assert client.get(URL)["Location"].startswith(reverse("account_login"))


def test_shows_top_books_of_each_genre(reader_client, shelves):
    response = reader_client.get(URL)
    assert response.status_code == 200
    sections = response.context["sections"]
    # Biggest genres first (Fantasy has the hidden book too), ties by name.
    assert [s["title"] for s in sections] == ["Fantasy", "Classics", "Mystery"]
    assert [b.title for b in sections[0]["books"]] == ["Fantasy 0", "Fantasy 1", "Fantasy 2", "Fantasy 3"]
    html = response.content.decode()
    assert "Hidden gem" not in html
    assert "0</strong> of 5 rated" in html
    assert html.count('name="value"') == 12 * 5  # star forms inline


def test_progress_and_continue_link(reader_client, reader, shelves, rate):
    for title in ("Fantasy 0", "Fantasy 1", "Mystery 0"):
        rate(reader, shelves[title], 4)
    html = reader_client.get(URL).content.decode()
    assert "3</strong> of 5 rated" in html
    assert 'data-continue hidden' in html
    for title in ("Mystery 1", "Classics 0"):
        rate(reader, shelves[title], 4)
    html = reader_client.get(URL).content.decode()
    assert "5</strong> of 5 rated" in html
    assert 'data-continue>' in html


def test_rating_from_onboarding_comes_back_to_it(reader_client, reader, shelves):
    book = shelves["Fantasy 0"]
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "5", "next": URL})
    assert response["Location"] == URL


@override_settings(ONBOARDING_MIN_RATINGS=2)
def test_threshold_comes_from_settings(reader_client, reader, shelves, rate):
    rate(reader, shelves["Fantasy 0"], 4)
    rate(reader, shelves["Fantasy 1"], 4)
    assert "2</strong> of 2 rated" in reader_client.get(URL).content.decode()


def test_without_genres_shows_popular_books(reader_client, books):
    response = reader_client.get(URL)
    assert [s["title"] for s in response.context["sections"]] == ["Popular with readers"]


def test_query_count_is_fixed(client, reader, genres, shelves, rate):
    client.force_login(reader)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    before = queries()
    # More books, and ratings of them, don't add queries; only the number of genres shown does.
    for genre in genres:
        for rank in range(6, 12):
            rate(reader, make_book(f"{genre.name} {rank}", f"Writer {rank}", genre=genre), 3)
    assert queries() == before
    # session, user, rated count, genres; per genre: books, authors (and genres); state: ratings, shelf
    assert before <= 4 + 3 * 3 + 2


def test_offers_first_volumes_not_the_popular_sequels(reader_client, genres):
    fantasy = genres[0]
    # The sequels are the most popular books of the genre, the first volume far behind; #0.5 is a prequel novella.
    for position, stars in [("5", 4.9), ("3", 4.8), ("6", 4.7), ("1", 3.0), ("0.5", 4.95)]:
        make_book(f"Wizard School #{position}", "J. Writer", genre=fantasy, series="Wizard School",
                  series_position=position, bayesian_rating=stars)  # fmt: skip
    make_book("Dragon Omnibus", "D. Writer", genre=fantasy, series="Dragons", series_position="1-3", bayesian_rating=4.6)
    make_book("Dragons #2", "D. Writer", genre=fantasy, series="Dragons", series_position="2", bayesian_rating=4.5)
    make_book("Dragons #1", "D. Writer", genre=fantasy, series="Dragons", series_position="1", bayesian_rating=2.0)
    make_book("A standalone", "S. Writer", genre=fantasy, bayesian_rating=4.0)
    page = reader_client.get(URL).context["sections"]
    titles = [book.title for book in page[0]["books"]]
    assert page[0]["title"] == "Fantasy"
    assert titles == ["Wizard School #1", "Dragons #1", "A standalone"]
