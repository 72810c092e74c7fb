"""The factor model's trainer written plainly, one row at a time: the specification recommender/kernel.py must match."""

# Slow (a Python loop over every row) and meant for reading and for tests: kernel.py computes the
# same steps in batches (tests/test_reference.py checks that they agree). The objective is the one
# written out in factor_model.py.
#
# One epoch steps every reader's row with the books held fixed, then every book's row with the
# readers held fixed. With the other side fixed, the objective splits into one small quadratic per
# row, and the ranking part and the star part of a row are independent. For reader u with rated
# books I(u) (n_u of them), ratings r_ui, and book factors v_i (ranking), s_i (star), b_i (bias):
#
#   ranking part, x = u's ranking factors:
#       L(x) = sum_{i in I(u)} w_ui (v_i . x - 1)^2 + alpha0 * sum_{all i} (v_i . x)^2
#              + lam * (n_u + alpha0 * n_items)^nu * |x|^2
#       H    = sum_{i in I(u)} w_ui v_i v_i^T + alpha0 * V^T V + lam * (n_u + alpha0 * n_items)^nu * I
#       b    = sum_{i in I(u)} w_ui v_i                       (L(x) = x^T H x - 2 b^T x + const)
#
#   star part, z = [u's star factors | b_u], features f_i = [s_i | 1], targets t_ui = r_ui - mu - b_i:
#       L(z) = sum_{i in I(u)} (f_i . z - t_ui)^2 + lam_s * max(n_u, 1)^e * |z[:-1]|^2 + lam_b * z[-1]^2
#       H    = sum_{i in I(u)} f_i f_i^T + diag(lam_s * max(n_u, 1)^e, ..., lam_s * max(n_u, 1)^e, lam_b)
#       b    = sum_{i in I(u)} t_ui f_i
#
#   the step, for each part (lr = learning_rate; lr = 1 is the exact minimizer, i.e. classic ALS):
#       x <- x - lr * H^{-1} (H x - b)   =   (1 - lr) * x + lr * H^{-1} b
#
# A book's row is the same with readers and books swapped (n_i, n_users, the readers' factors).
# The kernel replaces the exact solve H^{-1} by ``cg_steps`` conjugate-gradient iterations (0 =
# exact, as here) and works in a rotated basis; with cg_steps = star_cg_steps = 0 it computes
# exactly these steps.

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .factor_model import FactorModel, SideFactors, TrainParams, alpha0, liked_weights

__all__ = ["objective", "row_step", "train_reference"]


def row_step(x, features, weights, targets, regularization, lr):
    """One damped Newton step for one row's quadratic loss; returns the new x (float64).

    L(x) = sum_l weights_l (features_l . x - targets_l)^2 + x^T diag(regularization) x, plus, for the
    ranking part, the unobserved term folded into ``regularization`` as a full matrix (see callers).
    """
    H = (features * weights[:, None]).T @ features + regularization
    b = features.T @ (weights * targets)
    return (1.0 - lr) * x + lr * np.linalg.solve(H, b)


def _step_side(R: sp.csr_matrix, rows: SideFactors, fixed: SideFactors, mu: float, a0: float, p: TrainParams):
    """Every row of ``rows`` stepped once, the ``fixed`` side held fixed (R: rows x fixed ratings)."""
    k = fixed.rank.shape[1]
    ks = fixed.star.shape[1]
    n_other = fixed.rank.shape[0]
    V = fixed.rank.astype(np.float64)
    gram = V.T @ V  # V^T V: the unobserved term of every row's Hessian
    new_rank = np.empty(rows.rank.shape)
    new_star = np.empty(rows.star.shape)
    new_bias = np.empty(rows.bias.shape)
    for row in range(R.shape[0]):
        cols = R.indices[R.indptr[row] : R.indptr[row + 1]]
        stars = R.data[R.indptr[row] : R.indptr[row + 1]].astype(np.float64)
        n = len(cols)
        # ranking part: target 1 on every rated pair, weight w_ui; alpha0 V^T V + lam (...)^nu I as the extra term
        extra = a0 * gram + p.regularization * (n + a0 * n_other) ** p.reg_exponent * np.eye(k)
        new_rank[row] = row_step(
            rows.rank[row].astype(np.float64),
            V[cols],
            liked_weights(stars, p.liked_weight).astype(np.float64),
            np.ones(n),
            extra,
            p.learning_rate,
        )
        # star part: features [s_i | 1], targets r - mu - b_i, unit weights
        features = np.hstack([fixed.star[cols].astype(np.float64), np.ones((n, 1))])
        reg = np.diag(np.append(np.full(ks, p.star_regularization * max(n, 1) ** p.star_reg_exponent), p.bias_regularization))
        z = np.append(rows.star[row], rows.bias[row]).astype(np.float64)
        z = row_step(z, features, np.ones(n), stars - mu - fixed.bias[cols], reg, p.learning_rate)
        new_star[row], new_bias[row] = z[:ks], z[ks]
    # all rows are computed from the same fixed side, so they are written back together
    rows.rank[:], rows.star[:], rows.bias[:] = new_rank, new_star, new_bias


def train_reference(
    ratings: sp.csr_matrix, params: TrainParams, start: tuple[SideFactors, SideFactors] | None = None
) -> tuple[FactorModel, list[float]]:
    """Fit by ``params.epochs`` epochs of exact row steps from ``start`` (default: zero users, random items).

    Returns the model and the objective / nnz after each epoch. No early stopping.
    """
    p = params
    R = sp.csr_matrix(ratings, dtype=np.float64)
    R.sum_duplicates()
    R.eliminate_zeros()
    R.sort_indices()
    n_users, n_items = R.shape
    mu = float(R.data.mean()) if R.nnz else 3.0
    a0 = alpha0(p, R.nnz, n_users, n_items)
    if start is None:
        rng = np.random.default_rng(p.seed)
        start = (
            SideFactors(np.zeros((n_users, p.factors)), np.zeros((n_users, p.star_factors)), np.zeros(n_users)),
            SideFactors(
                rng.standard_normal((n_items, p.factors)) * p.init_scale / np.sqrt(p.factors),
                rng.standard_normal((n_items, p.star_factors)) * p.init_scale / np.sqrt(max(p.star_factors, 1)),
                np.zeros(n_items),
            ),
        )
    users, items = (SideFactors(*(np.array(a, dtype=np.float64) for a in (s.rank, s.star, s.bias))) for s in start)
    by_item = R.T.tocsr()
    losses = []
    model = None
    for _ in range(int(p.epochs)):
        _step_side(R, users, items, mu, a0, p)
        _step_side(by_item, items, users, mu, a0, p)
        model = FactorModel.from_sides(
            users, items, global_mean=mu, params=p, item_counts=np.diff(R.tocsc().indptr), n_train=R.nnz
        )
        losses.append(objective(model, R))
    return model, losses


def objective(model: FactorModel, ratings: sp.csr_matrix) -> float:
    """The training objective of factor_model.py for ``model`` on ``ratings``, divided by the number of ratings."""
    p = model.params
    R = sp.csr_matrix(ratings)
    coo = R.tocoo()
    k = model.rank_factors
    U, V = model.user_factors.astype(np.float64), model.item_factors.astype(np.float64)
    n_users, n_items = R.shape
    n_u, n_i = np.diff(R.indptr), np.diff(R.tocsc().indptr)
    a0 = alpha0(p, R.nnz, n_users, n_items)
    fit = np.einsum("nk,nk->n", U[coo.row, :k], V[coo.col, :k])
    weight = liked_weights(coo.data, p.liked_weight).astype(np.float64)
    stars = model.global_mean + model.user_bias[coo.row] + model.item_bias[coo.col]
    stars = stars + np.einsum("nk,nk->n", U[coo.row, k:], V[coo.col, k:])
    total = np.sum(weight * (fit - 1.0) ** 2) + np.sum((stars - coo.data) ** 2)
    total += a0 * np.sum((U[:, :k].T @ U[:, :k]) * (V[:, :k].T @ V[:, :k]))  # sum over all pairs of (u.v)^2
    total += p.regularization * np.sum((n_u + a0 * n_items) ** p.reg_exponent * np.sum(U[:, :k] ** 2, axis=1))
    total += p.regularization * np.sum((n_i + a0 * n_users) ** p.reg_exponent * np.sum(V[:, :k] ** 2, axis=1))
    total += p.star_regularization * np.sum(np.maximum(n_u, 1) ** p.star_reg_exponent * np.sum(U[:, k:] ** 2, axis=1))
    total += p.star_regularization * np.sum(np.maximum(n_i, 1) ** p.star_reg_exponent * np.sum(V[:, k:] ** 2, axis=1))
    total += p.bias_regularization * (np.sum(model.user_bias.astype(np.float64) ** 2) + np.sum(model.item_bias.astype(np.float64) ** 2))
    return float(total / max(R.nnz, 1))
