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


def test_counter_stops_at_the_goal(reader_client, reader, shelves, rate):
    for title in ("Fantasy 0", "Fantasy 1", "Fantasy 2", "Mystery 0", "Mystery 1", "Classics 0", "Classics 1"):
        rate(reader, shelves[title], 4)
    html = reader_client.get(URL).content.decode()
    assert "<strong data-rated-count>5</strong> of 5 rated" in html
    assert "7</strong> of 5" not in html
    assert '<progress max="5" value="5"' in html


def test_rating_from_onboarding_without_js_comes_back_to_the_book(reader_client, reader, shelves):
    html = reader_client.get(URL + "?more=2").content.decode()
    book = shelves["Mystery 5"]  # in the second batch
    next_url = f"{URL}?more=2#book-{book.pk}"
    assert f'id="book-{book.pk}"' in html
    assert f'name="next" value="{next_url.replace("&", "&amp;")}"' in html
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4", "next": next_url})
    assert response["Location"] == next_url


def test_show_more_adds_a_batch_and_lands_on_it(reader_client, shelves):
    first = reader_client.get(URL)
    assert 'href="?more=2#more-2"' in first.content.decode()
    response = reader_client.get(URL + "?more=2")
    batches = response.context["batches"]
    assert [batch["number"] for batch in batches] == [1, 2]
    # The next most popular of each genre, none of them shown twice.
    assert [b.title for b in batches[1]["sections"][0]["books"]] == ["Fantasy 4", "Fantasy 5"]
    titles = [row["book"].title for s in response.context["sections"] for row in s["rows"]]
    assert len(titles) == len(set(titles)) == 18
    html = response.content.decode()
    assert 'id="more-2"' in html and "More in Fantasy" in html
    # Six books per genre: the second batch is short, so there is nothing more to show.
    assert "Show more books" not in html


def test_show_more_ignores_nonsense_and_stops_at_its_limit(reader_client, shelves):
    for junk in ("abc", "-3", "0", "", "1e9"):
        response = reader_client.get(URL, {"more": junk})
        assert response.status_code == 200
        assert [batch["number"] for batch in response.context["batches"]] == [1]
    assert [b["number"] for b in reader_client.get(URL, {"more": "999"}).context["batches"]] == [1, 2]


def test_search_box_finds_books_to_rate_and_they_are_listed_once(reader_client, shelves):
    html = reader_client.get(URL).content.decode()
    assert 'id="onboarding-search"' in html and 'name="q"' in html
    response = reader_client.get(URL, {"q": "fantasy 1"})
    results = [row["book"].title for row in response.context["results"]]
    assert results and results[0] == "Fantasy 1"
    genre_titles = [row["book"].title for s in response.context["sections"] for row in s["rows"]]
    assert not set(results) & set(genre_titles)
    html = response.content.decode()
    assert "Books matching “fantasy 1”" in html
    assert f'name="next" value="{URL}?q=fantasy+1#book-{shelves["Fantasy 1"].pk}"' in html
    # A search that finds nothing says so and still offers the popular books.
    response = reader_client.get(URL, {"q": "zzzzqqqq"})
    assert response.context["results"] == []
    assert "No book matches" in response.content.decode()
    assert response.context["sections"]


def test_search_text_is_escaped(reader_client, shelves):
    html = reader_client.get(URL, {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_show_more_keeps_the_search(reader_client, genres):
    for genre in genres:
        for rank in range(20):  # enough that each genre still fills a batch after the search results
            make_book(f"{genre.name} {rank}", f"Writer {genre.name} {rank}", genre=genre, bayesian_rating=4 - rank / 100)
    html = reader_client.get(URL, {"q": "mystery"}).content.decode()
    assert 'href="?more=2&amp;q=mystery#more-2"' in html
    response = reader_client.get(URL, {"q": "mystery", "more": "2"})
    assert [batch["number"] for batch in response.context["batches"]] == [1, 2]
    assert response.context["results"]


def test_show_more_costs_no_extra_queries(client, reader, genres):
    for genre in genres:
        for rank in range(16):
            make_book(f"{genre.name} {rank}", f"Writer {genre.name} {rank}", genre=genre, bayesian_rating=4 - rank / 100)
    client.force_login(reader)

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries(URL + "?more=4") == queries(URL)
