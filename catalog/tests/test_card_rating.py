"""Rating from the cards: the compact rate control on list pages, its no-JS round trip, and its query cost."""

import re
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Rating
from accounts.ratings import set_rating

RATE_FORM = re.compile(r'action="/books/(\d+)/rate/".*?name="next" value="([^"]+)"', re.S)


def card_forms(html):
    """{book_id: next} for every card rate form on a page."""
    return {int(pk): unescape(next_url) for pk, next_url in RATE_FORM.findall(html)}


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


@pytest.fixture
def many_books(make_book):
    def make(count, start=0):
        return [
            make_book(f"Book {n:03}", [f"Writer {n % 5}"], ["Fantasy"], ratings_count=1000 - n, average_rating=4)
            for n in range(start, start + count)
        ]

    return make


def test_cards_carry_a_rate_form_for_a_signed_in_reader_only(client, reader, catalog):
    assert card_forms(client.get(reverse("catalog:book_list")).content.decode()) == {}
    client.force_login(reader)
    html = client.get(reverse("catalog:book_list")).content.decode()
    forms = card_forms(html)
    assert set(forms) == {book.pk for book in catalog.values()}
    assert html.count("Rate it") == len(catalog)
    # Each card's form comes back to the card: the page it was on, scrolled to the book.
    for pk, next_url in forms.items():
        assert next_url == f"/books/#book-{pk}"
        assert f'id="book-{pk}"' in html


def test_rating_from_a_card_keeps_the_readers_place_and_shows_the_rating(reader_client, reader, catalog):
    dune = catalog["dune"]
    page_url = reverse("catalog:book_list") + "?sort=rating&per_page=12"
    next_url = card_forms(reader_client.get(page_url).content.decode())[dune.pk]
    assert next_url == page_url + f"#book-{dune.pk}"
    response = reader_client.post(reverse("accounts:rate", args=[dune.pk]), {"value": "4", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    assert Rating.objects.get(rater__user=reader).value == 4
    html = reader_client.get(page_url).content.decode()
    card = html[html.index(f'id="book-{dune.pk}"'):]
    card = card[: card.index("</li>")]
    assert "Your rating" in card and "★★★★☆" in card
    assert 'value="4" class="on"\n                aria-pressed="true"' in card


def test_search_results_and_author_pages_carry_the_control(reader_client, reader, catalog):
    set_rating(reader, catalog["kings"], 5)
    html = reader_client.get(reverse("catalog:search") + "?q=sanderson").content.decode()
    forms = card_forms(html)
    assert set(forms) == {catalog["kings"].pk, catalog["mistborn"].pk}
    assert forms[catalog["kings"].pk] == f"/search/?q=sanderson#book-{catalog['kings'].pk}"
    assert "Your rating" in html
    author = catalog["kings"].ordered_authors[0]
    assert set(card_forms(reader_client.get(author.get_absolute_url()).content.decode())) == {
        catalog["kings"].pk, catalog["mistborn"].pk
    }


def test_a_book_listed_twice_on_the_home_page_keeps_unique_anchors(reader_client, catalog):
    html = reader_client.get("/").content.decode()
    ids = re.findall(r'id="((?:top-|picks-)?book-\d+)"', html)
    assert ids and len(ids) == len(set(ids))
    top = catalog["lotr"].pk
    assert f'id="top-book-{top}"' in html and f'value="/#top-book-{top}"' in html


@pytest.mark.parametrize("url", [reverse("catalog:book_list"), reverse("catalog:genre_detail", args=["fantasy"]),
                                 reverse("catalog:author_detail", args=["writer-0"]), "/search/?q=book"])
def test_cards_cost_the_same_queries_however_many_cards_and_ratings(client, reader, many_books, url):
    """The reader's ratings for a whole page come in one query, not one per card.

    Measured against an anonymous visitor's copy of the same page, so that what the page itself does (a
    search's threshold retries on PostgreSQL, the filter's cached choices) cancels out.
    """

    def cost_of_cards():
        cache.clear()
        client.logout()
        anonymous, _ = queries(client, url)
        client.force_login(reader)
        signed_in, response = queries(client, url)
        return signed_in - anonymous, len(card_forms(response.content.decode()))

    books = many_books(5)
    set_rating(reader, books[0], 4)
    before, cards_before = cost_of_cards()
    for book in many_books(19, start=5)[::2]:
        set_rating(reader, book, 4)
    after, cards_after = cost_of_cards()
    assert cards_after > cards_before > 0
    assert after == before
    # Only the session, the user and the page's rating and shelf states.
    assert after <= 2 + 2


def test_home_page_cards_cost_a_fixed_number_of_queries(client, reader, many_books):
    books = many_books(40)
    for book in books[-8:]:
        set_rating(reader, book, 4)
    anonymous, _ = queries(client, "/")
    client.force_login(reader)
    signed_in, response = queries(client, "/")
    html = response.content.decode()
    assert "Picked for you" in html and len(RATE_FORM.findall(html)) == 36  # most read, top rated, picks
    # Session, user, the reader's rating count, picks (popular in their genres) and one state lookup:
    # far fewer than one query per card.
    assert signed_in - anonymous <= 12
