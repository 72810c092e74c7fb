"""Offline evaluation protocol for BookRec recommenders: arrays in, metrics out (no database; CSVs through catalog.tabular)."""

# Protocol
# --------
# * Users and books are indexed by their occurrence in the TRAIN triples.
# * The metrics are recommender/metrics.py's, the same code and rule as retrain's early stopping and
#   quality gate, with every test reader scored (no sample): RMSE / MAE over test ratings whose user
#   and book both occur in train; top-10 precision, recall and NDCG over test users (known in train)
#   with a test rating >= 4, books unseen in train counting as relevant but never hit. The
#   "popularity" model has no star predictor, so its rmse / mae are None.
# * Beside them: top10_mean_popularity (the mean train rating count of the books in the scored
#   readers' top-10s) and catalog_coverage (the share of train books in at least one top-10).

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from catalog.tabular import CsvError, CsvTable, has_broken_encoding, open_text

from . import blend
from .factor_model import TrainParams
from .metrics import DEFAULT_VALIDATION_FRACTION, HeldOut, TopListTally, hold_out, ranking_quality

__all__ = ["read_ratings_csv", "evaluate", "index_triples", "resplit"]

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
    "top10_mean_popularity",
    "catalog_coverage",
    "settings_choice",
)
MODELS = ("served", "mf", "popularity")


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
    if not np.all((stars >= 1.0) & (stars <= 5.0) & (stars * 2 == np.round(stars * 2))):
        return None
    return ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64), stars.astype(np.float32)


def read_ratings_csv(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``user_id,book_id,rating`` CSV -> (user_ids int64, book_ids int64, ratings float32).

    Ratings are whole or half stars from 1 to 5 (MovieLens-style 3.5 is fine). Raises ValueError
    naming the file and line for a bad header, a wrong column count, a non-integer id, or a rating
    that is not a number in 1..5 in steps of 0.5.
    """
    path = Path(path)
    fast = _read_ratings_fast(path)
    if fast is not None:
        return fast
    users, books, stars = [], [], []
    try:
        with open_text(path) as fh:
            table = CsvTable(fh)
            if [h.lower() for h in table.header] != ["user_id", "book_id", "rating"]:
                raise ValueError(f"{path}: line 1: expected header 'user_id,book_id,rating', got {table.header!r}")
            for line_no, row in table:
                if has_broken_encoding(row):
                    raise ValueError(f"{path}: line {line_no}: not UTF-8 text")
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
                if r * 2 != round(r * 2):
                    raise ValueError(
                        f"{path}: line {line_no}: rating {row[2]!r} is not a whole or half star (1, 1.5, 2, … 5)"
                    )
                users.append(u)
                books.append(b)
                stars.append(r)
    except CsvError as error:
        if error.reason == CsvError.EMPTY:
            raise ValueError(f"{path}: line 1: expected header 'user_id,book_id,rating', got nothing") from None
        raise ValueError(f"{path}: {error}") from None
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


def evaluate(
    train_triples,
    test_triples,
    model: str = "served",
    params: TrainParams = TrainParams(),
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
) -> dict:
    """Train ``model`` on train triples, score it on test triples; a dict with exactly the keys in RESULT_KEYS.

    "served" is what `manage.py retrain` trains and For you serves (blend.fit): a validation split
    is cut from the train triples exactly as retrain cuts it from the database (metrics.hold_out,
    same fraction and seed), the factor model stops early on it, the item-item model is fitted on
    the rest and the blend is chosen on it; the test readers are then scored from all their train
    ratings. "mf" is the same without the item-item model; "popularity" ranks by train rating count.
    Triples are (user_ids, book_ids, ratings) arrays, e.g. from read_ratings_csv.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (expected one of {', '.join(MODELS)})")
    R, te_u, te_i, te_r, _ = index_triples(train_triples, test_triples)
    held_out = HeldOut(te_u, te_i, te_r)

    tally = TopListTally(R)
    on_top = tally.on_top

    t0 = time.perf_counter()
    choice = None
    if model in ("served", "mf"):
        coo = R.tocoo()
        fit_csr, validation_csr = hold_out(coo.row, coo.col, coo.data, R.shape, validation_fraction, params.seed)
        if model == "mf":
            params = dataclasses.replace(params, item_neighbours=0)
        fitted = blend.fit(fit_csr, validation_csr, params)
        fit_seconds = time.perf_counter() - t0
        choice = fitted.choice
        quality = blend.blend_quality(fitted.model, fitted.item_item, R, held_out, on_top=on_top)
    else:
        counts = tally.counts.astype(np.float32)
        fit_seconds = time.perf_counter() - t0
        # no star predictor: rmse and mae stay None
        quality = ranking_quality(
            lambda users: np.broadcast_to(counts, (len(users), R.shape[1])), R, held_out, on_top=on_top
        )
    return {
        "rmse": quality.rmse,
        "mae": quality.mae,
        "precision_at_10": quality.precision_at_10,
        "recall_at_10": quality.recall_at_10,
        "ndcg_at_10": quality.ndcg_at_10,
        "fit_seconds": float(fit_seconds),
        "n_train": int(R.nnz),
        "n_test": int(len(te_r)),
        "eval_users": quality.users,
        "top10_mean_popularity": tally.mean_popularity,
        "catalog_coverage": tally.coverage,
        "settings_choice": choice,
    }


def resplit(train_triples, test_triples, seed: int, test_fraction: float = 0.2, min_ratings: int = 5):
    """Pool both files and split again at random, per reader, by the shared split's rule.

    Each reader with at least ``min_ratings`` ratings sends round(test_fraction × n) of them, drawn
    at random with ``seed``, to test; readers with fewer stay entirely in train.
    """
    users = np.concatenate([train_triples[0], test_triples[0]])
    books = np.concatenate([train_triples[1], test_triples[1]])
    stars = np.concatenate([train_triples[2], test_triples[2]])
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(users)), users))
    users_sorted = users[order]
    _, reader, per_reader = np.unique(users_sorted, return_inverse=True, return_counts=True)
    counts = per_reader[reader]
    position = np.arange(len(users)) - np.searchsorted(users_sorted, users_sorted, side="left")
    to_test = (counts >= min_ratings) & (position < np.round(counts * test_fraction))
    test = np.zeros(len(users), bool)
    test[order] = to_test
    return (users[~test], books[~test], stars[~test]), (users[test], books[test], stars[test])
