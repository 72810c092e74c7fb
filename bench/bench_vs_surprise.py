"""Training speed and held-out RMSE of BookRec's factorization next to scikit-surprise's SVD, in one run.

Both models train on the same training ratings and are scored on the same held-out ratings (those whose
reader and book both occur in training; predictions clipped to 1–5). Only fitting is timed: reading the
CSVs and building each library's data structure are reported separately.

Usage (from the repo root, with requirements-dev.txt installed):
    .venv/bin/python bench/bench_vs_surprise.py                       # the shared goodbooks split
    .venv/bin/python bench/bench_vs_surprise.py --synthetic 2000000   # goodbooks-shaped synthetic ratings, 80/20 split
    .venv/bin/python bench/bench_vs_surprise.py --repeat 3            # alternate the two fits 3 times; median ratio
(--repeat helps on a shared, loaded machine: both libraries see the same load swings.)
Prints figures only; no assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_train import DATA, machine_info, peak_rss_mb, synthetic_ratings  # noqa: E402

from recommender.evaluation import index_triples, read_ratings_csv  # noqa: E402
from recommender.factor_model import TrainParams, predict_ratings  # noqa: E402
from recommender.kernel import train  # noqa: E402
from recommender.metrics import rating_metrics  # noqa: E402


def shared_split():
    return read_ratings_csv(DATA / "splits" / "train.csv"), read_ratings_csv(DATA / "splits" / "test.csv")


def synthetic_split(n_ratings, seed=0):
    R = synthetic_ratings(n_ratings=n_ratings, seed=seed).tocoo()
    rng = np.random.default_rng(seed + 1)
    test = rng.random(R.nnz) < 0.2
    users, books, stars = R.row.astype(np.int64), R.col.astype(np.int64), R.data.astype(np.float32)
    return (users[~test], books[~test], stars[~test]), (users[test], books[test], stars[test])


def fit_bookrec(train_triples, test_triples):
    R, te_u, te_i, te_r, known = index_triples(train_triples, test_triples)
    started = time.perf_counter()
    model, epochs = train(R, TrainParams(), early_stopping=False)
    seconds = time.perf_counter() - started
    rmse, mae = rating_metrics(predict_ratings(model, te_u[known], te_i[known]), te_r[known])
    return seconds, rmse, mae, len(epochs)


def fit_surprise(train_triples, test_triples):
    from surprise import SVD, Dataset, Reader

    built = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".csv") as handle:
        users, books, stars = train_triples
        np.savetxt(handle, np.column_stack([users, books, stars]), fmt="%d,%d,%g")
        handle.flush()
        reader = Reader(line_format="user item rating", sep=",", rating_scale=(1, 5))
        trainset = Dataset.load_from_file(handle.name, reader=reader).build_full_trainset()
    build_seconds = time.perf_counter() - built
    algo = SVD(random_state=0)  # surprise's defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02
    started = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - started
    te_u, te_b, te_r = test_triples
    inner_users, inner_books = trainset._raw2inner_id_users, trainset._raw2inner_id_items
    raw_users, raw_books = [str(u) for u in te_u.tolist()], [str(b) for b in te_b.tolist()]
    known = np.array([u in inner_users and b in inner_books for u, b in zip(raw_users, raw_books, strict=True)])
    u_idx = np.array([inner_users[u] for u, ok in zip(raw_users, known, strict=True) if ok])
    i_idx = np.array([inner_books[b] for b, ok in zip(raw_books, known, strict=True) if ok])
    predicted = trainset.global_mean + algo.bu[u_idx] + algo.bi[i_idx] + np.einsum("nk,nk->n", algo.pu[u_idx], algo.qi[i_idx])
    rmse, mae = rating_metrics(predicted, te_r[known])
    return seconds, build_seconds, rmse, mae


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, metavar="N", help="use N synthetic ratings instead of the shared split")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="fit both N times, alternating (default 1)")
    args = parser.parse_args()
    print("machine:", machine_info())
    if args.synthetic:
        label = f"synthetic ({args.synthetic:,} ratings, 80/20)"
        train_triples, test_triples = synthetic_split(args.synthetic)
    else:
        if not (DATA / "splits" / "train.csv").exists():
            raise SystemExit(f"no shared split at {DATA}/splits; use --synthetic N")
        label = "goodbooks shared split"
        train_triples, test_triples = shared_split()
    print(f"data: {label}: {len(train_triples[0]):,} train, {len(test_triples[0]):,} test ratings")

    ratios = []
    for round_ in range(1, max(args.repeat, 1) + 1):
        if args.repeat > 1:
            print(f"round {round_} (load average {os.getloadavg()[0]:.1f})")
        ours, ours_rmse, ours_mae, epochs = fit_bookrec(train_triples, test_triples)
        print(f"BookRec factorization: fit {ours:.1f} s ({epochs} epochs), RMSE {ours_rmse:.4f}, MAE {ours_mae:.4f}")
        theirs, build, their_rmse, their_mae = fit_surprise(train_triples, test_triples)
        print(
            f"surprise SVD: fit {theirs:.1f} s (+{build:.1f} s building its trainset), "
            f"RMSE {their_rmse:.4f}, MAE {their_mae:.4f}"
        )
        print(f"speed-up: {theirs / ours:.1f}x; RMSE difference (ours - surprise): {ours_rmse - their_rmse:+.4f}")
        ratios.append(theirs / ours)
    if len(ratios) > 1:
        print(f"speed-up over {len(ratios)} rounds: median {np.median(ratios):.1f}x (min {min(ratios):.1f}x, max {max(ratios):.1f}x)")
    print(f"peak RSS {peak_rss_mb():.0f} MB; load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
