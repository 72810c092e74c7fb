""""Not interested" in recommendations: dismissed books never return, and pull the ranking away in fold-in and retrain."""

import io

import numpy as np
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Dismissal, ShelfEntry
from accounts.ratings import set_rating
from recommender import blend, dismissals, serving

from .conftest import FAST_TRAINING

FOR_YOU = reverse("recommender:for_you")


def all_pick_ids(client):
    """Every book id For you shows, over all its pages."""
    ids, page = [], 1
    while True:
        response = client.get(FOR_YOU, {"page": page})
        ids += [pick.book.pk for pick, _ in response.context["picks"]]
        if not response.context["page_obj"].has_next():
            return ids
        page += 1


def dismiss(client, book, next_url=FOR_YOU):
    return client.post(reverse("accounts:dismiss", args=[book.pk]), {"action": "dismiss", "next": next_url})


def test_every_card_on_for_you_has_a_dismiss_form_and_a_dismissed_book_never_returns(reader_client, reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    response = reader_client.get(FOR_YOU)
    page = response.content.decode()
    picks = [pick.book for pick, _ in response.context["picks"]]
    assert page.count('class="dismiss-form"') == len(picks) > 0
    top = picks[0]
    assert dismiss(reader_client, top)["Location"] == FOR_YOU
    assert top.pk not in all_pick_ids(reader_client)
    # Nor on the home page's picks, nor among the similar books of a book it resembles.
    assert top.pk not in [card.book.pk for card in reader_client.get(reverse("catalog:home")).context["picks"]]
    similar_page = reader_client.get(reverse("catalog:book_detail", args=[trained.fantasy[0].pk]))
    assert top.pk not in [pick.book.pk for pick in similar_page.context["similar"]]
    # Undo, and it may return.
    reader_client.post(reverse("accounts:dismiss", args=[top.pk]), {"action": "undo"})
    assert top.pk in all_pick_ids(reader_client)


def test_similar_book_cards_can_be_dismissed_there(reader_client, reader, trained):
    book = trained.fantasy[0]
    url = reverse("catalog:book_detail", args=[book.pk])
    response = reader_client.get(url)
    similar = [pick.book for pick in response.context["similar"]]
    assert response.content.decode().count('class="dismiss-form"') == len(similar) > 0
    assert dismiss(reader_client, similar[0], next_url=url)["Location"] == url
    response = reader_client.get(url)
    assert similar[0].pk not in [pick.book.pk for pick in response.context["similar"]]
    # An anonymous visitor gets no dismiss button (and no one else's dismissals apply).
    reader_client.logout()
    anonymous = reader_client.get(url)
    assert 'class="dismiss-form"' not in anonymous.content.decode()
    assert similar[0].pk in [pick.book.pk for pick in anonymous.context["similar"]]


def test_without_a_model_dismissed_books_leave_the_popular_picks_too(reader_client, reader, taste_catalog):
    for book in taste_catalog.fantasy[:5]:
        set_rating(reader, book, 5)
    first = reader_client.get(FOR_YOU).context["picks"][0][0].book
    dismiss(reader_client, first)
    assert first.pk not in all_pick_ids(reader_client)


def test_want_to_read_books_leave_the_picks_for_their_own_row(reader_client, reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    top = reader_client.get(FOR_YOU).context["picks"][0][0].book
    ShelfEntry.objects.create(user=reader, book=top)
    response = reader_client.get(FOR_YOU)
    assert top.pk not in all_pick_ids(reader_client)
    assert [pick.book.pk for pick in response.context["want_to_read"]] == [top.pk]
    assert "From your want-to-read shelf" in response.content.decode()


def scores_for(reader):
    """The served (blended) score of every book for the reader, as For you ranks them."""
    ranking = serving.personal_ranking(reader, 1)
    loaded, ratings = ranking.loaded, ranking.ratings
    rated, known = loaded.book_indices(ratings.book_ids)
    negatives, negative_known = loaded.book_indices(ratings.negatives())
    scores = blend.reader_scores(
        loaded.model, loaded.item_item, ranking.state, rated[known], ratings.values[known], negatives[negative_known]
    )
    return scores, loaded


def test_dismissals_lower_the_served_scores_of_similar_books(reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    before, loaded = scores_for(reader)
    dismissed, others = trained.fantasy[5:10], trained.fantasy[10:]
    for book in dismissed:
        Dismissal.objects.create(user=reader, book=book)
    after, _ = scores_for(reader)
    columns = lambda books: loaded.book_indices([book.pk for book in books])[0]  # noqa: E731
    assert after[columns(dismissed)].mean() < before[columns(dismissed)].mean()
    # The fantasy books not dismissed move down too, though less: they resemble the dismissed ones.
    assert after[columns(others)].mean() < before[columns(others)].mean()


def test_retrain_applies_dismissals_to_the_stored_vector_and_serving_uses_it_while_current(reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    dismissed = trained.fantasy[5:7]
    for book in dismissed:
        Dismissal.objects.create(user=reader, book=book)
    Dismissal.objects.create(user=reader, book=trained.fantasy[0])  # rated as well: the rating wins
    call_command("retrain", *FAST_TRAINING, "--force", stdout=io.StringIO())
    loaded = serving.active_model()
    row = loaded.rater_index(reader.rater.pk)
    model = loaded.model
    # Stored counts: 5 ratings and the 2 dismissals of unrated books.
    assert int(loaded.rater_rating_counts[row]) == 7
    rated, _ = loaded.book_indices([book.pk for book in trained.fantasy[:5]])
    negatives, _ = loaded.book_indices([book.pk for book in dismissed])
    expected = dismissals.ranking_vector(model, rated, np.full(5, 5.0, np.float32), negatives)
    assert np.allclose(model.user_factors[row, : model.rank_factors], expected, atol=1e-5)
    without = dismissals.ranking_vector(model, rated, np.full(5, 5.0, np.float32), negatives[:0])
    assert not np.allclose(expected, without, atol=1e-4)

    # Serving reuses that stored vector while nothing changed ...
    ratings = serving.ReaderRatings.of(reader)
    assert np.array_equal(serving.reader_vector(loaded, ratings).vector, model.user_factors[row])
    # ... and folds in again after an undo (a count that no longer matches).
    Dismissal.objects.filter(user=reader, book=dismissed[0]).delete()
    state = serving.reader_vector(loaded, serving.ReaderRatings.of(reader))
    assert not np.allclose(state.vector[: model.rank_factors], expected, atol=1e-4)
