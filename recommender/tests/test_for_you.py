"""The For you page: onboarding redirect, instant personal picks by fold-in, reasons, hiding, privacy."""

import pytest
from django.urls import reverse

from accounts.ratings import set_rating
from catalog.models import Book
from recommender.models import ModelRun

FOR_YOU = reverse("recommender:for_you")


def pick_titles(response):
    return [pick.book.title for pick, _ in response.context["picks"]]


def mostly(titles, prefix):
    """The top five picks and at least eight of the top ten are of the expected kind."""
    return all(title.startswith(prefix) for title in titles[:5]) and sum(t.startswith(prefix) for t in titles[:10]) >= 8


def rate_all(user, books, value):
    for book in books:
        set_rating(user, book, value)


def test_anonymous_visitor_is_told_what_for_you_is_and_offered_sign_up(client, db, settings):
    settings.ONBOARDING_MIN_RATINGS = 7
    response = client.get(FOR_YOU)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Book recommendations picked for you alone" in html
    assert "Rate 7 or more books" in html
    assert f'href="{reverse("account_signup")}"' in html
    assert f'href="{reverse("account_login")}?next=/recommendations/"' in html
    # The explanation replaces the picks: nothing personal is rendered or cached for everyone.
    assert "picks" not in response.context
    assert "Cookie" in response["Vary"]  # a signed-in reader's For you is never served from a shared copy


def test_reader_with_too_few_ratings_is_sent_to_onboarding(reader_client, reader, trained, settings):
    rate_all(reader, trained.fantasy[:2], 5)
    response = reader_client.get(FOR_YOU)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:onboarding")


def test_new_reader_who_rates_five_fantasy_books_gets_fantasy_at_once(reader_client, reader, trained):
    runs_before = ModelRun.objects.count()
    rate_all(reader, trained.fantasy[:5], 5)
    response = reader_client.get(FOR_YOU)
    assert response.status_code == 200
    assert response.context["personal"] is True
    titles = pick_titles(response)
    assert mostly(titles, "Dragon Tale"), titles
    rated = {book.title for book in trained.fantasy[:5]}
    assert not rated & set(titles)
    assert ModelRun.objects.count() == runs_before  # no retrain happened
    picks = [pick for pick, _ in response.context["picks"]]
    because = {pick.because.title for pick in picks if pick.because is not None}
    assert because and because <= rated
    html = response.content.decode()
    first = picks[0]
    assert 1 <= first.predicted_stars <= 5
    assert f"★ {first.predicted_stars:.1f} for you · Because you liked {first.because.title}" in html


def test_tastes_stay_apart_and_nobody_sees_anothers_ratings(client, reader, other_reader, trained):
    rate_all(reader, trained.fantasy[:5], 5)
    rate_all(other_reader, trained.mystery[:5], 5)
    client.force_login(other_reader)
    response = client.get(FOR_YOU)
    titles = pick_titles(response)
    assert mostly(titles, "Murder Case"), titles
    html = response.content.decode()
    for book in trained.fantasy[:5]:
        assert f"Because you liked {book.title}<" not in html
    assert not {book.title for book in trained.mystery[:5]} & set(titles)


def test_rating_more_changes_the_picks_without_a_retrain(reader_client, reader, trained):
    rate_all(reader, trained.fantasy[:5], 5)
    assert pick_titles(reader_client.get(FOR_YOU))[0].startswith("Dragon Tale")
    rate_all(reader, trained.fantasy[:5], 1)
    rate_all(reader, trained.mystery[:8], 5)
    assert pick_titles(reader_client.get(FOR_YOU))[0].startswith("Murder Case")


def test_hidden_book_disappears_from_for_you(reader_client, reader, trained):
    rate_all(reader, trained.fantasy[:5], 5)
    top = reader_client.get(FOR_YOU).context["picks"][0][0].book
    Book.objects.filter(pk=top.pk).update(hidden_from_recommendations=True)
    titles = pick_titles(reader_client.get(FOR_YOU))
    assert top.title not in titles
    assert len(titles) == 24


def test_picks_are_paginated(reader_client, reader, trained):
    rate_all(reader, trained.fantasy[:5], 5)
    first = pick_titles(reader_client.get(FOR_YOU))
    second = pick_titles(reader_client.get(FOR_YOU, {"page": 2}))
    assert len(first) == 24 and len(second) == 1
    assert not set(first) & set(second)
    assert len(set(first) | set(second)) == 25  # 30 books minus the 5 rated


def test_without_a_model_readers_get_popular_books_in_the_genres_they_like(reader_client, reader, taste_catalog):
    rate_all(reader, taste_catalog.mystery[:5], 5)
    response = reader_client.get(FOR_YOU)
    assert response.status_code == 200
    assert response.context["personal"] is False
    picks = [pick for pick, _ in response.context["picks"]]
    assert all(pick.reason == "Popular in Mystery" for pick in picks[:10])
    bayesian = [pick.book.bayesian_rating for pick in picks[:10]]
    assert bayesian == sorted(bayesian, reverse=True)
    assert "Popular in Mystery" in response.content.decode()


def test_page_query_count_is_bounded(reader_client, reader, trained, django_assert_max_num_queries):
    rate_all(reader, trained.fantasy[:5], 5)
    reader_client.get(FOR_YOU)  # loads the model
    with django_assert_max_num_queries(12):
        response = reader_client.get(FOR_YOU)
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["0", "abc", "999"])
def test_odd_page_numbers_still_render(reader_client, reader, trained, page):
    rate_all(reader, trained.fantasy[:5], 5)
    assert reader_client.get(FOR_YOU, {"page": page}).status_code == 200
