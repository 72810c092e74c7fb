"""The item-item model's maths against the plain equations: Gram matrix, in-place inverse, EASE weights, pruning, shares."""

import numpy as np
import scipy.sparse as sp

from recommender import itemitem


def random_ratings(n_users=120, n_items=40, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    stars = rng.integers(1, 6, (n_users, n_items)).astype(np.float32)
    return sp.csr_matrix(np.where(mask, stars, 0.0).astype(np.float32))


def dense_ease(R, lam):
    """EASE as in the paper: B = I - P diag(1/diag(P)), P = (X^T X + lam I)^-1, in float64."""
    X = (R.toarray() > 0).astype(np.float64)
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def test_gram_matrix_is_x_transpose_x_of_who_rated_what():
    R = random_ratings()
    X = R.copy()
    X.data[:] = 1.0
    np.testing.assert_allclose(itemitem.gram_matrix(X, threads=2), (X.T @ X).toarray())


def test_in_place_inverse_matches_numpy_through_the_recursive_blocks():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((300, 50)).astype(np.float32)
    G = (A @ A.T + 30 * np.eye(300)).astype(np.float32)
    expected = np.linalg.inv(G.astype(np.float64))
    upper = np.triu(np.asarray(itemitem.inverse_spd(G.copy())))
    full = upper + np.triu(upper, 1).T
    np.testing.assert_allclose(full, expected, rtol=2e-3, atol=1e-6)
    U = np.asfortranarray(np.triu(rng.random((200, 200)) + 5 * np.eye(200)).astype(np.float32))
    inverse = itemitem.tri_inverse(U.copy(order="F"), leaf=16)
    np.testing.assert_allclose(np.triu(inverse) @ U, np.eye(200), atol=1e-4)


def test_unpruned_fit_is_the_closed_form_ease_and_pruning_keeps_the_strongest():
    R = random_ratings()
    n = R.shape[1]
    B = dense_ease(R, 20.0)
    full = itemitem.fit(R, regularization=20.0, neighbours=n - 1).matrix.toarray()
    np.testing.assert_allclose(full, B, atol=2e-5)
    pruned = itemitem.fit(R, regularization=20.0, neighbours=3).matrix.toarray()
    for j in range(n):
        kept = np.flatnonzero(pruned[:, j])
        assert len(kept) == 3 and j not in kept
        off_diagonal = np.delete(B[:, j], j)
        assert np.min(B[kept, j]) >= np.sort(off_diagonal)[-3] - 1e-6


def test_scores_and_shares_add_up_with_liked_books_weighted():
    R = random_ratings(seed=2)
    model = itemitem.fit(R, regularization=10.0, neighbours=10)
    model.liked_weight = 3.0
    items, stars = np.array([1, 4, 7, 9]), np.array([5.0, 2.0, 4.0, 1.0])
    scores = itemitem.reader_scores(model, items, stars)
    B = model.matrix.toarray()
    weights = np.array([3.0, 1.0, 3.0, 1.0])
    np.testing.assert_allclose(scores, weights @ B[items], rtol=1e-5, atol=1e-7)
    targets = np.array([0, 2, 3])
    shares = itemitem.contributions(model, items, stars, targets)
    np.testing.assert_allclose(shares.sum(axis=0), scores[targets], rtol=1e-5, atol=1e-7)
    batch = itemitem.scores(model, sp.csr_matrix((stars, (np.zeros(4, int), items)), shape=(1, R.shape[1])))
    np.testing.assert_allclose(batch[0], scores, rtol=1e-5, atol=1e-7)
