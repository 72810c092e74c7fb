"""Pure tests of the factor model and its fast trainer on tiny synthetic data with planted taste groups (no DB)."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.factor_model import (
    FoldedUser,
    TrainParams,
    explain,
    fold_in_user,
    predict_ratings,
    predict_user,
    rank_scores,
    recommend,
    similar_items,
    top_n,
    user_state,
)
from recommender.kernel import THREADS_SETTING, EpochReport, train
from recommender.metrics import RETRAIN_USERS, HeldOut, model_quality

N_USERS, N_ITEMS = 60, 24  # users 0..29 and items 0..11 are group A; the rest group B
GROUP_A_USERS = np.arange(30)
A_ITEMS = set(range(12))
# tiny dense data needs stronger iALS and weaker star regularization than the goodbooks-tuned defaults
PARAMS = TrainParams(factors=4, epochs=12, star_factors=2, regularization=0.1, star_regularization=0.5, seed=0)


def planted(seed=0):
    """Each user rates 7 items of their own group (4-5 stars) and 1 of the other group (1-2 stars)."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for u in range(N_USERS):
        own = np.arange(12) if u < 30 else np.arange(12, 24)
        other = np.arange(12, 24) if u < 30 else np.arange(12)
        for i in rng.choice(own, 7, replace=False):
            rows.append(u), cols.append(i), vals.append(rng.choice([4.0, 5.0]))
        for i in rng.choice(other, 1, replace=False):
            rows.append(u), cols.append(i), vals.append(rng.choice([1.0, 2.0]))
    return sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))


@pytest.fixture(scope="module")
def data():
    return planted()


@pytest.fixture(scope="module")
def fitted(data):
    model, reports = train(data, PARAMS)
    return model, reports


def test_training_reduces_loss_and_reports_every_epoch(fitted):
    model, reports = fitted
    assert [r.epoch for r in reports] == list(range(1, PARAMS.epochs + 1))
    assert all(isinstance(r, EpochReport) and r.seconds > 0 for r in reports)  # each epoch is timed, not left at 0
    assert reports[-1].loss < reports[0].loss
    # block-coordinate Newton steps never increase the objective (small float slack)
    losses = np.array([r.loss for r in reports])
    assert np.all(np.diff(losses) <= 1e-3 * losses[:-1])


def test_model_shapes_and_dtypes(fitted, data):
    model, _ = fitted
    width = PARAMS.factors + PARAMS.star_factors
    assert model.user_factors.shape == (N_USERS, width) and model.user_factors.dtype == np.float32
    assert model.item_factors.shape == (N_ITEMS, width) and model.item_factors.dtype == np.float32
    assert model.user_bias.shape == (N_USERS,) and model.item_bias.shape == (N_ITEMS,)
    assert model.rank_factors == PARAMS.factors
    assert model.global_mean == pytest.approx(float(data.data.mean()), rel=1e-5)


def test_predictions_are_clipped_to_star_range(fitted):
    model, _ = fitted
    extreme = dataclasses.replace(model, user_bias=model.user_bias.copy())
    extreme.user_bias[0] = 50.0
    extreme.user_bias[1] = -50.0
    pred = predict_ratings(extreme, np.array([0, 1, 2]), np.array([0, 0, 0]))
    assert pred[0] == 5.0 and pred[1] == 1.0 and 1.0 <= pred[2] <= 5.0
    assert np.all(predict_user(extreme, 0) == 5.0)


def test_star_predictions_learn_the_planted_ratings(fitted, data):
    model, _ = fitted
    coo = data.tocoo()
    pred = predict_ratings(model, coo.row, coo.col)
    rmse = np.sqrt(np.mean((pred - coo.data) ** 2))
    assert rmse < 0.6  # a constant predictor would be ~1.5 here
    # own-group unseen item predicted higher than other-group unseen item
    assert predict_ratings(model, np.array([0]), np.array([0]))[0] > 3.0 or 0 in data[0].indices


def test_same_seed_gives_identical_factors_and_other_seed_differs(data):
    a, _ = train(data, PARAMS)
    b, _ = train(data, PARAMS)
    c, _ = train(data, dataclasses.replace(PARAMS, seed=1))
    assert np.array_equal(a.user_factors, b.user_factors)
    assert np.array_equal(a.item_factors, b.item_factors)
    assert np.array_equal(a.item_bias, b.item_bias)
    assert not np.array_equal(a.user_factors, c.user_factors)


def test_ranking_recovers_planted_taste(fitted, data):
    model, _ = fitted
    for u in range(N_USERS):
        top, _ = recommend(model, u, n=3, exclude=data[u].indices)
        group = A_ITEMS if u < 30 else set(range(12, 24))
        assert set(top.tolist()) <= group, (u, top)


def test_rank_scores_accepts_index_state_and_vector(fitted):
    model, _ = fitted
    by_index = rank_scores(model, 3)
    assert by_index.shape == (N_ITEMS,)
    assert np.allclose(by_index, rank_scores(model, user_state(model, 3)))
    assert np.allclose(by_index, rank_scores(model, model.user_factors[3]))


def test_fold_in_new_user_who_likes_group_a(fitted):
    model, _ = fitted
    liked = np.array([0, 2, 4, 6, 8])
    state = fold_in_user(model, liked, np.full(5, 5.0))
    assert isinstance(state, FoldedUser) and state.vector.shape == (model.user_factors.shape[1],)
    top, _ = recommend(model, state, n=5, exclude=liked)
    assert set(top.tolist()) <= A_ITEMS
    assert not set(top.tolist()) & set(liked.tolist())
    # and their star predictions favour group A
    assert predict_user(model, state, np.array([1])) > predict_user(model, state, np.array([13]))


def test_fold_in_of_a_training_user_matches_trained_recommendations(fitted, data):
    model, _ = fitted
    for u in (0, 45):
        items, values = data[u].indices, data[u].data
        folded = fold_in_user(model, items, values)
        trained = rank_scores(model, u)
        again = rank_scores(model, folded)
        assert np.corrcoef(trained, again)[0, 1] > 0.95
        top_trained, _ = recommend(model, u, n=3, exclude=items)
        top_folded, _ = recommend(model, folded, n=3, exclude=items)
        assert len(set(top_trained.tolist()) & set(top_folded.tolist())) >= 2
        assert abs(folded.bias - float(model.user_bias[u])) < 0.3


def test_similar_items_stay_in_group_and_respect_exclude(fitted):
    model, _ = fitted
    top, scores = similar_items(model, 3, n=4)
    assert 3 not in top and set(top.tolist()) <= A_ITEMS
    assert np.all(np.diff(scores) <= 0)
    excluded = top[:2]
    top2, _ = similar_items(model, 3, n=4, exclude=excluded)
    assert not set(top2.tolist()) & set(excluded.tolist()) and 3 not in top2
    assert set(top2.tolist()) <= A_ITEMS


def test_similar_items_popularity_prior_demotes_rare_items(fitted):
    model, _ = fitted
    top, _ = similar_items(model, 3, n=3)
    popularity = np.full(N_ITEMS, 100.0)
    popularity[top[0]] = 0.0  # pretend the best match is unrated noise
    top2, _ = similar_items(model, 3, n=3, popularity=popularity)
    assert top[0] not in top2


def test_explain_returns_the_nearest_liked_item(fitted):
    model, _ = fitted
    rated = np.array([1, 5, 14, 20])
    values = np.array([5.0, 4.0, 5.0, 2.0])
    because = explain(model, rated, values, candidate_item=7)
    assert because in (1, 5)  # a liked group-A book, never the disliked 20
    because_b = explain(model, rated, values, candidate_item=16)
    assert because_b == 14
    assert explain(model, rated, np.array([3.0, 2.0, 1.0, 3.0]), 7) is None


def test_validation_metrics_and_early_stopping(data):
    coo = data.tocoo()
    hold = np.arange(coo.nnz) % 5 == 0
    tr = sp.csr_matrix((coo.data[~hold], (coo.row[~hold], coo.col[~hold])), shape=data.shape)
    va = sp.csr_matrix((coo.data[hold], (coo.row[hold], coo.col[hold])), shape=data.shape)
    seen = []
    model, reports = train(tr, dataclasses.replace(PARAMS, epochs=30, patience=2), validation=va, on_epoch=seen.append)
    assert seen == reports
    assert all(r.val_rmse is not None and r.val_recall_at_10 is not None for r in reports)
    assert len(reports) < 30  # stopped early once validation stopped improving
    # The returned model is the best epoch's, measured by the one metrics implementation.
    quality = model_quality(model, tr, HeldOut.from_csr(va), max_users=RETRAIN_USERS, seed=PARAMS.seed)
    measured = (quality.rmse, quality.recall_at_10, quality.ndcg_at_10)
    assert any(measured == pytest.approx((r.val_rmse, r.val_recall_at_10, r.val_ndcg_at_10)) for r in reports[:-2])
    assert quality.recall_at_10 > 0.5  # the planted tastes are easy to find


def test_damped_steps_and_exact_newton_agree_roughly(data):
    exact, _ = train(data, dataclasses.replace(PARAMS, cg_steps=0))
    damped, rep = train(data, dataclasses.replace(PARAMS, learning_rate=0.5, epochs=25))
    assert rep[-1].loss < rep[0].loss
    for u in (0, 40):
        a, b = rank_scores(exact, u), rank_scores(damped, u)
        assert np.corrcoef(a, b)[0, 1] > 0.9


def test_top_n_sorted_best_first():
    scores = np.array([[0.1, 0.9, 0.5, -np.inf], [3.0, 2.0, 1.0, 0.0]])
    assert top_n(scores, 2).tolist() == [[1, 2], [0, 1]]
    assert top_n(np.array([1.0, 3.0, 2.0]), 5).tolist() == [1, 2, 0]


def test_cg_steps_and_exact_solves_agree(data):
    cg, _ = train(data, PARAMS)
    exact, _ = train(data, dataclasses.replace(PARAMS, cg_steps=0, star_cg_steps=0))
    coo = data.tocoo()
    for model in (cg, exact):
        pred = predict_ratings(model, coo.row, coo.col)
        assert np.sqrt(np.mean((pred - coo.data) ** 2)) < 0.6
    for u in (0, 40):
        assert np.corrcoef(rank_scores(cg, u), rank_scores(exact, u))[0, 1] > 0.9


def test_worker_threads_do_not_change_the_result(data, monkeypatch):
    params = dataclasses.replace(PARAMS, block_budget=40, epochs=3)  # many small row blocks
    monkeypatch.setenv(THREADS_SETTING, "1")
    one, rep_one = train(data, params)
    monkeypatch.setenv(THREADS_SETTING, "3")
    two, rep_two = train(data, params)
    assert np.array_equal(one.user_factors, two.user_factors)
    assert np.array_equal(one.item_factors, two.item_factors)
    assert np.array_equal(one.user_bias, two.user_bias)
    assert [r.loss for r in rep_one] == [r.loss for r in rep_two]


@pytest.mark.parametrize("liked_weight", [0.0, 1.0])
def test_reported_loss_is_the_objective_of_the_returned_model(data, liked_weight):
    # Training keeps rows in its own block order and carries residuals from side to side; the
    # loss it reports must still be the objective recomputed from scratch on the model it returns.
    params = dataclasses.replace(PARAMS, block_budget=40, epochs=4, liked_weight=liked_weight)
    full = data.tocoo()
    keep = np.random.default_rng(3).random(full.nnz) < 0.75  # uneven row lengths: block order is not row order
    data = sp.csr_matrix((full.data[keep], (full.row[keep], full.col[keep])), shape=full.shape)
    model, reports = train(data, params)
    coo = data.tocoo()
    k = model.rank_factors
    U, V = model.user_factors.astype(np.float64), model.item_factors.astype(np.float64)
    fit = np.einsum("nk,nk->n", U[coo.row, :k], V[coo.col, :k])
    weight = 1.0 + liked_weight * np.maximum(coo.data - 3.0, 0.0)
    stars = model.global_mean + model.user_bias[coo.row] + model.item_bias[coo.col]
    stars = stars + np.einsum("nk,nk->n", U[coo.row, k:], V[coo.col, k:])
    n_users, n_items = data.shape
    n_u, n_i = np.diff(data.indptr), np.diff(data.tocsc().indptr)
    alpha0 = model.alpha0
    total = np.sum(weight * (fit - 1.0) ** 2) + np.sum((stars - coo.data) ** 2)
    total += alpha0 * np.sum((U[:, :k].T @ U[:, :k]) * (V[:, :k].T @ V[:, :k]))
    total += params.regularization * np.sum((n_u + alpha0 * n_items) * np.sum(U[:, :k] ** 2, axis=1))
    total += params.regularization * np.sum((n_i + alpha0 * n_users) * np.sum(V[:, :k] ** 2, axis=1))
    total += params.star_regularization * np.sum(np.sqrt(np.maximum(n_u, 1)) * np.sum(U[:, k:] ** 2, axis=1))
    total += params.star_regularization * np.sum(np.sqrt(np.maximum(n_i, 1)) * np.sum(V[:, k:] ** 2, axis=1))
    total += params.bias_regularization * (np.sum(model.user_bias**2.0) + np.sum(model.item_bias**2.0))
    assert reports[-1].loss == pytest.approx(total / data.nnz, rel=1e-4)
