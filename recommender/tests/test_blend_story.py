"""The served blend through retrain and For you: a new taste moves the page, reasons name the book behind a pick,
predicted stars follow the reader's own level, and the artifact carries the item-item model."""

import io
import random

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Rater, Rating
from accounts.ratings import refresh_rating_summaries, set_rating
from catalog.models import Book
from recommender import serving
from recommender.models import ModelRun
from recommender.tests.conftest import FAST_TRAINING

FOR_YOU = reverse("recommender:for_you")


@pytest.fixture
def shelves(db):
    """45 fantasy books (more than a page of picks), 15 romances, 15 mysteries; 80 dataset readers, one taste each."""
    rng = random.Random(11)
    books = {
        "fantasy": Book.objects.bulk_create([Book(title=f"Dragon Tale {n}") for n in range(45)]),
        "romance": Book.objects.bulk_create([Book(title=f"Love Letter {n}") for n in range(15)]),
        "mystery": Book.objects.bulk_create([Book(title=f"Murder Case {n}") for n in range(15)]),
    }
    tastes = ["fantasy"] * 40 + ["romance"] * 20 + ["mystery"] * 20
    raters = Rater.objects.bulk_create([Rater(source="goodbooks", external_id=str(n)) for n in range(len(tastes))])
    rows = []
    for rater, taste in zip(raters, tastes, strict=True):
        for book in rng.sample(books[taste], 12 if taste == "fantasy" else 8):
            rows.append(Rating(rater=rater, book=book, value=rng.choice([4, 5, 5])))
        other = rng.choice([genre for genre in books if genre != taste])
        for book in rng.sample(books[other], 2):
            rows.append(Rating(rater=rater, book=book, value=rng.choice([1, 2, 3])))
    Rating.objects.bulk_create(rows)
    refresh_rating_summaries()
    call_command("retrain", *FAST_TRAINING, stdout=io.StringIO())
    return books


def picks(client):
    response = client.get(FOR_YOU)
    assert response.status_code == 200 and response.context["personal"] is True
    return [pick for pick, _ in response.context["picks"]]


def test_retrain_stores_the_item_item_model_and_its_chosen_blend(shelves):
    run = ModelRun.objects.get(is_active=True)
    chosen = run.settings_choice["chosen"]
    assert len(run.settings_choice["candidates"]) > 1
    assert {"liked_weight", "mf_weight"} <= set(chosen)
    best = max(row["val_ndcg_at_10"] for row in run.settings_choice["candidates"])
    winner = [row for row in run.settings_choice["candidates"]
              if (row["liked_weight"], row["mf_weight"]) == (chosen["liked_weight"], chosen["mf_weight"])]
    assert winner[0]["val_ndcg_at_10"] == best
    loaded = serving.active_model()
    assert loaded.item_item is not None
    assert (loaded.item_item.liked_weight, loaded.item_item.mf_weight) == (chosen["liked_weight"], chosen["mf_weight"])
    # each book keeps at most its neighbours, and never itself
    matrix = loaded.item_item.matrix.tocsc()
    assert np.diff(matrix.indptr).max() <= loaded.item_item.neighbours
    assert matrix.diagonal().sum() == 0


def test_two_romances_bring_a_romance_onto_the_first_page(reader_client, reader, shelves):
    for book in shelves["fantasy"][:5]:
        set_rating(reader, book, 5)
    first = [pick.book.title for pick in picks(reader_client)]
    assert not [title for title in first if title.startswith("Love Letter")], first
    for book in shelves["romance"][:2]:
        set_rating(reader, book, 5)
    after = picks(reader_client)
    romances = [pick for pick in after if pick.book.title.startswith("Love Letter")]
    assert romances, [pick.book.title for pick in after]
    # and the reason names one of the two romances the reader rated, not a fantasy book
    assert {pick.because.title for pick in romances} <= {"Love Letter 0", "Love Letter 1"}


def test_because_names_the_rated_book_that_contributes_most(reader_client, reader, shelves):
    liked = shelves["fantasy"][:3] + shelves["mystery"][:3]
    for book in liked:
        set_rating(reader, book, 5)
    loaded = serving.active_model()
    rated, _ = loaded.book_indices([book.pk for book in liked])
    matrix = loaded.item_item.matrix
    for pick in picks(reader_client)[:10]:
        column = loaded.book_index(pick.book.pk)
        shares = matrix[rated][:, [column]].toarray().ravel()
        assert pick.because.pk == liked[int(np.argmax(shares))].pk


def test_predicted_stars_follow_the_readers_own_level(client, reader, other_reader, shelves):
    for book in shelves["fantasy"][:5]:
        set_rating(reader, book, 5)
        set_rating(other_reader, book, 3)
    client.force_login(reader)
    generous = {pick.book.pk: pick.predicted_stars for pick in picks(client)}
    client.force_login(other_reader)
    sterner = {pick.book.pk: pick.predicted_stars for pick in picks(client)}
    shared = set(generous) & set(sterner)
    assert shared
    # the same books, predicted about as far apart as the two readers' own stars
    assert all(generous[book] >= sterner[book] + 1.2 for book in shared)
    assert np.mean([generous[book] for book in shared]) >= 4.6
    assert np.mean([sterner[book] for book in shared]) <= 3.6


def test_gate_choice_and_evaluate_share_one_measure(shelves):
    """The run's validation figures are metrics.py's, on the served blend: the chosen candidate's row, the
    gate's metrics and a fresh blend_quality on the same split all agree."""
    from recommender.artifacts import unpack
    from recommender.blend import blend_quality
    from recommender.loading import load_ratings
    from recommender.metrics import RETRAIN_USERS, HeldOut
    from recommender.models import ModelArtifact
    from recommender.validation import split_validation

    run = ModelRun.objects.get(is_active=True)
    stored = unpack(ModelArtifact.objects.get(run=run).data)
    train_csr, validation_csr = split_validation(load_ratings(), run.parameters["validation_fraction"], run.parameters["seed"])
    again = blend_quality(stored.model, stored.item_item, train_csr, HeldOut.from_csr(validation_csr),
                          max_users=RETRAIN_USERS, seed=run.parameters["seed"])
    assert again.recall_at_10 == pytest.approx(run.metrics["val_recall_at_10"])
    assert again.ndcg_at_10 == pytest.approx(run.metrics["val_ndcg_at_10"])
    chosen = run.settings_choice["chosen"]
    row = next(row for row in run.settings_choice["candidates"]
               if (row["liked_weight"], row["mf_weight"]) == (chosen["liked_weight"], chosen["mf_weight"]))
    assert row["val_ndcg_at_10"] == pytest.approx(run.metrics["val_ndcg_at_10"])


def test_staff_see_the_chosen_blend_on_the_run(staff_client, shelves):
    run = ModelRun.objects.get(is_active=True)
    chosen = run.settings_choice["chosen"]
    listing = staff_client.get(reverse("admin:recommender_modelrun_changelist")).content.decode()
    page = staff_client.get(reverse("admin:recommender_modelrun_change", args=[run.pk])).content.decode()
    text = f"liked weight {chosen['liked_weight']:g}, factor weight {chosen['mf_weight']:g}"
    assert text in listing and text in page
    assert "val_ndcg_at_10" in page  # every candidate's validation figures


def test_the_choice_follows_the_validation_split_not_the_order_of_candidates():
    """On two clean tastes a blend that inverts the factor score ranks the other taste first: never chosen."""
    import scipy.sparse as sp

    from recommender.blend import BlendSetting, fit
    from recommender.factor_model import TrainParams
    from recommender.metrics import hold_out

    rng = np.random.default_rng(4)
    rows, cols = [], []
    for user in range(80):
        taste = range(20) if user < 40 else range(20, 40)
        books = rng.choice(list(taste), 10, replace=False)
        rows += [user] * 10
        cols += books.tolist()
    values = np.full(len(rows), 5.0, np.float32)
    train, validation = hold_out(np.array(rows), np.array(cols), values, (80, 40), 0.2, 0)
    params = TrainParams(factors=4, epochs=4, seed=1)
    bad, good = BlendSetting(liked_weight=1.0, mf_weight=-50.0), BlendSetting(liked_weight=1.0, mf_weight=0.5)
    for candidates in ([bad, good], [good, bad]):
        fitted = fit(sp.csr_matrix(train), validation, params, candidates=candidates)
        assert fitted.choice["chosen"] == {"liked_weight": 1.0, "mf_weight": 0.5}
        by_weight = {row["mf_weight"]: row["val_ndcg_at_10"] for row in fitted.choice["candidates"]}
        assert by_weight[0.5] > by_weight[-50.0]
        assert fitted.item_item.mf_weight == 0.5
