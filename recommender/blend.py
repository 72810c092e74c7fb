"""The served model: the factor model blended with the item-item model, fitted and its blend chosen on validation."""

# Ranking score of book j for a reader u (what For you sorts by, and what every metric measures):
#     score_uj = mf_weight * m_uj / std_j'(m_uj')  +  s_uj
# where m_uj = u_r . v_j is the factor model's ranking score (factor_model.py) and s_uj the
# item-item score from the reader's ratings (itemitem.py). Dividing by the reader's spread of m
# puts the factor score on one scale for every reader (a per-reader constant never changes the
# order, so the mean is left alone). Predicted stars stay the factor model's star block.
#
# Which blend is served is chosen by fit(): every candidate in CANDIDATES (a few liked weights x
# factor weights) is scored on the validation split cut from the training ratings, with the
# metrics and sampling rule of recommender/metrics.py, and the best validation NDCG@10 wins
# (recall@10 breaks ties). retrain and evaluate both call fit(), so evaluate measures exactly
# what retrain trains and For you serves.

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import itemitem, kernel
from .factor_model import FactorModel, FoldedUser, TrainParams, explain, predict_ratings, rank_scores, top_n
from .itemitem import ItemItemModel
from .metrics import (
    RETRAIN_USERS,
    HeldOut,
    Quality,
    model_quality,
    ranking_qualities,
    ranking_quality,
    rating_metrics,
)

__all__ = ["BlendSetting", "CANDIDATES", "FittedBlend", "fit", "batch_scores", "reader_scores", "explain_picks"]


@dataclass(frozen=True)
class BlendSetting:
    liked_weight: float  # item-item weight of a book rated 4-5 stars (others weigh 1)
    mf_weight: float  # weight of the normalized factor-model score


# Small on purpose: each candidate costs one scoring pass over the validation readers, not a refit.
CANDIDATES = tuple(BlendSetting(liked, mf) for liked in (1.0, 2.0, 4.0) for mf in (0.05, 0.1, 0.2, 0.5, 2.0))


@dataclass
class FittedBlend:
    model: FactorModel
    item_item: ItemItemModel | None
    choice: dict  # the setting chosen, every candidate's validation metrics, and timings
    epoch_reports: list


def batch_scores(model: FactorModel, item_item: ItemItemModel | None, users: np.ndarray, rows: sp.csr_matrix,
                 user_vectors: np.ndarray | None = None) -> np.ndarray:
    """(readers x books) served scores of readers ``users`` whose known ratings are ``rows`` (one row each)."""
    k = model.rank_factors
    vectors = model.user_factors[users, :k] if user_vectors is None else user_vectors[:, :k]
    mf = vectors @ model.item_factors[:, :k].T
    if item_item is None:
        return mf
    return _blend(mf, itemitem.scores(item_item, rows), item_item.mf_weight)


def _normalized(mf: np.ndarray) -> np.ndarray:
    """The factor score divided by each reader's spread of it (see the top of this module)."""
    return mf / np.maximum(mf.std(axis=-1, keepdims=True), 1e-9)


def _blend(mf: np.ndarray, item_scores: np.ndarray, mf_weight: float, normalized: bool = False) -> np.ndarray:
    if mf_weight == 0:
        return item_scores.astype(np.float32, copy=False)
    return (mf_weight * (mf if normalized else _normalized(mf)) + item_scores).astype(np.float32)


def reader_scores(model: FactorModel, item_item: ItemItemModel | None, state: FoldedUser,
                  item_idx: np.ndarray, values: np.ndarray, dismissed_idx=()) -> np.ndarray:
    """Served score of every book for one reader (trained or folded in) with these rated books and stars.

    ``dismissed_idx``: books the reader marked "Not interested" and did not rate; they count against
    the books like them in the item-item half (the factor half has them in ``state``, dismissals.py).
    """
    mf = rank_scores(model, state)
    if item_item is None:
        return mf
    return _blend(mf, itemitem.reader_scores(item_item, item_idx, values, dismissed_idx), item_item.mf_weight)


def explain_picks(model: FactorModel, item_item: ItemItemModel | None, item_idx: np.ndarray, values: np.ndarray,
                  candidates: np.ndarray, min_rating: float = 4.0) -> list[int | None]:
    """For each candidate, the reader's liked book (>= min_rating) with the largest share in its score.

    The item-item score is a sum over rated books, so each liked book's share x_i B_i,candidate is
    exact. When no liked book has a positive share (no item-item model, or the pick comes from the
    factor part alone) the liked book nearest in the factor embedding explains it.
    """
    item_idx = np.asarray(item_idx, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    candidates = np.asarray(candidates, dtype=np.int64)
    best = [None] * len(candidates)
    if item_item is not None and len(item_idx) and len(candidates):
        share = itemitem.contributions(item_item, item_idx, values, candidates)
        share[values < min_rating, :] = 0.0
        share[item_idx[:, None] == candidates[None, :]] = 0.0
        top = np.argmax(share, axis=0)
        for n, row in enumerate(top):
            if share[row, n] > 0:
                best[n] = int(item_idx[row])
    return [
        found if found is not None else explain(model, item_idx, values, int(candidate), min_rating=min_rating)
        for found, candidate in zip(best, candidates, strict=True)
    ]


def blend_quality(model: FactorModel, item_item: ItemItemModel | None, seen: sp.csr_matrix, held_out: HeldOut, *,
                  max_users: int | None = None, seed: int = 0, on_top=None) -> Quality:
    """Star and top-N metrics (metrics.py's rule) of the served blend; ``seen`` = the readers' known ratings."""
    if item_item is None:
        return model_quality(model, seen, held_out, max_users=max_users, seed=seed, on_top=on_top)
    quality = ranking_quality(lambda users: batch_scores(model, item_item, users, seen[users]), seen, held_out,
                              max_users=max_users, seed=seed, on_top=on_top)
    known = (held_out.user_idx >= 0) & (held_out.item_idx >= 0)
    predicted = predict_ratings(model, held_out.user_idx[known], held_out.item_idx[known])
    quality.rmse, quality.mae = rating_metrics(predicted, held_out.values[known])
    quality.ratings = int(known.sum())
    return quality


def fit(train_csr: sp.csr_matrix, validation_csr: sp.csr_matrix | None, params: TrainParams, *,
        on_epoch: Callable | None = None, early_stopping: bool = True, candidates=CANDIDATES,
        report: Callable[[str], None] | None = None) -> FittedBlend:
    """Train the factor model and the item-item model on ``train_csr``, then pick the blend on ``validation_csr``.

    ``params.item_neighbours == 0`` turns the item-item model off. Without validation ratings the
    default setting of ItemItemModel is served. ``choice`` records what was chosen and why.
    """
    report = report or (lambda line: None)
    started = time.perf_counter()
    model, epochs = kernel.train(train_csr, params, validation=validation_csr, on_epoch=on_epoch,
                                 early_stopping=early_stopping)
    mf_seconds = time.perf_counter() - started
    choice = {"factor_seconds": round(mf_seconds, 2)}
    if params.item_neighbours <= 0 or train_csr.shape[1] < 2:
        choice["chosen"] = None
        choice["note"] = "item-item model off: the factor model alone ranks"
        return FittedBlend(model, None, choice, epochs)
    started = time.perf_counter()
    item_item = itemitem.fit(train_csr, params.item_regularization, params.item_neighbours)
    choice["item_item_seconds"] = round(time.perf_counter() - started, 2)
    choice["item_item_steps"] = item_item.timings
    report(f"Item-item model: λ {params.item_regularization:g}, {item_item.neighbours} neighbours per book, "
           f"{len(item_item.weights):,} weights, fitted in {choice['item_item_seconds']:.1f} s "
           f"(Gram {item_item.timings['gram']:.1f} s, inverse {item_item.timings['inverse']:.1f} s, "
           f"pruning {item_item.timings['prune']:.1f} s).")
    held = HeldOut.from_csr(validation_csr) if validation_csr is not None and validation_csr.nnz else None
    if held is None or not candidates:
        choice["chosen"] = _setting_dict(item_item)
        choice["note"] = "no validation ratings: the default blend is served"
        return FittedBlend(model, item_item, choice, epochs)
    started = time.perf_counter()
    liked_weights = sorted({setting.liked_weight for setting in candidates})
    k = model.rank_factors

    def variants(users):
        mf = _normalized(model.user_factors[users, :k] @ model.item_factors[:, :k].T)
        # s(w) = w * (scores from the liked books) + (scores from the others): two products for every w
        liked_part = itemitem.scores(item_item, _only(train_csr[users], liked=True), 1.0)
        other_part = itemitem.scores(item_item, _only(train_csr[users], liked=False), 1.0)
        item_scores = {liked: liked * liked_part + other_part for liked in liked_weights}
        return [
            _blend(mf, item_scores[setting.liked_weight], setting.mf_weight, normalized=True) for setting in candidates
        ]

    qualities = ranking_qualities(
        variants, len(candidates), train_csr, held, max_users=RETRAIN_USERS, seed=params.seed
    )
    rows = [
        {**dataclasses.asdict(setting), "val_recall_at_10": q.recall_at_10, "val_ndcg_at_10": q.ndcg_at_10}
        for setting, q in zip(candidates, qualities, strict=True)
    ]
    best = max(rows, key=lambda row: ((row["val_ndcg_at_10"] or 0.0), (row["val_recall_at_10"] or 0.0)))
    item_item.liked_weight, item_item.mf_weight = best["liked_weight"], best["mf_weight"]
    choice.update(chosen=_setting_dict(item_item), candidates=rows,
                  selection_seconds=round(time.perf_counter() - started, 2),
                  rule="best validation NDCG@10 (recall@10 breaks ties)")
    report(f"Blend chosen on validation: liked weight {item_item.liked_weight:g}, factor weight "
           f"{item_item.mf_weight:g} (NDCG@10 {best['val_ndcg_at_10']:.4f}, recall@10 {best['val_recall_at_10']:.4f}; "
           f"{len(rows)} candidates in {choice['selection_seconds']:.1f} s).")
    return FittedBlend(model, item_item, choice, epochs)


def _only(rows: sp.csr_matrix, liked: bool) -> sp.csr_matrix:
    """The ratings of ``rows`` that are (or are not) liked, each as a 1 (their stars no longer matter here)."""
    rows = sp.csr_matrix(rows, dtype=np.float32, copy=True)
    rows.data = ((rows.data >= itemitem.LIKED_STARS) == liked).astype(np.float32)
    rows.eliminate_zeros()
    return rows


def _setting_dict(item_item: ItemItemModel) -> dict:
    return {"liked_weight": item_item.liked_weight, "mf_weight": item_item.mf_weight}


def recommend(model: FactorModel, item_item: ItemItemModel | None, state: FoldedUser, item_idx, values,
              n: int, exclude: np.ndarray | None = None, dismissed_idx=()) -> tuple[np.ndarray, np.ndarray]:
    """Top-n books and their served scores for one reader, never one in ``exclude``."""
    scores = reader_scores(model, item_item, state, item_idx, values, dismissed_idx)
    if exclude is not None and len(exclude):
        scores[np.asarray(exclude, dtype=np.int64)] = -np.inf
    top = top_n(scores, n)
    top = top[np.isfinite(scores[top])]
    return top, scores[top]
