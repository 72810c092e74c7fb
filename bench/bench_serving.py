"""Serving latency at goodbooks scale: For you (with fold-in for a reader with 200 ratings) and book pages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_recsys .venv/bin/python bench/bench_serving.py [--requests 200]

Needs the benchmark data and an active model (bench/bench_retrain.py). Requests go through the
whole Django stack (middleware, sessions, views, templates) in process with the test client, under
the production settings with test secrets (bookrec_site.test_settings). A bench reader is created
(or reused) with 200 ratings made after training, so every For you request takes the fold-in path:
"cold" clears the fold-in cache before each request, "warm" lets it hit. Target: p95 ≤ 50 ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# Web workers should run BLAS single-threaded (see bench/RESULTS.md): a 10k × 64 matrix-vector product
# takes 0.05 ms on one thread and 16 ms when OpenBLAS wakes threads on a busy 2-core machine.
# Set OPENBLAS_NUM_THREADS=2 to measure the default behaviour.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BENCH_EMAIL = "bench-reader@bookrec.example"


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(client, url, repeat, before=None):
    timings = []
    for n in range(repeat):
        if before is not None:
            before(n)
        started = time.perf_counter()
        response = client.get(url(n) if callable(url) else url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url(n) if callable(url) else url} answered {response.status_code}")
    return timings


def report(name, timings):
    print(
        f"  {name:<38} p50 {statistics.median(timings):6.1f} ms   p95 {percentile(timings, 0.95):6.1f} ms   "
        f"max {max(timings):6.1f} ms   (n={len(timings)})"
    )
    return percentile(timings, 0.95)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to the PostgreSQL database holding the benchmark data.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bookrec_site.test_settings"
    import django

    django.setup()
    import numpy as np
    from bench_retrain import machine_info
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import Rater, Rating, User
    from accounts.ratings import refresh_rating_summaries
    from catalog.models import Book
    from recommender import serving
    from recommender.models import ModelRun

    run = ModelRun.objects.filter(is_active=True).first()
    if run is None:
        sys.exit("No active model: run bench/bench_retrain.py first.")
    print(f"Machine: {machine_info()}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"Active run #{run.pk}: {run.n_ratings:,} ratings, {run.n_users:,} raters, {run.n_books:,} books")

    user = User.objects.filter(email=BENCH_EMAIL).first() or User.objects.create_user(
        email=BENCH_EMAIL, password="bench-reader-password"
    )
    rater, _ = Rater.objects.get_or_create(user=user)
    if Rating.objects.filter(rater=rater).count() != 200:
        Rating.objects.filter(rater=rater).delete()
        rng = np.random.default_rng(1)
        popular = list(Book.objects.order_by("-ratings_count").values_list("pk", flat=True)[:2000])
        chosen = rng.choice(popular, 200, replace=False)
        Rating.objects.bulk_create([Rating(rater=rater, book_id=int(b), value=int(rng.integers(2, 6))) for b in chosen])
        refresh_rating_summaries([int(b) for b in chosen])
    client = Client()
    client.force_login(user)

    def rss_mb():
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    serving.forget_model()
    rss_before = rss_mb()
    started = time.perf_counter()
    loaded = serving.active_model()
    rss_after = rss_mb()
    factors = loaded.model.user_factors.nbytes + loaded.model.item_factors.nbytes
    item_item = loaded.item_item
    pairs = 0 if item_item is None else item_item.indptr.nbytes + item_item.indices.nbytes + item_item.weights.nbytes
    ids = loaded.rater_ids.nbytes + loaded.book_ids.nbytes + loaded.rater_rating_counts.nbytes
    print(f"Model load into a worker: {(time.perf_counter() - started) * 1000:.0f} ms; arrays held per worker "
          f"{(factors + pairs + ids) / 1e6:.0f} MB ({factors / 1e6:.0f} MB of factors, {pairs / 1e6:.1f} MB of "
          f"item-item weights, {ids / 1e6:.1f} MB of id maps); process RSS grew {rss_after - rss_before:.0f} MB")
    for_you = reverse("recommender:for_you")
    client.get(for_you)  # warm up: templates, connection

    def forget_fold_in(_):
        cache.clear()
        client.force_login(user)  # keeps the session valid whichever session engine is in use

    print("Latency through the full Django stack:")
    results = {
        "For you, fold-in computed (cold)": report(
            "For you, fold-in computed (cold)", timed(client, for_you, args.requests, before=forget_fold_in)
        ),
        "For you, fold-in cached (warm)": report("For you, fold-in cached (warm)", timed(client, for_you, args.requests)),
        "For you, page 5": report("For you, page 5", timed(client, for_you + "?page=5", args.requests)),
    }
    book_ids = list(Book.objects.order_by("?").values_list("pk", flat=True)[: args.requests])
    results["Book page with similar books"] = report(
        "Book page with similar books",
        timed(client, lambda n: reverse("catalog:book_detail", args=[book_ids[n]]), args.requests),
    )
    anonymous = Client()
    results["Book page, anonymous"] = report(
        "Book page, anonymous", timed(anonymous, lambda n: reverse("catalog:book_detail", args=[book_ids[n]]), args.requests)
    )
    print("The recommender's share (recommender.api in process, no HTTP, no template):")
    from recommender import api

    def call(function):
        timings = []
        for n in range(args.requests):
            started = time.perf_counter()
            function(n)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    report("api.recommendations_for(24), warm", call(lambda n: api.recommendations_for(user, limit=24)))
    report("api.recommendations_for(24), cold", call(lambda n: (cache.clear(), api.recommendations_for(user, limit=24))))
    books = list(Book.objects.in_bulk(book_ids).values())
    report("api.similar_books(8)", call(lambda n: api.similar_books(books[n % len(books)])))
    worst = max(results.values())
    print(f"Worst p95: {worst:.1f} ms (target ≤ 50 ms) on {connection.vendor}")


if __name__ == "__main__":
    main()
