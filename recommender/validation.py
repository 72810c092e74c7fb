"""The numeric steps of a retrain around training: hold out a validation split, measure on it, and the quality gate."""

from .blend import blend_quality
from .loading import RatingData
from .metrics import DEFAULT_VALIDATION_FRACTION, RETRAIN_USERS, HeldOut, hold_out

__all__ = ["DEFAULT_VALIDATION_FRACTION", "split_validation", "validation_metrics", "quality_gate"]

# Quality gate: a new model is "clearly worse" when its validation recall@10 falls more than
# 10% (relative) below the active run's, or its validation RMSE rises more than 5% above it.
RECALL_TOLERANCE = 0.10
RMSE_TOLERANCE = 0.05


def split_validation(data: RatingData, fraction, seed):
    """(train CSR, validation CSR) of the loaded ratings: metrics.hold_out's per-rater split."""
    return hold_out(data.user_idx, data.item_idx, data.values, data.shape, fraction, seed)


def validation_metrics(model, train_csr, validation_csr, seed=0, item_item=None):
    """The run's metrics: RMSE over every held-out rating, recall@10 and NDCG@10 of the served blend.

    Same code and reader sample as early stopping and the choice of blend (metrics.py's rule).
    """
    quality = blend_quality(
        model, item_item, train_csr, HeldOut.from_csr(validation_csr), max_users=RETRAIN_USERS, seed=seed
    )
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
