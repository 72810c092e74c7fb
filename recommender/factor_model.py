"""The trained factor model and what serving asks of it: predicted stars, ranking, fold-in, similar books, reasons."""

# The model has two blocks of factors, stored side by side in ``user_factors`` and ``item_factors``:
# the first ``rank_factors`` columns are the ranking block, the rest the star block.
#
# * Ranking block (u_r, v_r). Score of a book for a reader: u_r . v_r (higher is better). It is
#   fitted by the iALS objective over ALL reader x book pairs (Rendle et al., "Revisiting the
#   Performance of iALS on Item Recommendation Benchmarks"):
#       sum_{rated (u,i)} w_ui (u_r . v_i - 1)^2  +  alpha0 * sum_{all (u,i)} (u_r . v_i)^2
#       + lam * sum_u (n_u + alpha0 * n_items)^nu |u_r|^2  +  lam * sum_i (n_i + alpha0 * n_users)^nu |v_i|^2
#   with w_ui = 1 + liked_weight * max(r_ui - 3, 0), and alpha0 given relative to the data density
#   (``unobserved_weight * nnz / (n_users * n_items)``), so the unobserved pairs weigh a fixed share
#   of the observed ones whatever the data size.
# * Star block (u_s, b_u, v_s, b_i). Predicted stars: mu + b_u + b_i + u_s . v_s, clipped to 1..5.
#   Fitted by squared error on the rated pairs only:
#       sum_{rated (u,i)} (mu + b_u + b_i + u_s . v_i - r_ui)^2
#       + lam_s * sum_u max(n_u, 1)^e |u_s|^2 + lam_s * sum_i max(n_i, 1)^e |v_s|^2 + lam_b * (sum b_u^2 + sum b_i^2)
#
# How the factors are fitted: recommender/reference.py (plain, one row at a time) and
# recommender/kernel.py (the fast version that retrain uses). This module only reads a model.

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "TrainParams",
    "FactorModel",
    "FoldedUser",
    "SideFactors",
    "alpha0",
    "liked_weights",
    "predict_ratings",
    "predict_user",
    "rank_scores",
    "user_state",
    "fold_in_user",
    "recommend",
    "similar_items",
    "explain",
    "top_n",
]


@dataclass(frozen=True)
class TrainParams:
    """Hyper-parameters. Defaults are tuned on goodbooks-10k (see bench/RESULTS.md)."""

    factors: int = 64  # ranking (iALS) block width
    epochs: int = 3
    learning_rate: float = 1.4  # scale of the per-row Newton step (1.0 = ALS block step; 1..2 over-relaxes)
    regularization: float = 0.015  # iALS lambda, multiplied by (row weight)^reg_exponent
    seed: int = 0
    star_factors: int = 24  # explicit-ratings block width
    star_regularization: float = 2.0  # lambda for star factors, times n_row^star_reg_exponent
    bias_regularization: float = 5.0  # plain L2 on user / item star biases (pseudo-count)
    star_reg_exponent: float = 0.5  # exponent of the row rating count in the star-factor regularization
    unobserved_weight: float = 10.0  # alpha0 relative to density: alpha0 = this * nnz/(n_users*n_items)
    liked_weight: float = 0.0  # observed iALS weight = 1 + liked_weight * max(r - 3, 0)
    reg_exponent: float = 1.0  # nu in the frequency-scaled regularization
    init_scale: float = 0.1  # std of the initial factors is init_scale / sqrt(width)
    patience: int = 2  # early stopping: epochs without validation improvement
    cg_steps: int = 2  # CG iterations for the ranking-block Newton step (0 = exact solve)
    star_cg_steps: int = 2  # CG iterations for the star-block Newton step (0 = exact solve)
    block_budget: int = 16_384  # padded (row, rating) cells per batch; bounds memory, keeps buffers reusable
    # The item-item model served beside the factors (recommender/itemitem.py, blend.py).
    item_regularization: float = 150.0  # EASE lambda
    item_neighbours: int = 100  # weights kept per book (0: the factor model ranks alone)
    fold_in_bias_regularization: float = 2.0  # pseudo-count of a folded-in reader's star bias (see fold_in_user)


@dataclass
class SideFactors:
    """One side's factors (every reader, or every book) as the trainers hold them."""

    rank: np.ndarray  # (n, factors) ranking block
    star: np.ndarray  # (n, star_factors) star block
    bias: np.ndarray  # (n,) star bias


@dataclass
class FactorModel:
    """Trained model. ``user_factors``/``item_factors`` = [ranking block | star block]."""

    global_mean: float
    user_factors: np.ndarray  # (n_users, rank_factors + star_factors) float32
    item_factors: np.ndarray  # (n_items, rank_factors + star_factors) float32
    user_bias: np.ndarray  # (n_users,) float32  (star bias)
    item_bias: np.ndarray  # (n_items,) float32  (star bias)
    rank_factors: int  # number of leading columns that form the ranking block
    params: TrainParams = field(default_factory=TrainParams)
    item_counts: np.ndarray | None = None  # (n_items,) train ratings per item; used by fold-in reg
    n_train: int = 0  # number of training ratings (alpha0 for fold-in)
    _gram: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_sides(cls, users: SideFactors, items: SideFactors, *, global_mean, params, item_counts, n_train):
        """The model both trainers return: each side's two blocks side by side, as float32."""

        def joined(side):
            return np.hstack([side.rank, side.star]).astype(np.float32)

        return cls(
            global_mean=float(global_mean),
            user_factors=joined(users),
            item_factors=joined(items),
            user_bias=np.asarray(users.bias, np.float32),
            item_bias=np.asarray(items.bias, np.float32),
            rank_factors=users.rank.shape[1],
            params=params,
            item_counts=np.asarray(item_counts, np.int64),
            n_train=int(n_train),
        )

    @property
    def n_users(self) -> int:
        return self.user_factors.shape[0]

    @property
    def n_items(self) -> int:
        return self.item_factors.shape[0]

    @property
    def alpha0(self) -> float:
        n_train = self.n_train or max(int(np.sum(self.item_counts)) if self.item_counts is not None else 1, 1)
        return alpha0(self.params, n_train, self.n_users, self.n_items)

    @property
    def item_gram(self) -> np.ndarray:
        """k x k Gram matrix of the ranking item factors (cached; cheap to recompute)."""
        if self._gram is None:
            v = self.item_factors[:, : self.rank_factors].astype(np.float64)
            self._gram = (v.T @ v).astype(np.float32)
        return self._gram

    def all_finite(self) -> bool:
        """False when any factor or bias is NaN or infinite (diverged training: never stored)."""
        arrays = (self.user_factors, self.item_factors, self.user_bias, self.item_bias)
        return bool(np.isfinite(self.global_mean)) and all(bool(np.isfinite(a).all()) for a in arrays)


@dataclass
class FoldedUser:
    """A user vector (+bias) in model space; works for trained and folded-in users alike."""

    vector: np.ndarray  # (rank_factors + star_factors,) float32
    bias: float


def alpha0(params: TrainParams, nnz: int, n_users: int, n_items: int) -> float:
    """The weight of one unobserved pair (see the objective above)."""
    # capped at 1: an unobserved pair never weighs more than an observed one (tiny / dense data)
    return min(float(params.unobserved_weight) * nnz / max(n_users * n_items, 1), 1.0)


def liked_weights(values: np.ndarray, liked_weight: float) -> np.ndarray:
    """w_ui of each rated pair in the ranking objective."""
    return (1.0 + liked_weight * np.maximum(values.astype(np.float32) - 3.0, 0.0)).astype(np.float32)


# --------------------------------------------------------------------------- scoring


def user_state(model: FactorModel, user_index: int) -> FoldedUser:
    """The trained vector + bias of a known user, in the same form fold_in_user returns."""
    return FoldedUser(vector=model.user_factors[user_index].copy(), bias=float(model.user_bias[user_index]))


def predict_ratings(model: FactorModel, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
    """Predicted stars (clipped 1..5) for paired arrays of known user / item indices."""
    user_idx = np.asarray(user_idx, dtype=np.int64)
    item_idx = np.asarray(item_idx, dtype=np.int64)
    k = model.rank_factors
    out = np.empty(len(user_idx), np.float32)
    step = 500_000
    for s in range(0, len(user_idx), step):
        u, i = user_idx[s : s + step], item_idx[s : s + step]
        dot = np.einsum("nk,nk->n", model.user_factors[u, k:], model.item_factors[i, k:])
        out[s : s + step] = model.global_mean + model.user_bias[u] + model.item_bias[i] + dot
    return np.clip(out, 1.0, 5.0)


def predict_user(model: FactorModel, user: FoldedUser | int, item_idx: np.ndarray | None = None) -> np.ndarray:
    """Predicted stars (clipped 1..5) of one user (index or FoldedUser) for item_idx (default: all items)."""
    if not isinstance(user, FoldedUser):
        user = user_state(model, int(user))
    k = model.rank_factors
    items = slice(None) if item_idx is None else np.asarray(item_idx, dtype=np.int64)
    pred = model.global_mean + user.bias + model.item_bias[items] + model.item_factors[items, k:] @ user.vector[k:]
    return np.clip(pred, 1.0, 5.0).astype(np.float32)


def rank_scores(model: FactorModel, user: FoldedUser | np.ndarray | int) -> np.ndarray:
    """Ranking score of every item for one user (higher = better).

    ``user`` may be a user index, a FoldedUser, or a raw vector (full width or ranking-block width).
    The ranking head has no bias: a per-user constant would not change the order.
    """
    k = model.rank_factors
    if isinstance(user, FoldedUser):
        vec = user.vector
    elif np.isscalar(user) or (isinstance(user, np.ndarray) and user.ndim == 0):
        vec = model.user_factors[int(user)]
    else:
        vec = np.asarray(user, dtype=np.float32)
    return (model.item_factors[:, :k] @ vec[:k]).astype(np.float32)


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest scores per row (sorted best first); works on 1-D or 2-D arrays."""
    scores = np.asarray(scores)
    one_d = scores.ndim == 1
    s = scores[None, :] if one_d else scores
    n = min(n, s.shape[1])
    part = np.argpartition(-s, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    return top[0] if one_d else top


def recommend(
    model: FactorModel, user: FoldedUser | int, n: int = 10, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n item indices and their ranking scores for a user, never one in ``exclude`` (rated, hidden)."""
    return _best_finite(rank_scores(model, user), n, exclude)


def _best_finite(scores: np.ndarray, n: int, exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The n best of ``scores`` (modified in place: ``exclude`` set to -inf), never an excluded one."""
    if exclude is not None and len(exclude):
        scores[np.asarray(exclude, dtype=np.int64)] = -np.inf
    top = top_n(scores, n)
    top = top[np.isfinite(scores[top])]
    return top, scores[top]


def fold_in_user(
    model: FactorModel, item_idx: np.ndarray, values: np.ndarray, params: TrainParams | None = None
) -> FoldedUser:
    """Solve a new user's vector + bias from their ratings against the fixed item side.

    The per-user block minimization of training (reference.solve_row with a full step): one k x k
    solve for the ranking block and one (ks+1) x (ks+1) solve for the star block, whose bias prior is
    ``fold_in_bias_regularization`` (a folded-in reader's own rating level counts from the first ratings).
    ``params`` defaults to the parameters the model was trained with.
    """
    p = params if params is not None else model.params
    item_idx = np.asarray(item_idx, dtype=np.int64)
    values = np.asarray(values, dtype=np.float32)
    keep = values > 0
    item_idx, values = item_idx[keep], values[keep]
    k = model.rank_factors
    ks = model.item_factors.shape[1] - k
    n = float(len(item_idx))
    vec = np.zeros(k + ks, np.float32)
    a0 = model.alpha0
    # ranking block
    V = model.item_factors[item_idx, :k].astype(np.float64)
    w = liked_weights(values, p.liked_weight).astype(np.float64)
    H = (V * w[:, None]).T @ V + a0 * model.item_gram.astype(np.float64)
    H[np.diag_indices(k)] += p.regularization * (n + a0 * model.n_items) ** p.reg_exponent
    vec[:k] = np.linalg.solve(H, V.T @ w)
    # star block with bias
    S = np.ones((len(item_idx), ks + 1))
    S[:, :ks] = model.item_factors[item_idx, k:]
    t = values - model.global_mean - model.item_bias[item_idx]
    Hs = S.T @ S
    # The reader's own level (bias) is shrunk by a pseudo-count of fold_in_bias_regularization (2)
    # ratings rather than training's bias_regularization (5): with 5 ratings, 5 halves it and a reader
    # who gives 5s is predicted the crowd's 3.5-4. On the shared split 2 is as good for fold-in RMSE
    # as 5 (5 ratings: 0.8875 vs 0.8873; 10: 0.8624 vs 0.8638; all: 0.8555 vs 0.8564), 1 is worse.
    Hs[np.diag_indices(ks + 1)] += np.append(
        np.full(ks, p.star_regularization * max(n, 1.0) ** p.star_reg_exponent), p.fold_in_bias_regularization
    )
    xs = np.linalg.solve(Hs, S.T @ t)
    vec[k:] = xs[:ks]
    return FoldedUser(vector=vec, bias=float(xs[ks]))


def similar_items(
    model: FactorModel,
    item_index: int,
    n: int = 10,
    popularity: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    prior_strength: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Items nearest to ``item_index`` by cosine in the ranking embedding, shrunk toward 0 for rare items.

    score = cosine * count / (count + prior_strength), with count = ``popularity``
    (defaults to the training rating counts kept on the model), so an obscure book
    with a noisy vector cannot win on cosine alone. The item itself and ``exclude``
    are never returned. Returns (indices, scores), best first.
    """
    k = model.rank_factors
    V = model.item_factors[:, :k]
    norms = np.linalg.norm(V, axis=1)
    q = V[item_index]
    cos = (V @ q) / np.maximum(norms * np.linalg.norm(q), 1e-12)
    if popularity is None:
        popularity = model.item_counts
    if popularity is not None:
        pop = np.asarray(popularity, dtype=np.float64)
        cos = cos * (pop / (pop + prior_strength))
    cos = cos.astype(np.float32)
    cos[item_index] = -np.inf
    return _best_finite(cos, n, exclude)


def explain(
    model: FactorModel,
    user_rated_items: np.ndarray,
    user_rated_values: np.ndarray,
    candidate_item: int,
    min_rating: float = 4.0,
) -> int | None:
    """The user's item rated >= min_rating closest (cosine, ranking block) to the candidate, or None."""
    items = np.asarray(user_rated_items, dtype=np.int64)
    values = np.asarray(user_rated_values, dtype=np.float32)
    liked = items[(values >= min_rating) & (items != candidate_item)]
    if len(liked) == 0:
        return None
    k = model.rank_factors
    V = model.item_factors[liked, :k]
    c = model.item_factors[candidate_item, :k]
    cos = (V @ c) / np.maximum(np.linalg.norm(V, axis=1) * np.linalg.norm(c), 1e-12)
    return int(liked[int(np.argmax(cos))])
