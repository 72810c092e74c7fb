"""Two-headed matrix factorization (star ratings + implicit ranking) trained by per-row Newton steps."""

# How the model works
# -------------------
# The model has two factor blocks, which are stored side by side in
# ``user_factors`` / ``item_factors`` (the first ``rank_factors`` columns are the
# ranking block, the rest are the star block):
#
# * Ranking block (u_r, v_r): the iALS objective over ALL user x item pairs
#       sum_{observed (u,i)} w_ui (u_r.v_r - 1)^2   +  alpha0 * sum_{all (u,i)} (u_r.v_r)^2
#       + lam * sum_u (n_u + alpha0 * n_items)^nu |u_r|^2 + lam * sum_i (n_i + alpha0 * n_users)^nu |v_r|^2
#   (frequency-scaled regularization as in Rendle et al., "Revisiting the
#   Performance of iALS on Item Recommendation Benchmarks"). The unobserved
#   term is evaluated with the Gramian trick: sum_i (u.v_i)^2 = u^T (V^T V) u,
#   so only a k x k Gram matrix of the other side is needed; no dense
#   users x items matrix is ever built. alpha0 is given relative to the data
#   density (``unobserved_weight * nnz / (n_users * n_items)``) so the total
#   weight of the unobserved pairs is a fixed fraction of the observed weight
#   whatever the dataset size. Observed weights w_ui grow with the star value
#   (``1 + liked_weight * max(r - 3, 0)``) so liked books pull harder than
#   disliked ones. Ranking score: u_r . v_r.
#
# * Star block (u_s, b_u, v_s, b_i): squared error on observed ratings only,
#       sum_obs (r - mu - b_u - b_i - u_s.v_s)^2 + frequency-scaled L2 on factors
#       + bias_regularization * (b_u^2 + b_i^2).
#   Predicted stars: mu + b_u + b_i + u_s.v_s, clipped to 1..5.
#
# Optimizer: block-coordinate preconditioned gradient descent. Every epoch
# first updates all user rows (item side fixed), then all item rows. For a row
# x with quadratic loss 0.5 x^T H x - b^T x the gradient is g = H x - b and H
# is the exact per-row Hessian. The update is a scaled Newton step
#       x <- x - learning_rate * d,   d ~= H^{-1} g
# with d from a few (``cg_steps`` / ``star_cg_steps``) Jacobi-preconditioned
# conjugate-gradient iterations with matrix-free Hessian-vector products on the
# row's gathered factors (truncated Newton, warm-started from the current x).
# learning_rate = 1 with an exact solve is classic ALS; the default 1.4
# over-relaxes (still a descent step for every row: the row loss is quadratic
# and d minimizes it over the CG subspace, so any step in (0, 2) lowers it),
# which converges in fewer epochs.
#
# Speed (see bench/RESULTS.md). The first three points are exact reformulations
# of the above; the last changes only the starting point:
# * Before each half-epoch both ranking blocks are rotated by the eigenvectors
#   of the fixed side's Gram matrix (u.v and |u| are invariant under a common
#   rotation). In that basis the Gramian term alpha0 * V^T V of every row's
#   Hessian is diagonal: cheap, and captured exactly by the preconditioner.
# * The ranking block and the star block [factors | bias] of a row are stepped
#   together in one CG loop, each with its own step sizes. The other side's
#   rows are gathered from two contiguous tables (ranking factors, and
#   [star factors | 1]) into per-thread buffers reused from block to block;
#   each block's mat-vecs are batched einsum (short rows) or matmul (rows of
#   16+ ratings) calls on its own table. Rows are sorted by length into padded
#   blocks, built once per training run, and each side's factor arrays are
#   kept in that block order while training, so a block's rows are a slice.
#   The blocks run on two worker threads with single-threaded BLAS each.
# * Every rating's residual per head (prediction minus target) is kept between
#   half-epochs: it is the same number seen from the user and from the book, so
#   after one side's step it is copied (one gather) into the other side's
#   block layout, and a row's step starts from it instead of a mat-vec.
# * Warm start: the item factors start from one randomized subspace-iteration
#   step, span(M^T M Omega) with Omega the usual random init (M = the 0/1
#   rating pattern for the ranking block, the centered ratings for the star
#   block), so training needs fewer epochs. Users start at zero: the first
#   half-epoch steps them from those items.

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

__all__ = [
    "TrainParams",
    "FactorModel",
    "EpochReport",
    "FoldedUser",
    "train",
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

    @property
    def n_users(self) -> int:
        return self.user_factors.shape[0]

    @property
    def n_items(self) -> int:
        return self.item_factors.shape[0]

    @property
    def alpha0(self) -> float:
        n_train = self.n_train or max(int(np.sum(self.item_counts)) if self.item_counts is not None else 1, 1)
        return _alpha0(self.params, n_train, self.n_users, self.n_items)

    @property
    def item_gram(self) -> np.ndarray:
        """k x k Gram matrix of the ranking item factors (cached; cheap to recompute)."""
        if self._gram is None:
            v = self.item_factors[:, : self.rank_factors].astype(np.float64)
            self._gram = (v.T @ v).astype(np.float32)
        return self._gram


@dataclass
class EpochReport:
    epoch: int
    loss: float  # full training objective divided by the number of ratings
    seconds: float
    val_rmse: float | None = None
    val_recall_at_10: float | None = None


@dataclass
class FoldedUser:
    """A user vector (+bias) in model space; works for trained and folded-in users alike."""

    vector: np.ndarray  # (rank_factors + star_factors,) float32
    bias: float


# --------------------------------------------------------------------------- helpers


def _alpha0(params: TrainParams, nnz: int, n_users: int, n_items: int) -> float:
    # capped at 1: an unobserved pair never weighs more than an observed one (tiny / dense data)
    return min(float(params.unobserved_weight) * nnz / max(n_users * n_items, 1), 1.0)


def _liked_weights(values: np.ndarray, liked_weight: float) -> np.ndarray:
    return (1.0 + liked_weight * np.maximum(values.astype(np.float32) - 3.0, 0.0)).astype(np.float32)


def _subspace_init(M: sp.csr_matrix, omega: np.ndarray, scale: float) -> np.ndarray:
    """One randomized subspace-iteration step, orthonormalized: span(M^T M omega), rows of norm ~scale.

    Used only to start the item factors (the random ``omega`` is their usual random init):
    the ranking block from the observed-pair pattern, the star block from the centered
    ratings. The training itself is unchanged; it just starts closer to the solution,
    which saves a few epochs.
    """
    Z = np.asarray(M.T @ (M @ omega), dtype=np.float32)
    # orthonormalize through the small Gram matrix (a tall QR is needlessly slow here)
    lam, W = np.linalg.eigh((Z.T @ Z).astype(np.float64))
    W /= np.sqrt(np.maximum(lam, lam.max() * 1e-6 + 1e-30))
    n, width = omega.shape
    return (Z @ (W * (np.sqrt(n) * scale / np.sqrt(max(width, 1)))).astype(np.float32)).astype(np.float32)


def _plan_blocks(lengths: np.ndarray, budget: int, max_rows: int) -> list[np.ndarray]:
    """Group rows (sorted by length) into blocks whose padded size stays under budget."""
    order = np.argsort(lengths, kind="stable")
    sorted_len = np.maximum(lengths[order], 1)
    blocks = []
    start, n = 0, len(order)
    while start < n:
        # largest end with (end - start) * sorted_len[end - 1] <= budget
        lo, hi = start + 1, min(n, start + max_rows)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if (mid - start) * sorted_len[mid - 1] <= budget:
                lo = mid
            else:
                hi = mid - 1
        blocks.append(order[start:lo])
        start = lo
    return blocks


class _Side:
    """One side's rows in block order, built once per training run and reused every epoch.

    Rows are sorted by length and grouped into padded blocks of similar length. During
    training this side's factor arrays are kept in that order (``order``: block-order
    position -> row id; ``position`` is its inverse), so a block's rows are the contiguous
    range ``start:stop`` and are read and written as slices. ``lengths`` is in block order.
    Call ``link`` once both sides exist: it fills each block's padded column ids (positions
    in the OTHER side's block order; padding points at ``other.n_rows``, an all-zero row of
    the gathered table) and padded values (0 on padding). The residuals of all cells live
    in ``residuals`` (2, n_cells + 1), block after block; the last cell stays 0.
    """

    def __init__(self, indptr, budget: int, max_rows: int):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.n_rows = len(self.indptr) - 1
        lengths = np.diff(self.indptr)
        self.row_counts = lengths  # by row id
        self.groups = _plan_blocks(lengths, budget, max_rows)
        self.order = np.concatenate(self.groups) if self.groups else np.zeros(0, np.int64)
        self.position = np.empty(self.n_rows, np.int64)
        self.position[self.order] = np.arange(self.n_rows)
        self.lengths = lengths[self.order]
        self.blocks: list[_Block] = []
        self.cell_slots = np.zeros(0, np.int64)  # per cell: the rating's slot (nnz for padding); see link
        self.residuals = np.zeros((2, 1), np.float32)

    def link(self, indices, values, slots, other: _Side) -> None:
        """Fill the blocks; ``slots`` gives each CSR entry's rating slot (None: the entry's own position)."""
        nnz = int(self.indptr[-1])
        index_type = _index_type(nnz)
        # sentinel entry at position nnz: the other side's padding row, value 0, padding slot nnz
        other_position = np.append(other.position, other.n_rows).astype(np.int32)
        cols_of = np.empty(nnz + 1, np.int32)
        np.take(other_position, indices, out=cols_of[:nnz])
        cols_of[nnz] = other.n_rows
        values = np.append(np.asarray(values, dtype=np.float32), np.float32(0))
        if slots is not None:
            slots = np.append(np.asarray(slots, dtype=index_type), index_type(nnz))
        widths = [max(int(self.row_counts[rows].max()), 1) for rows in self.groups]
        self.cell_slots = np.empty(sum(len(rows) * w for rows, w in zip(self.groups, widths, strict=True)), index_type)
        start = offset = 0
        for rows, length in zip(self.groups, widths, strict=True):
            pos = self.indptr[rows][:, None] + np.arange(length)[None, :]
            pos = np.where(np.arange(length)[None, :] < self.row_counts[rows][:, None], pos, nnz)
            self.blocks.append(_Block(start, start + len(rows), offset, cols_of[pos], values[pos]))
            self.cell_slots[offset : offset + pos.size] = (pos if slots is None else slots[pos]).ravel()
            start += len(rows)
            offset += pos.size
        self.residuals = np.zeros((2, offset + 1), np.float32)

    def cells_from(self, other: _Side, nnz: int) -> np.ndarray:
        """For each of this side's cells, the other side's cell holding the same rating (its zero cell for padding)."""
        n_other = other.residuals.shape[1] - 1
        index_type = _index_type(n_other)
        cell_of_slot = np.empty(nnz + 1, index_type)
        for block in other.blocks:  # block by block: no whole-side temporary index arrays
            cells = block.cells
            cell_of_slot[other.cell_slots[cells]] = np.arange(cells.start, cells.stop, dtype=index_type)
        cell_of_slot[nnz] = n_other  # padding: the other side's zero cell
        return cell_of_slot[self.cell_slots]


def _index_type(largest: int):
    """The narrower integer type that can index ``largest`` + 1 entries (halves the index arrays' memory)."""
    return np.int32 if largest < np.iinfo(np.int32).max else np.int64


@dataclass(frozen=True)
class _Block:
    start: int  # rows start:stop in block order
    stop: int
    offset: int  # first cell in the side's residual array; the block's cells are offset:offset + B * L
    cols: np.ndarray  # (B, L) other-side positions, the other side's padding row on padding
    values: np.ndarray  # (B, L) stars, 0 on padding

    @property
    def long_rows(self) -> bool:
        # batched BLAS mat-vecs pay off from about 16 entries per row; below that einsum's loop is faster
        return self.cols.shape[1] >= 16

    @property
    def cells(self) -> slice:
        return slice(self.offset, self.offset + self.cols.size)


def _sddmm(G2, v, long_rows: bool, out=None):
    """Each block's G_j v_j for a block of rows: (B, W) -> (2, B, L)."""
    B, L, k = G2[0].shape
    if out is None:
        out = np.empty((2, B, L), np.float32)
    for j, cols in enumerate((slice(0, k), slice(k, None))):
        if long_rows:
            np.matmul(G2[j], np.ascontiguousarray(v[:, cols])[:, :, None], out=out[j, :, :, None])
        else:
            np.einsum("blw,bw->bl", G2[j], v[:, cols], out=out[j])
    return out


def _spmm(G2, q, width: int):
    """Each block's G_j^T q_j for a block of rows: (2, B, L) -> (B, W)."""
    B, L, k = G2[0].shape
    h = np.empty((B, width), np.float32)
    h[:, :k] = np.matmul(q[0][:, None, :], G2[0])[:, 0, :]
    h[:, k:] = np.matmul(q[1][:, None, :], G2[1])[:, 0, :]
    return h


def _cg_step(z_old, G2, q, w2, a_diag, pre, mask2, steps, lr, long_rows=False):
    """Damped truncated-Newton step for a block of rows of two separable weighted least-squares losses.

    Each row vector z = [x_0 | x_1] holds two independent blocks (the ranking block and the
    star block); ``mask2`` (2, W) marks which columns belong to which (x_0 = the leading
    columns). Block j's row loss is
        0.5 * sum_l w_jl (G_jl . x_j - target_jl)^2 + 0.5 * sum_c a_diag_c x_jc^2,
    so its exact Hessian is H_j = G_j^T diag(w_j) G_j + diag(a_diag_j) and its exact
    gradient g_j = G_j^T (w_j * q_j) + a_diag_j * x_j, with ``q`` (2, B, L) the residuals
    G_j x_j - target_j at z_old (zero on padding). (``G2`` = (G_0, G_1), the row's gathered
    other-side features of each block, each contiguous (B, L, W_j), padded with zero rows;
    w2 (2, B, L) or None = unit weights. For the ranking block the Gram term alpha0 * V^T V
    is diagonal because the caller works in its eigenbasis.) The step d_j ~= H_j^-1 g_j
    comes from ``steps[j]`` conjugate-gradient iterations with Jacobi preconditioner ``pre``
    (~ diag H) and matrix-free Hessian-vector products; both blocks' CG run in lockstep
    (each block keeps its own step sizes), and ``steps[j]`` <= 0 solves H_j d_j = g_j
    exactly. ``long_rows`` picks the mat-vec kernel (see _sddmm). Returns z_old - lr * d and
    the residuals at the new values, (2, B, L).
    """
    mask2T = np.ascontiguousarray(mask2.T)
    width = mask2.shape[1]
    g = _spmm(G2, q * w2 if w2 is not None else q, width)
    g += a_diag * z_old
    d = np.zeros_like(z_old)
    Gd = np.zeros_like(q)
    cg_blocks = np.array([s > 0 for s in steps], np.float32)  # 1 for the blocks CG handles
    for j, s in enumerate(steps):
        if s <= 0:  # exact Newton step for block j via its explicit Hessian (small problems / checks)
            cols = np.flatnonzero(mask2[j])
            Gj = G2[j]
            Gw = Gj * w2[j, :, :, None] if w2 is not None else Gj
            H = np.matmul(Gw.transpose(0, 2, 1), Gj).astype(np.float64)
            H[:, np.arange(len(cols)), np.arange(len(cols))] += a_diag[:, cols]
            dj = np.linalg.solve(H, g[:, cols, None].astype(np.float64))[:, :, 0].astype(np.float32)
            d[:, cols] = dj
            Gd[j] = np.matmul(Gj, dj[:, :, None])[:, :, 0]
    n_iter = max(steps)
    if n_iter > 0:
        inv_pre = (mask2.T @ cg_blocks).astype(np.float32) / pre  # 0 on exactly-solved blocks
        r = g
        zv = r * inv_pre
        p = zv
        rz = (r * zv) @ mask2T  # (B, 2): per-block inner products
        Gp = np.empty_like(q)
        for it in range(n_iter):
            _sddmm(G2, p, long_rows, out=Gp)
            wGp = Gp * w2 if w2 is not None else Gp
            Ap = a_diag * p
            pHp = np.einsum("jbl,jbl->bj", wGp, Gp) + (Ap * p) @ mask2T
            alpha = (rz / np.maximum(pHp, 1e-30)) * np.array([it < s for s in steps], np.float32)
            alpha_w = alpha @ mask2  # (B, W): each column's block step size
            d += p * alpha_w
            Gd += alpha.T[:, :, None] * Gp
            if it == n_iter - 1:
                break
            Hp = _spmm(G2, wGp, width)
            Hp += Ap
            Hp *= alpha_w
            r = r - Hp
            zv = r * inv_pre
            rz_new = (r * zv) @ mask2T
            beta = rz_new / np.maximum(rz, 1e-30)
            p = zv + p * (beta @ mask2)
            rz = rz_new
    Gd *= lr
    return z_old - lr * d, np.subtract(q, Gd, out=Gd)


def _n_threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


_BLAS_LOCAL_SETTERS: list | None = None
_BLAS_LOOKUP_LOCK = threading.Lock()


def _single_threaded_blas() -> None:
    """Make BLAS single-threaded in the CALLING thread only (OpenBLAS >= 0.3.27 per-thread setting).

    The worker threads already use both cores; nested OpenBLAS threads would
    oversubscribe them (measured 3-5x slower). Other threads keep their setting.
    Silently does nothing if the BLAS library does not offer it.
    """
    global _BLAS_LOCAL_SETTERS
    with _BLAS_LOOKUP_LOCK:  # both worker threads start at once; the second must not see a half-filled list
        if _BLAS_LOCAL_SETTERS is None:
            setters = []
            try:
                import ctypes

                with open("/proc/self/maps") as fh:
                    libs = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln})
                for path in libs:
                    fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                    if fn is not None:
                        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                        setters.append(fn)
            except Exception:  # pragma: no cover - platform without /proc or OpenBLAS
                pass
            _BLAS_LOCAL_SETTERS = setters
    for fn in _BLAS_LOCAL_SETTERS:
        fn(1)


_GATHER_BUFFERS = threading.local()


def _gather_rows(table: np.ndarray, cols: np.ndarray, slot: str) -> np.ndarray:
    """``table[cols]`` written into a per-thread buffer that is reused from block to block.

    A fresh multi-MB array per block costs page faults on every epoch, and ``np.take`` with
    ``out`` and the default ``mode='raise'`` copies through a temporary; ``cols`` is
    already in range (built once per run), so ``mode='clip'`` is exact and direct.
    The result is only valid until the calling thread gathers again.
    """
    need = cols.size * table.shape[1]
    buf = getattr(_GATHER_BUFFERS, slot, None)
    if buf is None or buf.size < need:
        buf = np.empty(need, np.float32)
        setattr(_GATHER_BUFFERS, slot, buf)
    out = buf[:need].reshape(cols.shape + (table.shape[1],))
    np.take(table, cols, axis=0, out=out, mode="clip")
    return out


def _gram_eigenbasis(Y_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors (float32) of Y^T Y.

    u.v and |u|, |v| are invariant under a common orthogonal rotation of both ranking
    blocks, so rotating both sides by these eigenvectors changes neither the model nor
    the objective; in that basis the Gramian term of every row's Hessian is diagonal
    (cheap, and exactly captured by the Jacobi preconditioner).
    """
    gram = (Y_rank.T @ Y_rank).astype(np.float64)
    lam, Q = np.linalg.eigh(gram)
    return np.maximum(lam, 0.0), Q.astype(np.float32)


def _update_side(
    side: _Side,
    X_rank,
    Y_rank,
    X_star,
    Y_star,
    x_bias,
    y_bias,
    mu,
    alpha0,
    p: TrainParams,
    other_size: int,
    fresh: bool = False,
    pool: ThreadPoolExecutor | None = None,
    compute_loss: bool = False,
) -> tuple[float, np.ndarray]:
    """One preconditioned step for every row of one side (other side fixed), in place.

    All factor arrays are in block order (see ``_Side``). Both sides' ranking blocks are
    first rotated into the eigenbasis of the fixed side's Gram matrix (an exact
    reparametrization). ``side.residuals`` holds every rating's current residual per head
    (prediction minus target; u.v and the star prediction are the same number seen from
    either side, so the caller carries them over from the other side), and a row's step
    starts from them instead of recomputing its fitted values; each block writes its new
    residuals back. ``fresh`` says this side's rows are still all zero (the first
    half-epoch), so the residuals are minus the targets. Row blocks are independent
    (disjoint rows and cells, fixed other side), so they run on the worker threads of
    ``pool``; the result does not depend on scheduling. Returns (with compute_loss) the
    observed-pair part of the objective at the NEW row values, and the eigenvalues of the
    fixed side's Gram matrix: both ranking blocks are left in its eigenbasis, where that
    Gram matrix is their diagonal.
    """
    k = Y_rank.shape[1]
    ks = Y_star.shape[1]
    m = Y_rank.shape[0]
    width = k + ks + 1
    gram_eig, Q = _gram_eigenbasis(Y_rank)
    gram_a = (alpha0 * gram_eig).astype(np.float32)
    # two gathered tables, ranking factors (rotated) and [star factors | 1 (bias column)], each
    # contiguous (a gather of whole aligned rows, contiguous batched mat-vecs); sentinel row all zero
    table_rank = np.zeros((m + 1, k), np.float32)
    np.matmul(Y_rank, Q, out=table_rank[:m])
    Y_rank[:] = table_rank[:m]
    table_star = np.zeros((m + 1, ks + 1), np.float32)
    table_star[:m, :ks] = Y_star
    table_star[:m, ks] = 1.0
    bias_table = np.append(y_bias, np.float32(0))
    mask2 = np.zeros((2, width), np.float32)  # row 0: ranking columns, row 1: star columns
    mask2[0, :k] = 1.0
    mask2[1, k:] = 1.0
    # expected squared feature per column (for the Jacobi preconditioner)
    col_sq = np.empty(width, np.float32)
    col_sq[:k] = gram_eig / max(m, 1)
    col_sq[k : k + ks] = np.einsum("ij,ij->j", Y_star, Y_star) / max(m, 1)
    col_sq[k + ks] = 1.0
    nu = p.reg_exponent
    steps = (int(p.cg_steps), int(p.star_cg_steps))
    residuals = side.residuals

    def work(block: _Block):
        rows, cols, vals = slice(block.start, block.stop), block.cols, block.values
        B, L = cols.shape
        G2 = (_gather_rows(table_rank, cols, "rank"), _gather_rows(table_star, cols, "star"))  # reusable buffers
        n_row = side.lengths[rows].astype(np.float32)
        z_old = np.empty((B, width), np.float32)
        np.matmul(X_rank[rows], Q, out=z_old[:, :k])  # rotate the rows into the same basis
        z_old[:, k : k + ks] = X_star[rows]
        z_old[:, k + ks] = x_bias[rows]
        present = None
        if fresh or p.liked_weight != 0:
            present = (vals > 0).astype(np.float32)
        if fresh:  # the rows are all zero, so the residuals are minus the targets
            q = np.empty((2, B, L), np.float32)
            np.negative(present, out=q[0])  # ranking: target 1 on observed pairs
            q[1] = (mu + bias_table[cols] - vals) * present  # star: rating minus the fixed biases
        else:
            q = residuals[:, block.cells].reshape(2, B, L)
        if p.liked_weight == 0:
            w2, w_sum = None, n_row
        else:
            w2 = np.empty_like(q)
            w2[0] = _liked_weights(vals, p.liked_weight) * present
            w2[1] = present
            w_sum = w2[0].sum(axis=1)
        a_diag = np.empty((B, width), np.float32)
        a_diag[:, :k] = gram_a[None, :] + (p.regularization * (n_row + alpha0 * other_size) ** nu)[:, None]
        a_diag[:, k : k + ks] = (p.star_regularization * np.maximum(n_row, 1.0) ** p.star_reg_exponent)[:, None]
        a_diag[:, k + ks] = p.bias_regularization
        pre = a_diag + (w_sum[:, None] * mask2[0] + n_row[:, None] * mask2[1]) * col_sq
        z_new, q_new = _cg_step(z_old, G2, q, w2, a_diag, pre, mask2, steps, p.learning_rate, block.long_rows)
        X_rank[rows] = z_new[:, :k]
        X_star[rows] = z_new[:, k : k + ks]
        x_bias[rows] = z_new[:, k + ks]
        residuals[:, block.cells] = q_new.reshape(2, -1)
        if not compute_loss:
            return 0.0
        if w2 is not None:
            return float(np.einsum("jbl,jbl,jbl->", w2, q_new, q_new, dtype=np.float64))
        return float(np.einsum("jbl,jbl->", q_new, q_new, dtype=np.float64))

    if pool is None or len(side.blocks) == 1:
        losses = [work(b) for b in side.blocks]
    else:
        losses = list(pool.map(work, side.blocks))
    return float(sum(losses)), gram_eig  # summed in block order: deterministic


def _carry_residuals(source: _Side, target: _Side, cells: np.ndarray, in_parallel, chunk: int = 1 << 18) -> None:
    """Copy the residuals ``source`` just updated into ``target``'s cell layout (``cells`` from cells_from).

    In chunks: np.take converts narrower index arrays to intp, and a chunk's copy is small.
    """

    def head(j):
        def copy():
            for start in range(0, len(cells), chunk):
                part = slice(start, start + chunk)
                np.take(source.residuals[j], cells[part], out=target.residuals[j][:-1][part], mode="clip")

        return copy

    in_parallel(head(0), head(1))


def _objective(
    observed: float,
    nnz: int,
    U_rank,
    V_rank,
    U_star,
    V_star,
    ub,
    ib,
    alpha0,
    p: TrainParams,
    user_counts,
    item_counts,
    user_gram_eig,
) -> float:
    """Full training objective (both heads) / nnz, given the observed-pair part.

    Both ranking blocks are in the eigenbasis of U^T U, whose eigenvalues are ``user_gram_eig``.
    """
    n_users, n_items = U_rank.shape[0], V_rank.shape[0]
    total = observed
    # all-pairs term alpha0 * sum_{u,i} (u.v)^2 = alpha0 * <U^T U, V^T V>, minus nothing:
    # the observed pairs are deliberately counted in both terms (Rendle et al.).
    # U^T U is diagonal in this basis, so only the diagonal of V^T V counts.
    v_col_sq = np.einsum("ij,ij->j", V_rank, V_rank, dtype=np.float64)
    total += alpha0 * float(np.dot(user_gram_eig, v_col_sq))
    nu = p.reg_exponent
    n_u = user_counts.astype(np.float64)
    n_i = item_counts.astype(np.float64)

    def sq(a):
        return np.einsum("ij,ij->i", a, a).astype(np.float64)

    total += p.regularization * float(np.sum((n_u + alpha0 * n_items) ** nu * sq(U_rank)))
    total += p.regularization * float(np.sum((n_i + alpha0 * n_users) ** nu * sq(V_rank)))
    total += p.star_regularization * float(np.sum(np.maximum(n_u, 1) ** p.star_reg_exponent * sq(U_star)))
    total += p.star_regularization * float(np.sum(np.maximum(n_i, 1) ** p.star_reg_exponent * sq(V_star)))
    total += p.bias_regularization * float(np.sum(ub.astype(np.float64) ** 2) + np.sum(ib.astype(np.float64) ** 2))
    return total / max(nnz, 1)


def _validation_metrics(
    model: FactorModel, train: sp.csr_matrix, val: sp.csr_matrix, max_users: int = 3000, seed: int = 0
):
    """(rmse, recall@10) on held-out ratings; recall over (a sample of) users with a held-out rating >= 4."""
    val = val.tocoo()
    rmse = None
    if val.nnz:
        pred = predict_ratings(model, val.row, val.col)
        rmse = float(np.sqrt(np.mean((pred - val.data) ** 2)))
    keep = val.data >= 4
    liked = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (val.row[keep], val.col[keep])), shape=val.shape)
    liked.sum_duplicates()
    users = np.flatnonzero(np.diff(liked.indptr) > 0)
    if len(users) == 0:
        return rmse, None
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    k = model.rank_factors
    scores = model.user_factors[users, :k] @ model.item_factors[:, :k].T
    seen = train[users]
    scores[seen.nonzero()] = -np.inf
    top = top_n(scores, 10)
    rel = liked[users]
    hits = np.asarray(rel[np.arange(len(users))[:, None], top].sum(axis=1)).ravel()
    n_rel = np.minimum(np.diff(rel.indptr), 10)
    return rmse, float(np.mean(hits / n_rel))


# --------------------------------------------------------------------------- training


def train(
    ratings: sp.csr_matrix,
    params: TrainParams = TrainParams(),
    *,
    validation: sp.csr_matrix | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    early_stopping: bool = True,
) -> tuple[FactorModel, list[EpochReport]]:
    """Fit the model on a users x items CSR of 1..5 stars (no stored zeros).

    With ``validation`` (same shape, held-out ratings) every epoch reports val RMSE and
    recall@10; with ``early_stopping`` training stops once neither improved for
    ``params.patience`` epochs and the best epoch's factors are returned.
    """
    p = params
    R = sp.csr_matrix(ratings, dtype=np.float32)
    R.sum_duplicates()
    R.eliminate_zeros()
    R.sort_indices()
    n_threads = _n_threads()
    pool = ThreadPoolExecutor(max_workers=n_threads, initializer=_single_threaded_blas) if n_threads > 1 else None

    def in_parallel(*tasks):
        """Run independent setup steps on the worker threads; their results, in order."""
        if pool is None:
            return [task() for task in tasks]
        return [future.result() for future in [pool.submit(task) for task in tasks]]

    try:
        return _fit(R, p, validation, on_epoch, early_stopping, pool, in_parallel)
    finally:
        if pool is not None:
            pool.shutdown()
        _GATHER_BUFFERS.__dict__.clear()  # the calling thread's gather buffers (pool threads are gone)


def _build_sides(R: sp.csr_matrix, budget: int):
    """Both sides' blocks, and for each side the other side's cell of each of its cells (see _Side)."""
    # A rating's slot is its user-major (CSR) position; the item side reaches the slots through the transpose.
    nnz, max_rows = R.nnz, 4096
    slot_of = sp.csr_matrix((np.arange(nnz, dtype=np.int64), R.indices, R.indptr), shape=R.shape).tocsc()
    by_user = _Side(R.indptr, budget, max_rows)
    by_item = _Side(slot_of.indptr, budget, max_rows)
    # one step after the other: each holds temporaries the size of all ratings (memory at full scale)
    by_user.link(R.indices, R.data, None, by_item)
    by_item.link(slot_of.indices, R.data[slot_of.data], slot_of.data, by_user)
    del slot_of
    item_cells_from_user = by_item.cells_from(by_user, nnz)
    user_cells_from_item = by_user.cells_from(by_item, nnz)
    by_item.cell_slots = by_user.cell_slots = None  # only needed for the two maps above
    return by_user, by_item, item_cells_from_user, user_cells_from_item


def _fit(R, p: TrainParams, validation, on_epoch, early_stopping, pool, in_parallel):
    """train() on a clean CSR, with its worker pool (None: run in this thread) and setup helper."""
    n_users, n_items = R.shape
    nnz = R.nnz
    mu = float(R.data.mean()) if nnz else 3.0
    alpha0 = _alpha0(p, nnz, n_users, n_items)
    k, ks = int(p.factors), int(p.star_factors)
    rng = np.random.default_rng(p.seed)
    # users start at zero (fresh=True below relies on it): the first half-epoch steps them from the items
    U_rank = np.zeros((n_users, k), np.float32)
    U_star = np.zeros((n_users, ks), np.float32)
    V_rank = rng.standard_normal((n_items, k), dtype=np.float32) * np.float32(p.init_scale / np.sqrt(k))
    V_star = rng.standard_normal((n_items, ks), dtype=np.float32) * np.float32(p.init_scale / np.sqrt(max(ks, 1)))
    ub = np.zeros(n_users, np.float32)
    ib = np.zeros(n_items, np.float32)
    if nnz and n_items >= max(k, ks):  # warm start: item factors span the dominant item subspaces
        present = sp.csr_matrix((np.ones(nnz, np.float32), R.indices, R.indptr), shape=R.shape)
        centered = sp.csr_matrix((R.data - np.float32(mu), R.indices, R.indptr), shape=R.shape)
        V_rank, V_star = in_parallel(
            lambda: _subspace_init(present, V_rank, p.init_scale),
            lambda: _subspace_init(centered, V_star, p.init_scale),
        )
        del present, centered

    by_user, by_item, item_cells_from_user, user_cells_from_item = _build_sides(R, p.block_budget)
    U_rank, U_star, ub = U_rank[by_user.order], U_star[by_user.order], ub[by_user.order]
    V_rank, V_star, ib = V_rank[by_item.order], V_star[by_item.order], ib[by_item.order]
    item_counts = by_item.row_counts.astype(np.int64)

    def snapshot() -> FactorModel:
        users, items = by_user.position, by_item.position  # back from block order to row ids
        user_factors = np.empty((n_users, k + ks), np.float32)
        user_factors[:, :k], user_factors[:, k:] = U_rank[users], U_star[users]
        item_factors = np.empty((n_items, k + ks), np.float32)
        item_factors[:, :k], item_factors[:, k:] = V_rank[items], V_star[items]
        return FactorModel(
            global_mean=mu,
            user_factors=user_factors,
            item_factors=item_factors,
            user_bias=ub[users],
            item_bias=ib[items],
            rank_factors=k,
            params=p,
            item_counts=item_counts,
            n_train=nnz,
        )

    reports: list[EpochReport] = []
    best_model, best_rmse, best_recall, stale = None, np.inf, -np.inf, 0
    val = sp.csr_matrix(validation, dtype=np.float32) if validation is not None else None
    for epoch in range(1, int(p.epochs) + 1):
        t0 = time.perf_counter()
        _update_side(by_user, U_rank, V_rank, U_star, V_star, ub, ib, mu, alpha0, p, n_items, epoch == 1, pool)
        _carry_residuals(by_user, by_item, item_cells_from_user, in_parallel)
        observed, user_gram_eig = _update_side(
            by_item, V_rank, U_rank, V_star, U_star, ib, ub, mu, alpha0, p, n_users, False, pool, compute_loss=True
        )
        _carry_residuals(by_item, by_user, user_cells_from_item, in_parallel)
        loss = _objective(
            observed, nnz, U_rank, V_rank, U_star, V_star, ub, ib, alpha0, p, by_user.lengths, by_item.lengths,
            user_gram_eig,
        )
        seconds = time.perf_counter() - t0
        report = EpochReport(epoch=epoch, loss=loss, seconds=seconds, val_rmse=None, val_recall_at_10=None)
        if val is not None:
            model = snapshot()
            report.val_rmse, report.val_recall_at_10 = _validation_metrics(model, R, val, seed=p.seed)
            improved = False
            if report.val_rmse is not None and report.val_rmse < best_rmse - 1e-4:
                best_rmse, improved = report.val_rmse, True
            if report.val_recall_at_10 is not None and report.val_recall_at_10 > best_recall + 1e-4:
                best_recall, improved = report.val_recall_at_10, True
            if improved:
                best_model, stale = model, 0
            else:
                stale += 1
        reports.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if early_stopping and val is not None and stale >= p.patience:
            break
    model = best_model if (early_stopping and best_model is not None) else snapshot()
    return model, reports


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


def rank_scores(model: FactorModel, user: FoldedUser | np.ndarray | int, user_bias: float | None = None) -> np.ndarray:
    """Ranking score of every item for one user (higher = better).

    ``user`` may be a user index, a FoldedUser, or a raw vector (full width or
    ranking-block width). ``user_bias`` is accepted for symmetry and ignored:
    the ranking head has no bias (a per-user constant does not change the order).
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
    """Top-n item indices and their ranking scores for a user, skipping ``exclude`` (e.g. already rated)."""
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

    Exactly the per-user block minimization used in training (one k x k solve for the
    ranking block and one (ks+1) x (ks+1) solve for the star block). ``params`` defaults
    to the parameters the model was trained with.
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
    alpha0 = model.alpha0
    nu = p.reg_exponent
    # ranking block
    V = model.item_factors[item_idx, :k].astype(np.float64)
    w = _liked_weights(values, p.liked_weight).astype(np.float64)
    H = (V * w[:, None]).T @ V + alpha0 * model.item_gram.astype(np.float64)
    H[np.diag_indices(k)] += p.regularization * (n + alpha0 * model.n_items) ** nu
    vec[:k] = np.linalg.solve(H, V.T @ w)
    # star block with bias
    S = np.ones((len(item_idx), ks + 1))
    S[:, :ks] = model.item_factors[item_idx, k:]
    t = values - model.global_mean - model.item_bias[item_idx]
    Hs = S.T @ S
    Hs[np.diag_indices(ks + 1)] += np.append(
        np.full(ks, p.star_regularization * max(n, 1.0) ** p.star_reg_exponent), p.bias_regularization
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
