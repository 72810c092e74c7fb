"""The item-item model: EASE fitted in closed form from the item Gram matrix, pruned to each book's nearest neighbours."""

# EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", 2019). With X the binary
# readers x books matrix (1 where the reader rated the book):
#     G = X^T X + lam I,   P = G^-1,   B_ij = -P_ij / P_jj  (i != j),   B_jj = 0
# B is the closed-form minimizer of |X - X B|^2 + lam |B|^2 subject to diag(B) = 0.
# Each column j then keeps only its `neighbours` largest weights B_ij, so the stored model is a
# sparse matrix of about neighbours x n_books entries and a reader is scored without the dense B.
#
# Score of book j for a reader, straight from their ratings (no vector to fold in):
#     s_j = sum_{rated i} x_i B_ij,   x_i = liked_weight if r_i >= LIKED_STARS else 1
# so the share of book i in pick j, x_i B_ij, is exact: that is what explains a pick.
#
# The Gram matrix is built a block of columns at a time from the sparse matrix (X^T X[:, block]),
# two blocks at once (scipy's sparse product releases the GIL); the inverse is a float32 Cholesky
# in place (see inverse_spd), so the peak is one dense n_books x n_books float32 matrix (400 MB at
# 10k books) plus one column block. Readable reference: the docstring equations; test_itemitem.py
# checks the fast path against numpy's dense inverse.

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

__all__ = ["ItemItemModel", "fit", "gram_matrix", "reader_weights", "scores", "reader_scores", "contributions"]

LIKED_STARS = 4.0
GRAM_BLOCK = 1024  # columns of the Gram matrix built per sparse product


@dataclass
class ItemItemModel:
    """Pruned EASE weights as CSR over the source book i: row i holds (j, B_ij) for the kept pairs."""

    indptr: np.ndarray  # (n_items + 1,) int64
    indices: np.ndarray  # (nnz,) int32 target books j
    weights: np.ndarray  # (nnz,) float32 B_ij
    regularization: float
    neighbours: int
    liked_weight: float = 4.0  # x_i of a liked book (see the score above)
    mf_weight: float = 0.05  # weight of the factor model's normalized ranking score in the blend (blend.py)
    timings: dict = field(default_factory=dict)  # seconds of each step of fit (Gram, inverse, pruning)
    _matrix: sp.csr_matrix | None = field(default=None, repr=False, compare=False)

    @property
    def n_items(self) -> int:
        return len(self.indptr) - 1

    @property
    def matrix(self) -> sp.csr_matrix:
        """B as a scipy CSR (built once; shares the arrays)."""
        if self._matrix is None:
            self._matrix = sp.csr_matrix((self.weights, self.indices, self.indptr), shape=(self.n_items, self.n_items))
        return self._matrix


def gram_matrix(X: sp.csr_matrix, threads: int = 2) -> np.ndarray:
    """Dense float32 X^T X of a binary readers x books CSR, a block of columns at a time."""
    n_items = X.shape[1]
    X = sp.csr_matrix(X, dtype=np.float32)
    XT = X.T.tocsr()
    Xc = X.tocsc()
    G = np.empty((n_items, n_items), np.float32)

    def block(start):
        stop = min(start + GRAM_BLOCK, n_items)
        G[:, start:stop] = (XT @ Xc[:, start:stop]).toarray()

    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(block, range(0, n_items, GRAM_BLOCK)))
    return G


def fit(ratings: sp.csr_matrix, regularization: float = 150.0, neighbours: int = 100, threads: int = 2) -> ItemItemModel:
    """EASE on who rated what (the stars do not matter here), pruned to ``neighbours`` weights per book."""
    X = sp.csr_matrix(ratings, dtype=np.float32, copy=True)
    X.eliminate_zeros()
    X.data[:] = 1.0
    n_items = X.shape[1]
    started = time.perf_counter()
    G = gram_matrix(X, threads)
    del X
    gram_seconds = time.perf_counter() - started
    G[np.diag_indices(n_items)] += np.float32(regularization)
    P = inverse_spd(G)
    del G
    inverse_seconds = time.perf_counter() - started - gram_seconds
    model = _pruned(P, neighbours, regularization)
    model.timings = {
        "gram": round(gram_seconds, 2),
        "inverse": round(inverse_seconds, 2),
        "prune": round(time.perf_counter() - started - gram_seconds - inverse_seconds, 2),
    }
    return model


def inverse_spd(G: np.ndarray) -> np.ndarray:
    """G^-1 of a symmetric positive definite float32 matrix, in G's memory; only the upper triangle is valid.

    G = U^T U (potrf), then U^-1 (tri_inverse), then U^-1 U^-T (lauum), each in place. G is symmetric,
    so its C-ordered memory read as Fortran order is G itself and LAPACK copies nothing.
    """
    A = G.T  # Fortran-ordered view of the same memory
    U, info = lapack.spotrf(A, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise ValueError(f"the item Gram matrix is not positive definite (potrf info {info})")
    tri_inverse(U)
    P, info = lapack.slauum(U, lower=0, overwrite_c=1)
    if info != 0:
        raise ValueError(f"cannot invert the item Gram matrix (lauum info {info})")
    return P


def tri_inverse(U: np.ndarray, leaf: int = 1024) -> np.ndarray:
    """In-place inverse of an upper-triangular Fortran-ordered float32 matrix, by 2 x 2 blocks.

        [A B; 0 C]^-1 = [A^-1  -A^-1 B C^-1; 0  C^-1]

    The off-diagonal block costs two triangular multiplies (BLAS strmm, multi-threaded); LAPACK's
    strtri does the same arithmetic several times slower on large matrices, so it only does the leaves.
    """
    n = U.shape[0]
    if n <= leaf:
        inverse, info = lapack.strtri(U, lower=0, overwrite_c=1)
        if info != 0:
            raise ValueError(f"singular triangular factor (trtri info {info})")
        if not np.shares_memory(inverse, U):
            U[...] = inverse
        return U
    h = n // 2
    A, B, C = U[:h, :h], U[:h, h:], U[h:, h:]
    tri_inverse(A, leaf)
    tri_inverse(C, leaf)
    product = blas.strmm(-1.0, A, B, side=0, lower=0)  # -A^-1 B
    U[:h, h:] = blas.strmm(1.0, C, product, side=1, lower=0)  # (-A^-1 B) C^-1
    return U


def _pruned(P: np.ndarray, neighbours: int, regularization: float) -> ItemItemModel:
    """Keep, for each target column j, the ``neighbours`` largest B_ij = -P_ij / P_jj (P: upper triangle valid)."""
    n = P.shape[0]
    keep = max(0, min(int(neighbours), n - 1))
    diag = np.diag(P).astype(np.float64).copy()
    sources, targets, values = [], [], []
    step = 512
    for start in range(0, n, step):
        stop = min(start + step, n)
        # full symmetric columns start:stop from the upper triangle: P[i, j] for i <= j, P[j, i] for i > j
        cols = np.array(P[:, start:stop])
        rows_below = np.array(P[start:stop, :]).T  # P[j, i] = P[i, j] for i > j
        lower = np.arange(n)[:, None] > np.arange(start, stop)[None, :]
        cols[lower] = rows_below[lower]
        B = -cols / diag[start:stop][None, :].astype(np.float32)
        B[np.arange(start, stop), np.arange(stop - start)] = -np.inf
        if keep == 0:
            continue
        top = np.argpartition(-B, keep - 1, axis=0)[:keep]  # (keep, block)
        vals = np.take_along_axis(B, top, axis=0)
        sources.append(top.T.ravel())
        targets.append(np.repeat(np.arange(start, stop), keep))
        values.append(vals.T.ravel())
    if sources:
        src, tgt, val = np.concatenate(sources), np.concatenate(targets), np.concatenate(values)
    else:
        src, tgt, val = (np.empty(0, np.int64),) * 2 + (np.empty(0, np.float32),)
    M = sp.csr_matrix((val.astype(np.float32), (src, tgt)), shape=(n, n))
    M.sort_indices()
    return ItemItemModel(
        indptr=M.indptr.astype(np.int64),
        indices=M.indices.astype(np.int32),
        weights=M.data.astype(np.float32),
        regularization=float(regularization),
        neighbours=keep,
    )


def reader_weights(values: np.ndarray, liked_weight: float) -> np.ndarray:
    """x_i of each rated book: liked_weight for a book rated LIKED_STARS or more, 1 for the others."""
    values = np.asarray(values, dtype=np.float32)
    return np.where(values >= LIKED_STARS, np.float32(liked_weight), np.float32(1.0)).astype(np.float32)


def scores(model: ItemItemModel, ratings: sp.csr_matrix, liked_weight: float | None = None) -> np.ndarray:
    """(readers x books) item-item scores of the readers whose ratings are the rows of ``ratings``."""
    W = sp.csr_matrix(ratings, dtype=np.float32, copy=True)
    W.data = reader_weights(W.data, model.liked_weight if liked_weight is None else liked_weight)
    return np.asarray((W @ model.matrix).toarray(), dtype=np.float32)


def reader_scores(model: ItemItemModel, item_idx: np.ndarray, values: np.ndarray, dismissed_idx=()) -> np.ndarray:
    """Item-item scores of every book for one reader, from (book index, stars) of their ratings.

    A dismissed book ("Not interested", books the reader has not rated) enters with the weight
    -liked_weight: it counts against the books like it as much as a liked book counts for them.
    """
    item_idx = np.asarray(item_idx, dtype=np.int64)
    dismissed_idx = np.asarray(dismissed_idx, dtype=np.int64)
    weights = np.concatenate(
        [reader_weights(values, model.liked_weight), np.full(len(dismissed_idx), -model.liked_weight, np.float32)]
    )
    columns = np.concatenate([item_idx, dismissed_idx])
    row = sp.csr_matrix((weights, (np.zeros(len(columns), np.int64), columns)), shape=(1, model.n_items))
    return np.asarray((row @ model.matrix).toarray()[0], dtype=np.float32)


def contributions(model: ItemItemModel, item_idx: np.ndarray, values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(rated books x targets) x_i B_ij: each rated book's share in each target's item-item score."""
    item_idx = np.asarray(item_idx, dtype=np.int64)
    rows = model.matrix[item_idx][:, np.asarray(targets, dtype=np.int64)].toarray()
    return (rows * reader_weights(values, model.liked_weight)[:, None]).astype(np.float32)
