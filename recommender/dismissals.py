""""Not interested" as a negative signal: dismissed books pull the reader's ranking vector away from them."""

# The ranking block is fitted by iALS (recommender/factor_model.py): every rated pair pulls u.v
# towards 1, every pair at all is pushed towards 0 with the tiny weight alpha0. A dismissal is a
# confident "no": the pair (u, j) gets the target 0 with weight DISMISSED_WEIGHT, as strong as a
# rating's pull towards 1. For one reader, books fixed, the ranking vector then solves
#
#     (V^T W V + c D^T D + alpha0 V_all^T V_all + lam (n + alpha0 n_items)^nu I) u = V^T w
#
# with V, w the rated books' factors and weights, D the dismissed books' factors and c the weight.
# Books near a dismissed one score lower; the star block (predicted stars) is left as the ratings
# make it: not wanting to read a book says nothing about how one would rate it.
#
# Fold-in (serving) solves this for every reader with dismissals. retrain applies the same solve to
# the stored vector of each reader with dismissals, after training, against the trained books
# (training itself fits the books from ratings alone).

import numpy as np

from . import factor_model

DISMISSED_WEIGHT = 1.0


def ranking_vector(model, item_idx, values, dismissed_idx, weight=DISMISSED_WEIGHT):
    """The ranking block of a reader's vector from their ratings and dismissals (the equation above)."""
    p = model.params
    k = model.rank_factors
    item_idx = np.asarray(item_idx, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    keep = values > 0
    item_idx, values = item_idx[keep], values[keep]
    a0 = model.alpha0
    V = model.item_factors[item_idx, :k].astype(np.float64)
    D = model.item_factors[np.asarray(dismissed_idx, dtype=np.int64), :k].astype(np.float64)
    w = factor_model.liked_weights(values, p.liked_weight).astype(np.float64)
    H = (V * w[:, None]).T @ V + weight * D.T @ D + a0 * model.item_gram.astype(np.float64)
    H[np.diag_indices(k)] += p.regularization * (float(len(item_idx)) + a0 * model.n_items) ** p.reg_exponent
    return np.linalg.solve(H, V.T @ w).astype(np.float32)


def fold_in(model, item_idx, values, dismissed_idx, weight=DISMISSED_WEIGHT):
    """fold_in_user with the reader's dismissed books as negative pairs in the ranking block."""
    state = factor_model.fold_in_user(model, item_idx, values)
    if len(dismissed_idx):
        state.vector[: model.rank_factors] = ranking_vector(model, item_idx, values, dismissed_idx, weight)
    return state


def apply_to_trained(model, data, negatives, weight=DISMISSED_WEIGHT):
    """Re-solve, in place, the ranking vector of every trained reader with dismissals; returns their count per row.

    ``data`` is the RatingData the model was trained from, ``negatives`` the (row, column) pairs
    of dismissed books those readers did not rate (loading.load_dismissals).
    """
    rows, columns = negatives
    per_row = np.bincount(rows, minlength=len(data.rater_ids)).astype(np.int32)
    if len(rows) == 0:
        return per_row
    mine = np.isin(data.user_idx, np.unique(rows))
    rated_rows, rated_items, rated_values = data.user_idx[mine], data.item_idx[mine], data.values[mine]
    for row in np.unique(rows):
        own = rated_rows == row
        vector = ranking_vector(model, rated_items[own], rated_values[own], columns[rows == row], weight)
        model.user_factors[row, : model.rank_factors] = vector
    return per_row
