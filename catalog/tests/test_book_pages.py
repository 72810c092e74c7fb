import re

import pytest

from accounts.ratings import refresh_rating_summaries, set_rating
from catalog.models import Book


def assert_csp_clean(html):
    """Nothing the Content-Security-Policy would block: no inline scripts, styles or handlers."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_book_page_shows_everything_about_the_book(client, catalog, reader, other_reader):
    book = catalog["hp1"]
    set_rating(reader, book, 5)
    set_rating(other_reader, book, 3)
    refresh_rating_summaries([book.pk])  # the fixture's made-up counts give way to the two real ratings
    response = client.get(f"/books/{book.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1 id=\"book-title\">Harry Potter and the Sorcerer&#x27;s Stone</h1>" in html
    assert 'href="/authors/jk-rowling/"' in html
    assert "/books/?series=Harry%20Potter" in html and "book 1" in html
    assert "1997" in html
    assert 'href="/genres/fantasy/"' in html
    assert "4.00</strong> out of 5 · 2 ratings" in html
    assert html.count("<meter") == 5 and 'value="50"' in html
    assert f'src="/books/{book.pk}/cover.svg"' in html
    assert "Readers who liked this also liked" in html
    assert_csp_clean(html)


def test_book_page_for_a_signed_in_reader_shows_their_rating(reader_client, reader, catalog):
    book = catalog["dune"]
    set_rating(reader, book, 4)
    html = reader_client.get(f"/books/{book.pk}/").content.decode()
    assert f'action="/rate/{book.pk}/"' in html or "rate-form" in html
    assert 'aria-pressed="true"' in html
    assert_csp_clean(html)


def test_book_page_query_count(client, catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert client.get(f"/books/{catalog['dune'].pk}/").status_code == 200


def test_missing_book_is_a_friendly_404(client, db):
    response = client.get("/books/999999/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert client.get("/books/999999/cover.svg").status_code == 404


def test_generated_cover_is_svg_with_escaped_title_and_author(client, make_book):
    book = make_book("<Tom & Jerry> and a very long title that wraps over several lines", ["O'Brien <script>"])
    response = client.get(f"/books/{book.pk}/cover.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.startswith("<svg") and "&lt;Tom &amp; Jerry&gt;" in svg
    assert "<script" not in svg and "O&#x27;Brien &lt;script&gt;" in svg


def test_stored_cover_url_is_used_when_present(client, make_book):
    book = make_book("Covered", cover_url="https://images.example.org/covered.jpg")
    assert 'src="https://images.example.org/covered.jpg"' in client.get(f"/books/{book.pk}/").content.decode()


def test_author_page_lists_books_most_popular_first(client, catalog, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = client.get("/authors/brandon-sanderson/")
    assert response.status_code == 200
    assert [book.title for book in response.context["page"].object_list] == ["The Final Empire", "The Way of Kings"]
    assert client.get("/authors/nobody/").status_code == 404


def test_home_page_sections(client, catalog):
    Book.objects.filter(pk=catalog["lotr"].pk).update(bayesian_rating=4.9)
    response = client.get("/")
    html = response.content.decode()
    assert "Most read" in html and "Top rated" in html
    assert 'action="/search/"' in html
    most_read = [book.title for book in response.context["most_read"]]
    assert most_read[0] == "The Hunger Games"
    assert response.context["top_rated"][0].book.title == "The Lord of the Rings"
    assert "Picked for you" not in html
    assert_csp_clean(html)


def test_home_page_shows_a_signed_in_readers_picks(reader_client, catalog):
    html = reader_client.get("/").content.decode()
    assert "Picked for you" in html


def test_hidden_books_stay_browsable_but_leave_top_rated(client, catalog):
    lotr = catalog["lotr"]
    Book.objects.filter(pk=lotr.pk).update(bayesian_rating=4.9, hidden_from_recommendations=True)
    response = client.get("/")
    assert lotr.title not in [pick.book.title for pick in response.context["top_rated"]]
    assert lotr not in list(response.context["most_read"])
    no_results = client.get("/search/", {"q": "zzzzqqq"})
    assert lotr not in list(no_results.context["popular"])
    assert client.get(f"/books/{lotr.pk}/").status_code == 200


@pytest.mark.parametrize("url", ["/", "/books/", "/search/?q=dune", "/search/?q=zzzzqqq", "/genres/fantasy/",
                                 "/authors/frank-herbert/"])
def test_pages_satisfy_the_content_security_policy(client, catalog, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_csp_clean(response.content.decode())


@pytest.mark.parametrize("code, name", [("eng", "English"), ("en-US", "English (US)"), ("spa", "Spanish"), ("nl", "Dutch"),
                                        ("xx-unknown", "xx-unknown")])
def test_languages_are_shown_by_name(client, catalog, code, name):
    book = catalog["hp1"]
    Book.objects.filter(pk=book.pk).update(language=code)
    html = client.get(f"/books/{book.pk}/").content.decode()
    assert f"<dt>Language</dt><dd>{name}</dd>" in html


def test_the_browse_language_filter_offers_names(client, catalog):
    html = client.get("/books/").content.decode()
    assert '<option value="eng">English</option>' in html
    assert '<option value="spa">Spanish</option>' in html
    assert ">eng<" not in html
