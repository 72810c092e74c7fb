"""Held-out quality of a model: RMSE and top-10 recall / NDCG. Early stopping, the choice of blend, the activation gate and evaluate all use this."""

# The rule, the same for every caller:
# * Star metrics (RMSE, MAE): over the held-out ratings whose reader and book are both known to the
#   model; predictions clipped to 1..5.
# * Top-N: a reader counts when they are known to the model and have at least one held-out rating
#   >= LIKED_STARS; their relevant books are those. When more readers count than ``max_users``, a
#   seeded sample of ``max_users`` of them is scored (the same readers for the same seed; ``None``
#   scores them all). Candidates are every book of the model except the reader's training books;
#   the top N by ranking score are compared with the relevant books:
#       precision@N = hits / N,  recall@N = hits / min(N, #relevant),
#       NDCG@N = sum over hit positions p (1-based) of 1 / log2(p + 1), divided by the same sum over
#                positions 1..min(N, #relevant) (binary gains).
#   A relevant book the model does not know (evaluate: a book seen only in the test file) still
#   counts in #relevant but can never be hit.
# retrain scores a sample (RETRAIN_USERS, seeded with the run's seed: early stopping of the factor
# model, the blend's candidates and the gate all score the same readers) because it measures every
# epoch and candidate; evaluate scores every reader, since its figures are the ones quoted against
# the issues' targets. The validation split itself is hold_out(), for retrain and evaluate alike.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .factor_model import FactorModel, predict_ratings, top_n

TOP_N = 10
LIKED_STARS = 4
# Readers scored by retrain's early stopping and quality gate (a seeded sample, the same in both).
RETRAIN_USERS = 5000
# Share of each rater's ratings held out (hold_out) for early stopping, the choice of blend and the gate.
DEFAULT_VALIDATION_FRACTION = 0.05


@dataclass
class HeldOut:
    """Held-out ratings by model index; -1 where the reader or book is unknown to the model."""

    user_idx: np.ndarray
    item_idx: np.ndarray
    values: np.ndarray

    @classmethod
    def from_csr(cls, ratings: sp.csr_matrix) -> HeldOut:
        coo = ratings.tocoo()
        return cls(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float32))


@dataclass
class Quality:
    rmse: float | None = None
    mae: float | None = None
    precision_at_10: float | None = None
    recall_at_10: float | None = None
    ndcg_at_10: float | None = None
    ratings: int = 0  # held-out ratings the star metrics cover
    users: int = 0  # readers the top-N metrics cover


def rating_metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[float | None, float | None]:
    """(RMSE, MAE) of predictions clipped to 1..5."""
    if len(truth) == 0:
        return None, None
    err = np.clip(np.asarray(pred, dtype=np.float64), 1.0, 5.0) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def topn_metrics(top: np.ndarray, relevant: list[np.ndarray] | sp.csr_matrix, n: int = TOP_N):
    """Per-user precision@n, recall@n and NDCG@n (binary gains) for ranked lists ``top`` (users x n).

    ``relevant`` is a users x items boolean CSR or a list of arrays of relevant item indices.
    Returns three arrays, one value per user.
    """
    top = np.asarray(top)
    if isinstance(relevant, list):
        n_items = int(max([top.max(initial=0)] + [int(r.max(initial=0)) for r in relevant])) + 1
        rows = np.repeat(np.arange(len(relevant)), [len(r) for r in relevant])
        cols = np.concatenate(relevant) if relevant else np.array([], dtype=np.int64)
        relevant = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(relevant), n_items))
    rel = sp.csr_matrix(relevant)
    rel.sum_duplicates()
    hit = np.asarray(rel[np.arange(top.shape[0])[:, None], top].todense()) > 0  # users x n
    denom = np.minimum(np.diff(rel.indptr), n).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, n + 2))
    dcg = (hit * discounts[: top.shape[1]]).sum(axis=1)
    idcg = np.cumsum(discounts)[np.maximum(denom.astype(int), 1) - 1]
    hits = hit.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / n
        recall = np.where(denom > 0, hits / denom, 0.0)
        ndcg = np.where(denom > 0, dcg / idcg, 0.0)
    return precision, recall, ndcg


def sample_users(users: np.ndarray, max_users: int | None, seed: int) -> np.ndarray:
    """The readers scored: all of ``users``, or a seeded sample of ``max_users`` of them (sorted)."""
    if max_users is None or len(users) <= max_users:
        return users
    return np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))


class TopListTally:
    """What the top-10s look like across readers: pass ``on_top`` to ranking_quality, then read the figures.

    mean_popularity: the mean training rating count of the books shown; coverage: the share of the catalog
    that appears in at least one reader's top-10.
    """

    def __init__(self, seen: sp.csr_matrix):
        self.counts = np.diff(seen.tocsc().indptr).astype(np.float64)
        self.shown = np.zeros(seen.shape[1], bool)
        self.popularity = []

    def on_top(self, variant: int, top: np.ndarray) -> None:
        self.shown[top.ravel()] = True
        self.popularity.append(self.counts[top].mean(axis=1))

    @property
    def mean_popularity(self) -> float | None:
        return float(np.concatenate(self.popularity).mean()) if self.popularity else None

    @property
    def coverage(self) -> float | None:
        return float(self.shown.mean()) if len(self.shown) else None


def ranking_quality(
    scores_for: Callable[[np.ndarray], np.ndarray],
    seen: sp.csr_matrix,
    held_out: HeldOut,
    *,
    max_users: int | None = None,
    seed: int = 0,
    batch: int = 1000,
    on_top: Callable[[int, np.ndarray], None] | None = None,
) -> Quality:
    """Top-N precision, recall and NDCG by the rule above; ``scores_for(users)`` gives (users x items) scores."""
    return ranking_qualities(
        lambda users: [scores_for(users)], 1, seen, held_out, max_users=max_users, seed=seed, batch=batch,
        on_top=on_top,
    )[0]


def ranking_qualities(
    variants_for: Callable[[np.ndarray], list[np.ndarray]],
    n_variants: int,
    seen: sp.csr_matrix,
    held_out: HeldOut,
    *,
    max_users: int | None = None,
    seed: int = 0,
    batch: int = 1000,
    on_top: Callable[[int, np.ndarray], None] | None = None,
) -> list[Quality]:
    """ranking_quality of several rankers at once: ``variants_for(users)`` gives one score matrix per ranker.

    The same readers, candidates and metric code for every variant; one pass over the readers, so
    variants that share work (the blend's candidate settings) compute it once per batch.
    ``on_top(variant, top)`` receives each batch's ranked lists (readers x TOP_N book indices).
    """
    n_users, n_items = seen.shape
    liked = (held_out.values >= LIKED_STARS) & (held_out.user_idx >= 0)
    users = sample_users(np.unique(held_out.user_idx[liked]), max_users, seed)
    qualities = [Quality(users=int(len(users))) for _ in range(n_variants)]
    if len(users) == 0:
        return qualities
    # Unknown books get a column past the end: they count as relevant but are never ranked.
    cols = np.where(held_out.item_idx[liked] >= 0, held_out.item_idx[liked], n_items)
    relevant = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (held_out.user_idx[liked], cols)), shape=(n_users, n_items + 1)
    )
    relevant.sum_duplicates()
    sums = np.zeros((n_variants, 3))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        seen_cells = seen[chunk].nonzero()
        for variant, scores in enumerate(variants_for(chunk)):
            scores = np.array(scores, dtype=np.float32)
            scores[seen_cells] = -np.inf
            top = top_n(scores, TOP_N)
            if on_top is not None:
                on_top(variant, top)
            per_user = topn_metrics(top, relevant[chunk], n=TOP_N)
            sums[variant] += [float(values.sum()) for values in per_user]
    for quality, row in zip(qualities, sums, strict=True):
        quality.precision_at_10, quality.recall_at_10, quality.ndcg_at_10 = (float(s / len(users)) for s in row)
    return qualities


def model_quality(
    model: FactorModel, seen: sp.csr_matrix, held_out: HeldOut, *, max_users: int | None = None, seed: int = 0,
    on_top=None,
) -> Quality:
    """Star and top-N metrics of a factor model on held-out ratings; ``seen`` = its training ratings."""
    k = model.rank_factors
    item_rank = model.item_factors[:, :k]
    quality = ranking_quality(
        lambda users: model.user_factors[users, :k] @ item_rank.T, seen, held_out, max_users=max_users, seed=seed,
        on_top=on_top,
    )
    known = (held_out.user_idx >= 0) & (held_out.item_idx >= 0)
    pred = predict_ratings(model, held_out.user_idx[known], held_out.item_idx[known])
    quality.rmse, quality.mae = rating_metrics(pred, held_out.values[known])
    quality.ratings = int(known.sum())
    return quality


def hold_out(user_idx, item_idx, values, shape, fraction, seed) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(train CSR, validation CSR): about ``fraction`` of each rater's ratings held out, at random.

    Per rater the held-out count is fraction × n rounded stochastically, and at least two ratings
    always stay in training so every rater keeps a vector. retrain and evaluate both cut their
    validation split with this.
    """
    n_users, n_items = shape
    n_ratings = len(values)
    rng = np.random.default_rng(seed)
    counts = np.bincount(user_idx, minlength=n_users)
    quota = np.floor(counts * fraction + rng.random(n_users)).astype(np.int64)
    quota = np.minimum(quota, np.maximum(counts - 2, 0))
    # Sort by rater, randomly within a rater: one int64 key (rater in the high bits) sorts far
    # faster than np.lexsort over two keys.
    key = (np.asarray(user_idx, dtype=np.int64) << 32) | rng.integers(0, 2**32, n_ratings, dtype=np.int64)
    order = np.argsort(key)
    del key
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.empty(n_ratings, np.int64)
    position[order] = np.arange(n_ratings) - starts[user_idx[order]]
    held = position < quota[user_idx]
    del order, position

    def csr(mask):
        return sp.csr_matrix(
            (values[mask], (user_idx[mask], item_idx[mask])), shape=(n_users, n_items), dtype=np.float32
        )

    return csr(~held), csr(held)
