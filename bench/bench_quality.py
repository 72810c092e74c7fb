"""BookRec beside its peers on one split, in one run: EASE (a small λ grid), implicit ALS and popularity.

    .venv/bin/python bench/bench_quality.py [--split ../shared/data/goodbooks-10k/splits] [--resplit SEED]
        [--ease-lambdas 50,100,200,500] [--als-settings 64:1,64:10,128:10] [--peers-only]

Every row is scored by recommender/metrics.py (the code retrain and evaluate use), on every test
reader: RMSE where the method predicts stars, recall@10, NDCG@10, the mean train popularity (rating
count) of the books in the readers' top-10s, and catalog coverage (share of books in at least one
top-10). BookRec rows come from recommender.evaluation.evaluate, the same call as `manage.py
evaluate`: "served" is what retrain trains and For you serves; "mf" its factor model alone.
EASE here is the full dense model (no pruning), fitted with numpy's inverse, as a peer. implicit
(a dev-only dependency) is benfred's ALS, fitted on confidence 1 + alpha for every rating.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SPLIT = ROOT.parent / "shared" / "data" / "goodbooks-10k" / "splits"


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores; load average {load}; Python {platform.python_version()}"


def scored(R, held_out, scores_for):
    """metrics.py's ranking quality plus the popularity and coverage of the top-10s."""
    from recommender.metrics import TopListTally, ranking_quality

    tally = TopListTally(R)
    quality = ranking_quality(scores_for, R, held_out, on_top=tally.on_top)
    return {
        "rmse": None,
        "recall_at_10": quality.recall_at_10,
        "ndcg_at_10": quality.ndcg_at_10,
        "top10_mean_popularity": tally.mean_popularity,
        "catalog_coverage": tally.coverage,
    }


def ease(R, held_out, lam):
    X = R.copy()
    X.data[:] = 1.0
    G = (X.T @ X).toarray().astype(np.float32)
    G[np.diag_indices(G.shape[0])] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)[None, :]
    B[np.diag_indices(B.shape[0])] = 0.0
    del G, P
    return scored(R, held_out, lambda users: np.asarray(X[users] @ B))


def implicit_als(R, held_out, factors, alpha):
    from implicit.als import AlternatingLeastSquares

    C = R.copy().astype(np.float32)
    C.data[:] = 1.0 + alpha
    model = AlternatingLeastSquares(factors=factors, regularization=0.05, iterations=15, random_state=0)
    model.fit(C, show_progress=False)
    U, V = np.asarray(model.user_factors), np.asarray(model.item_factors)
    return scored(R, held_out, lambda users: U[users] @ V.T)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default=str(DEFAULT_SPLIT))
    parser.add_argument("--resplit", type=int, help="pool train and test and split again with this seed")
    parser.add_argument("--ease-lambdas", default="50,100,200,500")
    parser.add_argument("--als-settings", default="64:1,64:10,128:10", help="factors:alpha, comma-separated")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--peers-only", action="store_true", help="skip the BookRec and popularity rows")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")
    import django

    django.setup()
    from threadpoolctl import threadpool_limits

    from recommender.evaluation import evaluate, index_triples, read_ratings_csv, resplit
    from recommender.metrics import HeldOut

    split = Path(args.split)
    train, test = read_ratings_csv(split / "train.csv"), read_ratings_csv(split / "test.csv")
    if args.resplit is not None:
        train, test = resplit(train, test, args.resplit)
    print(f"Machine: {machine()}")
    print(f"Split: {split}{'' if args.resplit is None else f' re-split with seed {args.resplit}'}: "
          f"{len(train[0]):,} train, {len(test[0]):,} test ratings")
    R, te_u, te_i, te_r, _ = index_triples(train, test)
    held_out = HeldOut(te_u, te_i, te_r)
    rows = []

    def run(name, fn):
        started = time.perf_counter()
        result = fn()
        result = {key: result.get(key) for key in ("rmse", "recall_at_10", "ndcg_at_10", "top10_mean_popularity",
                                                   "catalog_coverage")}
        result.update(method=name, seconds=round(time.perf_counter() - started, 1))
        rows.append(result)
        rmse = "—" if result["rmse"] is None else f"{result['rmse']:.4f}"
        print(f"| {name} | {rmse} | {result['recall_at_10']:.4f} | {result['ndcg_at_10']:.4f} | "
              f"{result['top10_mean_popularity']:,.0f} | {result['catalog_coverage']:.3f} | {result['seconds']:.0f} |",
              flush=True)

    print("| method | RMSE | recall@10 | NDCG@10 | mean popularity of top-10 | catalog coverage | seconds |")
    print("|---|---|---|---|---|---|---|")
    if not args.peers_only:
        run("BookRec served (retrain defaults: factors + item-item blend)", lambda: evaluate(train, test, "served"))
        run("BookRec factor model alone", lambda: evaluate(train, test, "mf"))
        run("popularity (train rating count)", lambda: evaluate(train, test, "popularity"))
    for lam in (float(value) for value in args.ease_lambdas.split(",") if value):
        run(f"EASE λ={lam:g} (dense)", lambda lam=lam: ease(R, held_out, lam))
    for setting in (value for value in args.als_settings.split(",") if value):
        factors, alpha = setting.split(":")
        with threadpool_limits(1, "blas"):  # implicit asks for single-threaded BLAS
            run(f"implicit ALS {factors} factors, alpha {alpha}",
                lambda f=int(factors), a=float(alpha): implicit_als(R, held_out, f, a))
    print(f"Load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
