"""Benchmark the BookRec factorization: quality on the shared goodbooks split and speed/memory at full scale.

Usage (from the repo root):
    .venv/bin/python bench/bench_train.py                 # defaults on the shared split, all metrics
    .venv/bin/python bench/bench_train.py --synthetic     # 6M synthetic ratings: fit time + peak RSS
    .venv/bin/python bench/bench_train.py --resplit       # robustness: random per-user re-split of ratings.csv
    add --set factors=128 --set epochs=12 ... to override TrainParams fields.
Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.evaluation import evaluate, read_ratings_csv  # noqa: E402
from recommender.factor_model import TrainParams  # noqa: E402
from recommender.kernel import train  # noqa: E402

DATA = Path(os.environ.get("GOODBOOKS_DIR", ROOT.parent / "shared" / "data" / "goodbooks-10k"))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg_at_start": os.getloadavg(),
    }


def synthetic_ratings(n_users=53_424, n_items=10_000, n_ratings=6_000_000, n_tastes=24, seed=0):
    """Goodbooks-shaped synthetic ratings: power-law popularity, planted taste clusters, 1..5 stars."""
    rng = np.random.default_rng(seed)
    # ratings per user: log-normal, scaled to the target total (goodbooks: 8..200, mean ~112)
    per_user = np.clip(rng.lognormal(np.log(90), 0.6, n_users), 8, 400)
    per_user = np.maximum(1, np.round(per_user * (n_ratings * 1.2 / per_user.sum()))).astype(np.int64)
    users = np.repeat(np.arange(n_users, dtype=np.int64), per_user)
    item_taste = rng.integers(0, n_tastes, n_items)
    user_taste = rng.integers(0, n_tastes, n_users)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.6  # power law (Zipf exponent 0.6)
    popularity = popularity[rng.permutation(n_items)]
    p_all = popularity / popularity.sum()
    # 60% of each user's picks come from their taste cluster, also by popularity
    cluster_items = [np.flatnonzero(item_taste == c) for c in range(n_tastes)]
    items = np.searchsorted(np.cumsum(p_all), rng.random(len(users)) * p_all.sum()).clip(0, n_items - 1)
    from_taste = rng.random(len(users)) < 0.6
    for c in range(n_tastes):
        sel = from_taste & (user_taste[users] == c)
        pool = cluster_items[c]
        pp = popularity[pool] / popularity[pool].sum()
        pick = np.searchsorted(np.cumsum(pp), rng.random(int(sel.sum())) * pp.sum()).clip(0, len(pool) - 1)
        items[sel] = pool[pick]
    key = np.unique(users * n_items + items)  # drop duplicate (user, item) pairs
    if len(key) > n_ratings:
        key = np.sort(rng.choice(key, n_ratings, replace=False))
    users, items = key // n_items, key % n_items
    del key
    # planted rating structure: biases + taste match + low-rank noise
    k = 8
    pu = rng.normal(0, 0.35, (n_users, k)).astype(np.float32)
    qi = rng.normal(0, 0.35, (n_items, k)).astype(np.float32)
    bu = rng.normal(0, 0.4, n_users).astype(np.float32)
    bi = rng.normal(0, 0.4, n_items).astype(np.float32)
    stars = np.empty(len(users), np.float32)
    for s in range(0, len(users), 1_000_000):
        u, i = users[s : s + 1_000_000], items[s : s + 1_000_000]
        z = 3.9 + bu[u] + bi[i] + 0.6 * (user_taste[u] == item_taste[i]) + np.einsum("nk,nk->n", pu[u], qi[i])
        z += rng.normal(0, 0.7, len(u))
        stars[s : s + 1_000_000] = np.clip(np.round(z), 1, 5)
    R = sp.csr_matrix((stars, (users.astype(np.int32), items.astype(np.int32))), shape=(n_users, n_items))
    return R


def parse_overrides(pairs) -> dict:
    fields = {f.name: f.type for f in dataclasses.fields(TrainParams)}
    out = {}
    for pair in pairs or []:
        key, value = pair.split("=", 1)
        if key not in fields:
            raise SystemExit(f"unknown TrainParams field {key!r}")
        out[key] = int(value) if fields[key] in (int, "int") else float(value)
    return out


def run_split(params: TrainParams, train_csv: Path, test_csv: Path, label: str) -> None:
    t = time.perf_counter()
    tr = read_ratings_csv(train_csv)
    te = read_ratings_csv(test_csv)
    print(f"[{label}] read csv: {time.perf_counter() - t:.1f}s  train={len(tr[0])} test={len(te[0])}")
    for model in ("popularity", "mf"):
        res = evaluate(tr, te, model=model, params=params)
        print(
            f"[{label}] {model}: "
            + json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()})
        )
    print(f"[{label}] peak RSS {peak_rss_mb():.0f} MB")


def resplit(seed: int = 1, test_fraction: float = 0.2):
    """Random per-user split of ratings.csv (users with >= 5 ratings give 20% to test)."""
    u, b, r = read_ratings_csv(DATA / "ratings.csv")
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(u)), u))
    u, b, r = u[order], b[order], r[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    counts = np.diff(np.r_[starts, len(u)])
    rank_in_user = np.arange(len(u)) - np.repeat(starts, counts)
    n_test = np.where(counts >= 5, np.floor(counts * test_fraction).astype(int), 0)
    is_test = rank_in_user < np.repeat(n_test, counts)
    return (u[~is_test], b[~is_test], r[~is_test]), (u[is_test], b[is_test], r[is_test])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", action="store_true", help="time training on 6M synthetic ratings")
    ap.add_argument("--resplit", action="store_true", help="evaluate on a random re-split of ratings.csv")
    ap.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a TrainParams field")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    params = TrainParams(**parse_overrides(args.set))
    print("machine:", json.dumps(machine_info()))
    print("params:", json.dumps(dataclasses.asdict(params)))
    if args.synthetic:
        t = time.perf_counter()
        cache = Path(f"/tmp/bookrec_synthetic_{args.seed}.npz")
        if cache.exists():
            R = sp.load_npz(cache).tocsr()
        else:
            R = synthetic_ratings(seed=args.seed)
            sp.save_npz(cache, R)
        print(
            f"[synthetic] generated {R.nnz} ratings, {R.shape[0]} users x {R.shape[1]} items "
            f"in {time.perf_counter() - t:.1f}s; peak RSS after generation {peak_rss_mb():.0f} MB"
        )
        t = time.perf_counter()
        cpu = time.process_time()
        model, reports = train(
            R,
            params,
            early_stopping=False,
            on_epoch=lambda r: print(f"  epoch {r.epoch}: loss {r.loss:.4f} {r.seconds:.1f}s", flush=True),
        )
        fit = time.perf_counter() - t
        cpu = time.process_time() - cpu
        print(
            f"[synthetic] fit_seconds={fit:.1f} cpu_seconds={cpu:.1f} load_avg_now={os.getloadavg()[0]:.1f} "
            f"epochs={len(reports)} peak RSS {peak_rss_mb():.0f} MB "
            f"(includes the ~{R.data.nbytes * 3 / 2**20:.0f} MB input CSR)"
        )
        return
    if args.resplit:
        (tr, te) = resplit(seed=args.seed + 1)
        for model in ("popularity", "mf"):
            res = evaluate(tr, te, model=model, params=params)
            print(
                f"[resplit] {model}: "
                + json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()})
            )
        return
    run_split(params, DATA / "splits" / "train.csv", DATA / "splits" / "test.csv", "goodbooks splits")


if __name__ == "__main__":
    main()
