"""The numeric steps of a retrain around training: hold out a validation split, measure on it, and the quality gate."""

import numpy as np
import scipy.sparse as sp

from .loading import RatingData
from .metrics import RETRAIN_USERS, HeldOut, model_quality

# Quality gate: a new model is "clearly worse" when its validation recall@10 falls more than
# 10% (relative) below the active run's, or its validation RMSE rises more than 5% above it.
RECALL_TOLERANCE = 0.10
RMSE_TOLERANCE = 0.05
# Share of each rater's ratings held out for early stopping and the quality gate.
DEFAULT_VALIDATION_FRACTION = 0.05


def split_validation(data: RatingData, fraction, seed):
    """(train CSR, validation CSR): about `fraction` of each rater's ratings held out, at random.

    Per rater the held-out count is fraction × n rounded stochastically, and at least two ratings
    always stay in training so every rater keeps a vector.
    """
    n_users, n_items = data.shape
    rng = np.random.default_rng(seed)
    counts = np.bincount(data.user_idx, minlength=n_users)
    quota = np.floor(counts * fraction + rng.random(n_users)).astype(np.int64)
    quota = np.minimum(quota, np.maximum(counts - 2, 0))
    # Sort by rater, randomly within a rater: one int64 key (rater in the high bits) sorts far
    # faster than np.lexsort over two keys.
    key = (data.user_idx.astype(np.int64) << 32) | rng.integers(0, 2**32, data.n_ratings, dtype=np.int64)
    order = np.argsort(key)
    del key
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.empty(data.n_ratings, np.int64)
    position[order] = np.arange(data.n_ratings) - starts[data.user_idx[order]]
    held = position < quota[data.user_idx]
    del order, position

    def csr(mask):
        return sp.csr_matrix(
            (data.values[mask], (data.user_idx[mask], data.item_idx[mask])), shape=(n_users, n_items), dtype=np.float32
        )

    return csr(~held), csr(held)


def validation_metrics(model, train_csr, validation_csr, seed=0):
    """The run's metrics: RMSE over every held-out rating, recall@10 and NDCG@10 as early stopping measured them."""
    quality = model_quality(model, train_csr, HeldOut.from_csr(validation_csr), max_users=RETRAIN_USERS, seed=seed)
    return {
        "val_rmse": quality.rmse,
        "val_recall_at_10": quality.recall_at_10,
        "val_ndcg_at_10": quality.ndcg_at_10,
        "val_ratings": int(validation_csr.nnz),
        "val_users": quality.users,
    }


def quality_gate(new_metrics, active_metrics):
    """Why a new model is clearly worse than the active one, or None when it may be activated."""
    new_recall, old_recall = new_metrics.get("val_recall_at_10"), (active_metrics or {}).get("val_recall_at_10")
    if new_recall is not None and old_recall is not None and new_recall < old_recall * (1 - RECALL_TOLERANCE):
        return f"validation recall@10 {new_recall:.4f} is clearly below the active run's {old_recall:.4f}"
    new_rmse, old_rmse = new_metrics.get("val_rmse"), (active_metrics or {}).get("val_rmse")
    if new_rmse is not None and old_rmse is not None and new_rmse > old_rmse * (1 + RMSE_TOLERANCE):
        return f"validation RMSE {new_rmse:.4f} is clearly above the active run's {old_rmse:.4f}"
    return None
