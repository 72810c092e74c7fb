"""Offline evaluation protocol for BookRec recommenders: arrays in, metrics out (no Django, no DB)."""

# Protocol
# --------
# * Users and books are indexed by their occurrence in the TRAIN triples.
# * RMSE / MAE: over test ratings whose user and book both occur in train,
#   predictions clipped to 1..5. The "popularity" model has no star predictor,
#   so its rmse / mae are None.
# * Top-N: over test users (known in train) with at least one test rating >= 4;
#   relevant = that user's test books rated >= 4 (books unseen in train can never
#   be hit but still count as relevant). Candidates = every book occurring in
#   train minus the user's train books; top 10 by score.
#   precision@10 = hits / 10, recall@10 = hits / min(10, #relevant),
#   NDCG@10 with binary gains, ideal DCG over min(10, #relevant) positions.
#   Each averaged over those users.

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .factorization import TrainParams, top_n, train

__all__ = ["read_ratings_csv", "evaluate", "topn_metrics", "rating_metrics", "index_triples"]

RESULT_KEYS = (
    "rmse",
    "mae",
    "precision_at_10",
    "recall_at_10",
    "ndcg_at_10",
    "fit_seconds",
    "n_train",
    "n_test",
    "eval_users",
)


def _read_ratings_fast(path: Path):
    """C-speed parse for well-formed files; None when anything looks off (the slow path then names the line)."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
            if [h.strip().lower() for h in header.split(",")] != ["user_id", "book_id", "rating"]:
                return None
            data = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    if data.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    if data.shape[1] != 3:
        return None
    ids = data[:, :2]
    if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)) or np.any(np.abs(ids) > 2**53):
        return None
    stars = data[:, 2]
    if not np.all((stars >= 1.0) & (stars <= 5.0)):
        return None
    return ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64), stars.astype(np.float32)


def read_ratings_csv(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``user_id,book_id,rating`` CSV -> (user_ids int64, book_ids int64, ratings float32).

    Raises ValueError naming the file and line for a bad header, a wrong column
    count, a non-integer id, or a rating that is not a number in 1..5.
    """
    path = Path(path)
    fast = _read_ratings_fast(path)
    if fast is not None:
        return fast
    users, books, stars = [], [], []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != ["user_id", "book_id", "rating"]:
            raise ValueError(f"{path}: line 1: expected header 'user_id,book_id,rating', got {header!r}")
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise ValueError(f"{path}: line {line_no}: expected 3 columns, got {len(row)}: {row!r}")
            try:
                u = int(row[0])
                b = int(row[1])
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: user_id and book_id must be integers: {row!r}") from None
            try:
                r = float(row[2])
            except ValueError:
                raise ValueError(f"{path}: line {line_no}: rating is not a number: {row[2]!r}") from None
            if not (1.0 <= r <= 5.0):
                raise ValueError(f"{path}: line {line_no}: rating {row[2]!r} outside 1..5")
            users.append(u)
            books.append(b)
            stars.append(r)
    return (np.asarray(users, dtype=np.int64), np.asarray(books, dtype=np.int64), np.asarray(stars, dtype=np.float32))


def index_triples(train_triples, test_triples):
    """Map raw ids to 0-based indices by occurrence in train.

    Returns (train_csr, test_u, test_i, test_r, known_mask): the test arrays hold
    indices (-1 where the user / book is not in train).
    """
    tu, tb, tr = (np.asarray(a) for a in train_triples)
    eu, eb, er = (np.asarray(a) for a in test_triples)
    user_ids, u_idx = np.unique(tu, return_inverse=True)
    book_ids, b_idx = np.unique(tb, return_inverse=True)
    R = sp.csr_matrix((tr.astype(np.float32), (u_idx, b_idx)), shape=(len(user_ids), len(book_ids)))
    R.sum_duplicates()

    def lookup(ids, values):
        pos = np.searchsorted(ids, values)
        pos = np.clip(pos, 0, max(len(ids) - 1, 0))
        ok = (ids[pos] == values) if len(ids) else np.zeros(len(values), bool)
        return np.where(ok, pos, -1)

    te_u = lookup(user_ids, eu)
    te_i = lookup(book_ids, eb)
    known = (te_u >= 0) & (te_i >= 0)
    return R, te_u, te_i, er.astype(np.float32), known


def rating_metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[float | None, float | None]:
    """(RMSE, MAE) of predictions clipped to 1..5."""
    if len(truth) == 0:
        return None, None
    err = np.clip(np.asarray(pred, dtype=np.float64), 1.0, 5.0) - np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))


def topn_metrics(top: np.ndarray, relevant: list[np.ndarray] | sp.csr_matrix, n: int = 10):
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
    n_rel = np.diff(rel.indptr)
    denom = np.minimum(n_rel, n).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, n + 2))
    dcg = (hit * discounts[: top.shape[1]]).sum(axis=1)
    idcg = np.cumsum(discounts)[np.maximum(denom.astype(int), 1) - 1]
    hits = hit.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = hits / n
        recall = np.where(denom > 0, hits / denom, 0.0)
        ndcg = np.where(denom > 0, dcg / idcg, 0.0)
    return precision, recall, ndcg


def evaluate(
    train_triples, test_triples, model: str = "mf", params: TrainParams = TrainParams(), batch_users: int = 2000
) -> dict:
    """Train ``model`` ("mf" or "popularity") on train triples, score it on test triples.

    Triples are (user_ids, book_ids, ratings) arrays, e.g. from read_ratings_csv.
    Returns a dict with exactly the keys in RESULT_KEYS.
    """
    if model not in ("mf", "popularity"):
        raise ValueError(f"unknown model {model!r} (expected 'mf' or 'popularity')")
    R, te_u, te_i, te_r, known = index_triples(train_triples, test_triples)
    n_users, n_items = R.shape

    t0 = time.perf_counter()
    if model == "mf":
        fitted, _ = train(R, params)
        k = fitted.rank_factors
        item_rank = fitted.item_factors[:, :k]

        def scores_for(users):
            return fitted.user_factors[users, :k] @ item_rank.T
    else:
        counts = np.diff(R.tocsc().indptr).astype(np.float32)

        def scores_for(users):
            return np.broadcast_to(counts, (len(users), n_items)).copy()

    fit_seconds = time.perf_counter() - t0

    rmse = mae = None
    if model == "mf":
        from .factorization import predict_ratings

        rmse, mae = rating_metrics(predict_ratings(fitted, te_u[known], te_i[known]), te_r[known])

    # relevant = test ratings >= 4 of users known in train (books may be unknown: they count, never hit)
    liked = (te_r >= 4) & (te_u >= 0)
    eval_users = np.unique(te_u[liked])
    prec_sum = rec_sum = ndcg_sum = 0.0
    if len(eval_users):
        pos = np.searchsorted(eval_users, te_u[liked])
        # unknown books get a column past the end so they count as relevant but can never be ranked
        cols = np.where(te_i[liked] >= 0, te_i[liked], n_items)
        rel_all = sp.csr_matrix((np.ones(len(cols), np.float32), (pos, cols)), shape=(len(eval_users), n_items + 1))
        rel_all.sum_duplicates()
        rel_all.data[:] = 1.0
        for s in range(0, len(eval_users), batch_users):
            users = eval_users[s : s + batch_users]
            scores = np.asarray(scores_for(users), dtype=np.float32)
            seen = R[users]
            scores[seen.nonzero()] = -np.inf
            top = top_n(scores, 10)
            p, r, g = topn_metrics(top, rel_all[s : s + batch_users], n=10)
            prec_sum += p.sum()
            rec_sum += r.sum()
            ndcg_sum += g.sum()
    m = max(len(eval_users), 1)
    return {
        "rmse": rmse,
        "mae": mae,
        "precision_at_10": float(prec_sum / m) if len(eval_users) else None,
        "recall_at_10": float(rec_sum / m) if len(eval_users) else None,
        "ndcg_at_10": float(ndcg_sum / m) if len(eval_users) else None,
        "fit_seconds": float(fit_seconds),
        "n_train": int(R.nnz),
        "n_test": int(len(te_r)),
        "eval_users": int(len(eval_users)),
    }
