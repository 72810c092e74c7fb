"""The fast trainer of the factor model (what retrain and evaluate run); recommender/reference.py is its plain spec."""

# It minimizes the objective written out in recommender/factor_model.py by the same per-row Newton
# steps as recommender/reference.py: every epoch first steps all reader rows (books fixed), then all
# book rows. A row's loss is quadratic, 0.5 x^T H x - b^T x, with gradient g = H x - b, and the
# step is
#       x <- x - learning_rate * d,   d ~= H^{-1} g
# with d from a few (``cg_steps`` / ``star_cg_steps``) Jacobi-preconditioned conjugate-gradient
# iterations with matrix-free Hessian-vector products on the row's gathered factors (truncated
# Newton, warm-started from the current x); 0 steps means the exact solve of the reference.
# learning_rate = 1 with an exact solve is classic ALS; the default 1.4 over-relaxes (still a
# descent step for every row: the row loss is quadratic and d minimizes it over the CG subspace, so
# any step in (0, 2) lowers it), which converges in fewer epochs.
#
# What makes it fast (see bench/RESULTS.md). The first three are exact reformulations of the
# reference; the last changes only the starting point:
# * Before each half-epoch both ranking blocks are rotated by the eigenvectors of the fixed side's
#   Gram matrix (u.v and |u| are invariant under a common rotation). In that basis the Gramian term
#   alpha0 * V^T V of every row's Hessian is diagonal: cheap, and captured exactly by the
#   preconditioner.
# * The ranking block and the star block [factors | bias] of a row are stepped together in one CG
#   loop, each with its own step sizes. The other side's rows are gathered from two contiguous
#   tables (ranking factors, and [star factors | 1]) into per-thread buffers reused from block to
#   block; each block's mat-vecs are batched einsum (short rows) or matmul (rows of 16+ ratings)
#   calls on its own table. Rows are sorted by length into padded blocks, built once per training
#   run, and each side's factor arrays are kept in that block order while training, so a block's
#   rows are a slice. The blocks run on worker threads (one per CPU the process may use, or
#   RECOMMENDER_TRAIN_THREADS) with single-threaded BLAS each.
# * Every rating's residual per head (prediction minus target) is kept between half-epochs: it is
#   the same number seen from the user and from the book, so after one side's step it is copied
#   (one gather) into the other side's block layout, and a row's step starts from it instead of a
#   mat-vec.
# * Warm start: the item factors start from one randomized subspace-iteration step,
#   span(M^T M Omega) with Omega the usual random init (M = the 0/1 rating pattern for the ranking
#   block, the centered ratings for the star block), so training needs fewer epochs. Users start
#   at zero: the first half-epoch steps them from those items.

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from .factor_model import FactorModel, SideFactors, TrainParams, alpha0, liked_weights
from .metrics import RETRAIN_USERS, HeldOut, model_quality

__all__ = ["EpochReport", "THREADS_SETTING", "starting_point", "train", "train_threads"]

# Environment variable: how many worker threads training uses (default: every CPU the process may use).
THREADS_SETTING = "RECOMMENDER_TRAIN_THREADS"


@dataclass
class EpochReport:
    epoch: int
    loss: float  # full training objective divided by the number of ratings
    seconds: float
    val_rmse: float | None = None
    val_recall_at_10: float | None = None
    val_ndcg_at_10: float | None = None


@dataclass(frozen=True)
class _Constants:
    """What every row step needs besides the rows themselves: the hyper-parameters, mu and alpha0."""

    params: TrainParams
    mu: float  # global mean star
    alpha0: float  # weight of an unobserved pair


def train_threads() -> int:
    """Worker threads for training: RECOMMENDER_TRAIN_THREADS, else the CPUs this process may run on."""
    raw = os.environ.get(THREADS_SETTING, "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ValueError(f"{THREADS_SETTING} must be a whole number of threads, at least 1 (got {raw!r}).")
        return threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without CPU affinity (macOS)
        return max(1, os.cpu_count() or 1)


def starting_point(R: sp.csr_matrix, p: TrainParams, run_in_parallel=None) -> tuple[SideFactors, SideFactors]:
    """(users, items) before the first epoch: users at zero, items from one subspace-iteration step.

    ``run_in_parallel`` runs the two independent inits on worker threads (default: one after the other).
    """
    n_users, n_items = R.shape
    k, ks = int(p.factors), int(p.star_factors)
    mu = float(R.data.mean()) if R.nnz else 3.0
    rng = np.random.default_rng(p.seed)
    V_rank = rng.standard_normal((n_items, k), dtype=np.float32) * np.float32(p.init_scale / np.sqrt(k))
    V_star = rng.standard_normal((n_items, ks), dtype=np.float32) * np.float32(p.init_scale / np.sqrt(max(ks, 1)))
    if R.nnz and n_items >= max(k, ks):  # warm start: item factors span the dominant item subspaces
        present = sp.csr_matrix((np.ones(R.nnz, np.float32), R.indices, R.indptr), shape=R.shape)
        centered = sp.csr_matrix((R.data - np.float32(mu), R.indices, R.indptr), shape=R.shape)
        run = run_in_parallel or (lambda *tasks: [task() for task in tasks])
        V_rank, V_star = run(
            lambda: _subspace_init(present, V_rank, p.init_scale),
            lambda: _subspace_init(centered, V_star, p.init_scale),
        )
    users = SideFactors(np.zeros((n_users, k), np.float32), np.zeros((n_users, ks), np.float32), np.zeros(n_users, np.float32))
    items = SideFactors(V_rank, V_star, np.zeros(n_items, np.float32))
    return users, items


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


# --------------------------------------------------------------------------- row blocks


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

    def in_block_order(self, factors: SideFactors) -> SideFactors:
        return SideFactors(factors.rank[self.order], factors.star[self.order], factors.bias[self.order])

    def in_row_order(self, factors: SideFactors) -> SideFactors:
        return SideFactors(factors.rank[self.position], factors.star[self.position], factors.bias[self.position])


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


# --------------------------------------------------------------------------- the batched Newton step


@dataclass
class _BlockSystem:
    """The quadratic row losses of one block of rows, for both heads at once (see _cg_step).

    Each row vector z = [x_0 | x_1] holds two independent parts, the ranking block and the star block
    [factors | bias]; ``mask2`` (2, W) marks which columns belong to which. Part j's row loss is
        0.5 * sum_l w_jl (G_jl . x_j - target_jl)^2 + 0.5 * sum_c a_diag_c x_jc^2,
    so its Hessian is H_j = G_j^T diag(w_j) G_j + diag(a_diag_j).
    """

    G2: tuple[np.ndarray, np.ndarray]  # (G_0, G_1): each row's gathered other-side features, (B, L, W_j), zero padding
    w2: np.ndarray | None  # (2, B, L) weights per rating and head; None = unit weights
    a_diag: np.ndarray  # (B, W) diagonal of the regularization (and, ranking block, the rotated Gram term)
    pre: np.ndarray  # (B, W) Jacobi preconditioner, ~ diag H
    mask2: np.ndarray  # (2, W) 1 where a column belongs to part j
    long_rows: bool  # pick the mat-vec kernel (see _sddmm)


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


def _cg_step(system: _BlockSystem, z_old, q, steps, lr):
    """Damped truncated-Newton step z_old - lr * d for a block of rows; returns it and the new residuals.

    ``q`` (2, B, L) are the residuals G_j x_j - target_j at z_old (zero on padding), so the exact
    gradient is g_j = G_j^T (w_j * q_j) + a_diag_j * x_j. The step d_j ~= H_j^-1 g_j comes from
    ``steps[j]`` conjugate-gradient iterations with the Jacobi preconditioner and matrix-free
    Hessian-vector products; both parts' CG run in lockstep (each keeps its own step sizes), and
    ``steps[j]`` <= 0 solves H_j d_j = g_j exactly. The residuals at the new values, (2, B, L),
    follow from G d without another mat-vec.
    """
    G2, w2, a_diag, mask2 = system.G2, system.w2, system.a_diag, system.mask2
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
        inv_pre = (mask2.T @ cg_blocks).astype(np.float32) / system.pre  # 0 on exactly-solved blocks
        r = g
        zv = r * inv_pre
        p = zv
        rz = (r * zv) @ mask2T  # (B, 2): per-block inner products
        Gp = np.empty_like(q)
        for it in range(n_iter):
            _sddmm(G2, p, system.long_rows, out=Gp)
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


# --------------------------------------------------------------------------- threads


class _Workers:
    """Worker threads for independent tasks, with BLAS single-threaded while they run.

    The workers already use every core; nested BLAS threads would oversubscribe them (measured
    3-5x slower). Outside the parallel parts the BLAS thread count is left as it was.
    """

    def __init__(self, threads: int):
        self.pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        self._blas = ThreadpoolController() if self.pool is not None else None

    def _single_threaded_blas(self):
        return self._blas.limit(limits=1, user_api="blas") if self._blas is not None else nullcontext()

    def map(self, fn, items) -> list:
        items = list(items)
        if self.pool is None or len(items) <= 1:
            return [fn(item) for item in items]
        with self._single_threaded_blas():
            return list(self.pool.map(fn, items))

    def run(self, *tasks) -> list:
        """Run independent steps at once; their results, in order."""
        return self.map(lambda task: task(), tasks)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


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


# --------------------------------------------------------------------------- one half-epoch


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
    rows: SideFactors,
    fixed: SideFactors,
    constants: _Constants,
    workers: _Workers,
    *,
    fresh: bool = False,
    compute_loss: bool = False,
) -> tuple[float, np.ndarray]:
    """One preconditioned Newton step for every row of ``rows`` (the ``fixed`` side held fixed), in place.

    All factor arrays are in block order (see ``_Side``). Both sides' ranking blocks are first
    rotated into the eigenbasis of the fixed side's Gram matrix (an exact reparametrization).
    ``side.residuals`` holds every rating's current residual per head (prediction minus target;
    u.v and the star prediction are the same number seen from either side, so the caller carries
    them over from the other side), and a row's step starts from them instead of recomputing its
    fitted values; each block writes its new residuals back. ``fresh`` says these rows are still
    all zero (the first half-epoch), so the residuals are minus the targets. Row blocks are
    independent (disjoint rows and cells, fixed other side), so they run on the worker threads;
    the result does not depend on scheduling. Returns (with compute_loss) the observed-pair part of
    the objective at the NEW row values, and the eigenvalues of the fixed side's Gram matrix: both
    ranking blocks are left in its eigenbasis, where that Gram matrix is their diagonal.
    """
    p, mu, a0 = constants.params, constants.mu, constants.alpha0
    m, k = fixed.rank.shape
    ks = fixed.star.shape[1]
    width = k + ks + 1
    gram_eig, Q = _gram_eigenbasis(fixed.rank)
    gram_a = (a0 * gram_eig).astype(np.float32)
    # two gathered tables, ranking factors (rotated) and [star factors | 1 (bias column)], each
    # contiguous (a gather of whole aligned rows, contiguous batched mat-vecs); sentinel row all zero
    table_rank = np.zeros((m + 1, k), np.float32)
    np.matmul(fixed.rank, Q, out=table_rank[:m])
    fixed.rank[:] = table_rank[:m]
    table_star = np.zeros((m + 1, ks + 1), np.float32)
    table_star[:m, :ks] = fixed.star
    table_star[:m, ks] = 1.0
    bias_table = np.append(fixed.bias, np.float32(0))
    mask2 = np.zeros((2, width), np.float32)  # row 0: ranking columns, row 1: star columns
    mask2[0, :k] = 1.0
    mask2[1, k:] = 1.0
    # expected squared feature per column (for the Jacobi preconditioner)
    col_sq = np.empty(width, np.float32)
    col_sq[:k] = gram_eig / max(m, 1)
    col_sq[k : k + ks] = np.einsum("ij,ij->j", fixed.star, fixed.star) / max(m, 1)
    col_sq[k + ks] = 1.0
    steps = (int(p.cg_steps), int(p.star_cg_steps))
    residuals = side.residuals

    def work(block: _Block):
        span, cols, vals = slice(block.start, block.stop), block.cols, block.values
        B, L = cols.shape
        G2 = (_gather_rows(table_rank, cols, "rank"), _gather_rows(table_star, cols, "star"))  # reusable buffers
        n_row = side.lengths[span].astype(np.float32)
        z_old = np.empty((B, width), np.float32)
        np.matmul(rows.rank[span], Q, out=z_old[:, :k])  # rotate the rows into the same basis
        z_old[:, k : k + ks] = rows.star[span]
        z_old[:, k + ks] = rows.bias[span]
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
            w2[0] = liked_weights(vals, p.liked_weight) * present
            w2[1] = present
            w_sum = w2[0].sum(axis=1)
        a_diag = np.empty((B, width), np.float32)
        a_diag[:, :k] = gram_a[None, :] + (p.regularization * (n_row + a0 * m) ** p.reg_exponent)[:, None]
        a_diag[:, k : k + ks] = (p.star_regularization * np.maximum(n_row, 1.0) ** p.star_reg_exponent)[:, None]
        a_diag[:, k + ks] = p.bias_regularization
        pre = a_diag + (w_sum[:, None] * mask2[0] + n_row[:, None] * mask2[1]) * col_sq
        system = _BlockSystem(G2=G2, w2=w2, a_diag=a_diag, pre=pre, mask2=mask2, long_rows=block.long_rows)
        z_new, q_new = _cg_step(system, z_old, q, steps, p.learning_rate)
        rows.rank[span] = z_new[:, :k]
        rows.star[span] = z_new[:, k : k + ks]
        rows.bias[span] = z_new[:, k + ks]
        residuals[:, block.cells] = q_new.reshape(2, -1)
        if not compute_loss:
            return 0.0
        if w2 is not None:
            return float(np.einsum("jbl,jbl,jbl->", w2, q_new, q_new, dtype=np.float64))
        return float(np.einsum("jbl,jbl->", q_new, q_new, dtype=np.float64))

    losses = workers.map(work, side.blocks)
    return float(sum(losses)), gram_eig  # summed in block order: deterministic


def _carry_residuals(source: _Side, target: _Side, cells: np.ndarray, workers: _Workers, chunk: int = 1 << 18) -> None:
    """Copy the residuals ``source`` just updated into ``target``'s cell layout (``cells`` from cells_from).

    In chunks: np.take converts narrower index arrays to intp, and a chunk's copy is small.
    """

    def head(j):
        def copy():
            for start in range(0, len(cells), chunk):
                part = slice(start, start + chunk)
                np.take(source.residuals[j], cells[part], out=target.residuals[j][:-1][part], mode="clip")

        return copy

    workers.run(head(0), head(1))


def _objective(
    observed: float, users: SideFactors, items: SideFactors, by_user: _Side, by_item: _Side, c: _Constants, user_gram_eig
) -> float:
    """Full training objective (both heads) / nnz, given the observed-pair part.

    Factors and row lengths are in block order, and both ranking blocks in the eigenbasis of U^T U,
    whose eigenvalues are ``user_gram_eig``.
    """
    p, a0 = c.params, c.alpha0
    n_users, n_items = users.rank.shape[0], items.rank.shape[0]
    total = observed
    # all-pairs term alpha0 * sum_{u,i} (u.v)^2 = alpha0 * <U^T U, V^T V>, minus nothing:
    # the observed pairs are deliberately counted in both terms (Rendle et al.).
    # U^T U is diagonal in this basis, so only the diagonal of V^T V counts.
    v_col_sq = np.einsum("ij,ij->j", items.rank, items.rank, dtype=np.float64)
    total += a0 * float(np.dot(user_gram_eig, v_col_sq))
    nu = p.reg_exponent
    n_u = by_user.lengths.astype(np.float64)
    n_i = by_item.lengths.astype(np.float64)

    def sq(a):
        return np.einsum("ij,ij->i", a, a).astype(np.float64)

    total += p.regularization * float(np.sum((n_u + a0 * n_items) ** nu * sq(users.rank)))
    total += p.regularization * float(np.sum((n_i + a0 * n_users) ** nu * sq(items.rank)))
    total += p.star_regularization * float(np.sum(np.maximum(n_u, 1) ** p.star_reg_exponent * sq(users.star)))
    total += p.star_regularization * float(np.sum(np.maximum(n_i, 1) ** p.star_reg_exponent * sq(items.star)))
    total += p.bias_regularization * float(
        np.sum(users.bias.astype(np.float64) ** 2) + np.sum(items.bias.astype(np.float64) ** 2)
    )
    return total / max(int(by_user.lengths.sum()), 1)


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

    With ``validation`` (same shape, held-out ratings) every epoch reports val RMSE, recall@10 and
    NDCG@10 (recommender/metrics.py, over a seeded sample of RETRAIN_USERS readers); with
    ``early_stopping`` training stops once neither RMSE nor recall improved for ``params.patience``
    epochs and the best epoch's factors are returned.
    """
    R = sp.csr_matrix(ratings, dtype=np.float32)
    R.sum_duplicates()
    R.eliminate_zeros()
    R.sort_indices()
    workers = _Workers(train_threads())
    try:
        return _fit(R, params, validation, on_epoch, early_stopping, workers)
    finally:
        workers.close()
        _GATHER_BUFFERS.__dict__.clear()  # the calling thread's gather buffers (pool threads are gone)


def _fit(R, p: TrainParams, validation, on_epoch, early_stopping, workers: _Workers):
    """train() on a clean CSR, with its worker threads."""
    n_users, n_items = R.shape
    nnz = R.nnz
    constants = _Constants(params=p, mu=float(R.data.mean()) if nnz else 3.0, alpha0=alpha0(p, nnz, n_users, n_items))
    # users start at zero (fresh=True below relies on it): the first half-epoch steps them from the items
    users, items = starting_point(R, p, workers.run)
    by_user, by_item, item_cells_from_user, user_cells_from_item = _build_sides(R, p.block_budget)
    users, items = by_user.in_block_order(users), by_item.in_block_order(items)

    def snapshot() -> FactorModel:
        return FactorModel.from_sides(
            by_user.in_row_order(users),
            by_item.in_row_order(items),
            global_mean=constants.mu,
            params=p,
            item_counts=by_item.row_counts.astype(np.int64),
            n_train=nnz,
        )

    reports: list[EpochReport] = []
    best_model, best_rmse, best_recall, stale = None, np.inf, -np.inf, 0
    val = HeldOut.from_csr(sp.csr_matrix(validation, dtype=np.float32)) if validation is not None else None
    for epoch in range(1, int(p.epochs) + 1):
        t0 = time.perf_counter()
        _update_side(by_user, users, items, constants, workers, fresh=epoch == 1)
        _carry_residuals(by_user, by_item, item_cells_from_user, workers)
        observed, user_gram_eig = _update_side(by_item, items, users, constants, workers, compute_loss=True)
        _carry_residuals(by_item, by_user, user_cells_from_item, workers)
        loss = _objective(observed, users, items, by_user, by_item, constants, user_gram_eig)
        report = EpochReport(epoch=epoch, loss=loss, seconds=time.perf_counter() - t0)
        if val is not None:
            model = snapshot()
            quality = model_quality(model, R, val, max_users=RETRAIN_USERS, seed=p.seed)
            report.val_rmse, report.val_recall_at_10, report.val_ndcg_at_10 = (
                quality.rmse,
                quality.recall_at_10,
                quality.ndcg_at_10,
            )
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
