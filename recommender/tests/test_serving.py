"""Serving: loading and swapping the active model, fold-in caching, similar and popular books via recommender.api."""

import io

import numpy as np
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Rater, Rating
from accounts.ratings import set_rating
from catalog.models import Book
from recommender import api, serving
from recommender import factor_model as factorization
from recommender.activation import activate_run
from recommender.models import ModelArtifact, ModelRun

from .conftest import FAST_TRAINING


def retrain(*args):
    call_command("retrain", *FAST_TRAINING, *args, stdout=io.StringIO())


def test_worker_loads_the_model_once_and_reuses_it(trained, django_assert_num_queries):
    first = serving.active_model()
    assert first is not None and first.run_id == ModelRun.objects.get().pk
    with django_assert_num_queries(0):
        assert serving.active_model() is first


def test_activation_is_announced_and_workers_swap_at_once(trained, django_capture_on_commit_callbacks):
    old = serving.active_model()
    with django_capture_on_commit_callbacks(execute=True):
        retrain("--force")
    new = serving.active_model()
    assert new.run_id != old.run_id
    assert new.run_id == ModelRun.objects.get(is_active=True).pk


def test_without_announcement_workers_notice_a_new_run_on_their_periodic_check(trained, settings):
    old = serving.active_model()
    retrain("--force")  # in a test transaction the on-commit announcement never fires
    assert serving.active_model() is old
    settings.RECOMMENDER_MODEL_CHECK_SECONDS = 0
    assert serving.active_model().run_id == ModelRun.objects.get(is_active=True).pk


def test_rollback_to_an_earlier_run_swaps_back(trained, django_capture_on_commit_callbacks):
    first = ModelRun.objects.get()
    retrain("--force")
    with django_capture_on_commit_callbacks(execute=True):
        activate_run(first)
    assert serving.active_model().run_id == first.pk
    assert ModelRun.objects.filter(is_active=True).count() == 1


def test_no_active_run_means_no_model(taste_catalog):
    assert serving.active_model() is None


def test_dataset_reader_unchanged_since_training_uses_the_trained_vector(trained, reader):
    rater = Rater.objects.get(external_id="3")
    rater.user = reader
    rater.source = rater.external_id = ""
    rater.save()
    loaded = serving.active_model()
    state = serving.reader_vector(loaded, serving.ReaderRatings.of(reader))
    row = loaded.rater_index(rater.pk)
    assert np.array_equal(state.vector, loaded.model.user_factors[row])


def test_rating_since_training_folds_in_and_caches_per_ratings_version(trained, reader, monkeypatch):
    set_rating(reader, trained.fantasy[0], 5)
    loaded = serving.active_model()
    folds = []
    real_fold_in = factorization.fold_in_user

    def counting_fold_in(*args, **kwargs):
        folds.append(1)
        return real_fold_in(*args, **kwargs)

    monkeypatch.setattr(factorization, "fold_in_user", counting_fold_in)
    first = serving.reader_vector(loaded, serving.ReaderRatings.of(reader))
    again = serving.reader_vector(loaded, serving.ReaderRatings.of(reader))
    assert len(folds) == 1
    assert np.array_equal(first.vector, again.vector)
    set_rating(reader, trained.fantasy[1], 4)
    changed = serving.reader_vector(loaded, serving.ReaderRatings.of(reader))
    assert len(folds) == 2
    assert not np.array_equal(first.vector, changed.vector)


def test_ratings_of_books_the_model_never_saw_fall_back_to_popular(trained, reader):
    new_books = Book.objects.bulk_create([Book(title=f"Brand New {n}") for n in range(5)])
    for book in new_books:
        set_rating(reader, book, 5)
    picks = api.recommendations_for(reader, limit=5)
    assert len(picks) == 5
    assert all(pick.predicted_stars is None for pick in picks)
    assert not {pick.book.pk for pick in picks} & {book.pk for book in new_books}


def test_similar_books_are_neighbours_of_the_same_taste_and_never_the_book_itself(trained):
    book = trained.fantasy[0]
    similar = api.similar_books(book, limit=6)
    titles = [pick.book.title for pick in similar]
    assert len(titles) == 6 and book.title not in titles
    assert all(title.startswith("Dragon Tale") for title in titles[:3]), titles
    assert sum(title.startswith("Dragon Tale") for title in titles) >= 4, titles
    # Each card says what it shares with the book: no series or author here, so the genre.
    assert similar[0].reason == f"Fantasy, like {book.title}"


def test_hidden_books_never_appear_among_similar_books(trained):
    book = trained.fantasy[0]
    first = api.similar_books(book, limit=6)[0].book
    Book.objects.filter(pk=first.pk).update(hidden_from_recommendations=True)
    assert first.pk not in [pick.book.pk for pick in api.similar_books(book, limit=6)]


def test_similar_books_without_a_model_are_popular_books_of_the_genre(taste_catalog):
    book = taste_catalog.mystery[0]
    picks = api.similar_books(book, limit=5)
    assert len(picks) == 5
    assert all(pick.reason == "Popular in Mystery" and pick.book.pk != book.pk for pick in picks)


def test_api_lists_fetch_books_in_a_fixed_number_of_queries_in_rank_order(
    trained, reader, django_assert_max_num_queries
):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    serving.active_model()
    # ratings, dismissals, shelf, hidden books, the candidates' series, the books and their authors
    with django_assert_max_num_queries(7):
        picks = api.recommendations_for(reader, limit=10)
    scores = [pick.predicted_stars for pick in picks]
    assert len(picks) == 10 and all(score is not None for score in scores)
    ranking = serving.personal_ranking(reader, 10)
    assert [pick.book.pk for pick in picks] == ranking.book_ids
    # hidden books, the books and their authors, the book's own genres and authors, the genres the cards share
    with django_assert_max_num_queries(6):
        similar = api.similar_books(trained.fantasy[0], limit=8)
    assert [pick.book.author_names for pick in similar]  # list data is prefetched, not queried per book


def test_offset_pages_through_recommendations(trained, reader):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    first = api.recommendations_for(reader, limit=5)
    second = api.recommendations_for(reader, limit=5, offset=5)
    assert not {pick.book.pk for pick in first} & {pick.book.pk for pick in second}


def test_cold_start_is_popular_by_bayesian_average_not_raw_average(taste_catalog, other_reader):
    lucky = Book.objects.create(title="Three Fives")
    set_rating(other_reader, lucky, 5)  # a raw 5.0 average from one rating
    popular = api.popular_books(limit=5)
    assert lucky.pk not in [pick.book.pk for pick in popular]
    averages = [pick.book.bayesian_rating for pick in popular]
    assert averages == sorted(averages, reverse=True)


def test_anonymous_reader_gets_popular_books_without_hidden_ones(client, trained):
    from django.contrib.auth.models import AnonymousUser

    top = api.recommendations_for(AnonymousUser(), limit=3)[0].book
    Book.objects.filter(pk=top.pk).update(hidden_from_recommendations=True)
    picks = api.recommendations_for(AnonymousUser(), limit=3)
    assert top.pk not in [pick.book.pk for pick in picks]
    assert all(pick.reason.startswith("Popular in ") for pick in picks)


def test_a_deleted_book_drops_out_of_served_lists(trained, reader):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    top = api.recommendations_for(reader, limit=1)[0].book
    Rating.objects.filter(book=top).delete()
    top.delete()
    assert top.pk not in [pick.book.pk for pick in api.recommendations_for(reader, limit=10)]


def corrupt_active_artifact():
    ModelArtifact.objects.filter(run__is_active=True).update(data=b"not an npz archive")


def test_an_unreadable_active_model_serves_popular_books_instead_of_failing(client, reader, trained, caplog):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    corrupt_active_artifact()
    client.force_login(reader)
    for url in (reverse("catalog:home"), trained.mystery[0].get_absolute_url(), reverse("recommender:for_you")):
        assert client.get(url).status_code == 200, url
    response = client.get(reverse("recommender:for_you"))
    assert response.context["personal"] is False and response.context["picks"]
    assert "cannot be read" in caplog.text


def test_an_unreadable_new_run_leaves_the_loaded_model_serving(trained, settings, caplog):
    old = serving.active_model()
    retrain("--force")
    corrupt_active_artifact()
    settings.RECOMMENDER_MODEL_CHECK_SECONDS = 0
    assert serving.active_model() is old
    assert f"active run {ModelRun.objects.get(is_active=True).pk} cannot be read" in caplog.text
