"""The fast kernel computes the same row steps as the plain reference trainer (small data, no DB)."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from recommender import kernel, reference
from recommender.factor_model import TrainParams, fold_in_user, predict_ratings

# Exact row solves in the kernel (cg_steps = 0) are the reference's steps; small blocks so that
# rows of different lengths land in different blocks and the block order differs from row order.
EXACT = TrainParams(
    factors=3, star_factors=2, epochs=4, regularization=0.05, star_regularization=0.5, cg_steps=0, star_cg_steps=0,
    block_budget=24, seed=2,
)


def uneven_ratings(seed=0, n_users=25, n_items=12):
    """Readers with 1 to 9 ratings of 1-5 stars, two rough taste groups; one book nobody rated."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for u in range(n_users):
        own = np.arange(6) if u % 2 else np.arange(5, 11)  # book 11 stays unrated
        for i in rng.choice(own, rng.integers(1, 7), replace=False):
            rows.append(u), cols.append(i), vals.append(rng.choice([3.0, 4.0, 5.0]))
        for i in rng.choice(11, rng.integers(0, 3), replace=False):
            rows.append(u), cols.append(i), vals.append(rng.choice([1.0, 2.0]))
    R = sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(n_users, n_items))
    R.sum_duplicates()
    return R


def assert_same_model(fast, plain, R):
    k = fast.rank_factors
    # The kernel leaves the ranking blocks rotated (u.v is invariant under a common rotation), so
    # compare the scores, not the factors.
    fast_scores = fast.user_factors[:, :k].astype(np.float64) @ fast.item_factors[:, :k].T
    plain_scores = plain.user_factors[:, :k].astype(np.float64) @ plain.item_factors[:, :k].T
    np.testing.assert_allclose(fast_scores, plain_scores, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fast.user_factors[:, k:], plain.user_factors[:, k:], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fast.item_factors[:, k:], plain.item_factors[:, k:], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fast.user_bias, plain.user_bias, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(fast.item_bias, plain.item_bias, rtol=1e-3, atol=1e-4)
    coo = R.tocoo()
    np.testing.assert_allclose(predict_ratings(fast, coo.row, coo.col), predict_ratings(plain, coo.row, coo.col), atol=1e-3)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"learning_rate": 1.0},
        {"liked_weight": 1.0},
        {"reg_exponent": 0.5, "star_reg_exponent": 1.0, "unobserved_weight": 3.0},
    ],
    ids=["defaults", "plain-als", "liked-weight", "other-exponents"],
)
def test_kernel_with_exact_solves_matches_the_reference_step_for_step(changes):
    params = dataclasses.replace(EXACT, **changes)
    R = uneven_ratings()
    start = kernel.starting_point(R, params)
    plain, plain_losses = reference.train_reference(R, params, start=start)
    fast, reports = kernel.train(R, params)
    assert_same_model(fast, plain, R)
    assert [r.loss for r in reports] == pytest.approx(plain_losses, rel=1e-4)
    assert reference.objective(fast, R) == pytest.approx(reports[-1].loss, rel=1e-4)


def test_one_epoch_from_the_start_already_agrees():
    R = uneven_ratings(seed=5)
    params = dataclasses.replace(EXACT, epochs=1)
    plain, _ = reference.train_reference(R, params, start=kernel.starting_point(R, params))
    fast, _ = kernel.train(R, params)
    assert_same_model(fast, plain, R)


def test_the_default_conjugate_gradient_steps_approach_the_same_solution():
    # With 2 CG iterations per step instead of an exact solve the path differs, but after enough
    # epochs both reach (nearly) the same minimum of the same objective.
    R = uneven_ratings(seed=1)
    params = dataclasses.replace(EXACT, epochs=60, learning_rate=1.0)
    plain, plain_losses = reference.train_reference(R, params, start=kernel.starting_point(R, params))
    fast, reports = kernel.train(R, dataclasses.replace(params, cg_steps=2, star_cg_steps=2))
    assert reports[-1].loss == pytest.approx(plain_losses[-1], rel=2e-3)
    assert np.all(np.diff(plain_losses) <= 1e-7 * plain_losses[0])  # no epoch raises the objective (float slack)


def test_fold_in_is_the_reference_row_solve():
    R = uneven_ratings(seed=3)
    model, _ = kernel.train(R, dataclasses.replace(EXACT, epochs=6))
    items = np.array([0, 2, 3, 7])
    stars = np.array([5.0, 4.0, 1.0, 3.0])
    folded = fold_in_user(model, items, stars)
    k = model.rank_factors
    p = model.params
    V = model.item_factors[:, :k].astype(np.float64)
    extra = model.alpha0 * V.T @ V + p.regularization * (len(items) + model.alpha0 * model.n_items) ** p.reg_exponent * np.eye(k)
    rank = reference.row_step(np.zeros(k), V[items], np.ones(len(items)), np.ones(len(items)), extra, 1.0)
    np.testing.assert_allclose(folded.vector[:k], rank, rtol=1e-4, atol=1e-6)
