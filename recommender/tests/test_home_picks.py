"""The home page's "Picked for you": personal picks that never repeat "Top rated", or a way into onboarding."""

from django.urls import reverse

from accounts.ratings import set_rating
from recommender import api


def section_titles(response, key):
    return [pick.book.title for pick in response.context[key]]


def test_new_reader_is_pointed_to_onboarding_instead_of_a_copy_of_top_rated(reader_client, reader, trained):
    response = reader_client.get("/")
    html = response.content.decode()
    assert response.context["picks"] == []
    assert "Picked for you" in html
    assert "Rate 5 books you have read" in html
    assert f'href="{reverse("accounts:onboarding")}"' in html
    # Still too few: the prompt counts what is left.
    for book in trained.fantasy[:3]:
        set_rating(reader, book, 5)
    html = reader_client.get("/").content.decode()
    assert "Rate 2 more books you have read" in html


def test_personal_picks_on_home_never_repeat_top_rated(reader_client, reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    response = reader_client.get("/")
    picks, top = section_titles(response, "picks"), section_titles(response, "top_rated")
    assert picks and top
    assert not set(picks) & set(top)
    # They are the reader's personal ranking, in its order, less what Top rated already shows.
    ranking = [pick.book.title for pick in api.recommendations_for(reader, limit=30)]
    assert picks == [title for title in ranking if title not in top][: len(picks)]
    assert all(pick.predicted_stars is not None for pick in response.context["picks"])
    assert "Rate a few books to start" not in response.content.decode()


def test_without_a_model_the_popular_fallback_still_differs_from_top_rated(reader_client, reader, taste_catalog):
    for book in taste_catalog.mystery[:5]:
        set_rating(reader, book, 5)
    response = reader_client.get("/")
    picks, top = section_titles(response, "picks"), section_titles(response, "top_rated")
    assert picks and top
    assert not set(picks) & set(top)
    assert not set(picks) & {book.title for book in taste_catalog.mystery[:5]}


def test_anonymous_home_page_has_no_picks_section(client, trained):
    html = client.get("/").content.decode()
    assert "Picked for you" not in html and "Rate a few books to start" not in html
