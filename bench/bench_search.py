"""Search latency benchmark: p50/p95 of /search/ and /search/suggest/ over misspelled queries.

Not a test. Run against a PostgreSQL database holding an imported catalog, e.g.:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_catalog .venv/bin/python bench/bench_search.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_catalog_1m .venv/bin/python bench/bench_search.py

Requests go through Django's test Client (the full middleware, view and template stack, no network), with
DEBUG off (test settings, so no collectstatic manifest is needed).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")

QUERIES = [
    "hary potter", "harry poter and the chamber", "lord of the rngs", "the hobit", "sanderson stormlight",
    "gabriel garcia marques", "hunger gmes", "pride and prejudise", "da vinci cod", "to kill a mokingbird",
    "the great gatsbi", "catcher in the ry", "game of thrones martin", "twilght meyer", "the fault in our strs",
    "divergant", "1984 orwel", "animal farn", "the kite runer", "gone gril", "girl with the dragon tatoo",
    "percy jakson", "the alchemyst coelho", "little women alcot", "fahrenheit 451 bradbery", "brave new wrld",
    "the book thef", "jane eyre bronte", "wuthering hieghts", "mistborn sandersn", "neil gaimen american gods",
    "stephen king the shinning",
]
# For --save / --compare only: more misspellings, and prefixes as typed into the header's box.
MORE_QUERIES = [
    "lord of the flies", "stormlight archive", "tolkien", "cien anos", "harry potter", "hunger gmaes", "gatsbi",
    "to kil a mockingbird", "pride prejudise", "hobit", "fifty shades grey", "the help stockett", "gone girll",
    "angels and demons", "lovely bones", "life of pie", "animal farm orwel", "alchemist coelho", "1984 orwell",
    "har", "lord o", "hung", "twil", "gats", "hob", "kite", "dune", "orwe", "sand", "harry pot", "the name of the w",
    "game of thr", "a song of ice and fire", "the hitchhikers guide", "ender game", "the martian weir",
    "the girl on the trian", "memoirs of a geisha", "the secret history tartt", "rebecca du maurier",
]


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each query is sent to each URL (default 5)")
    parser.add_argument("--save", type=Path, help="write each query's top 10 book ids to this JSON file")
    parser.add_argument("--compare", type=Path, help="compare each query's top 10 with a file written by --save")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from catalog.models import Book

    client = Client(HTTP_HOST="127.0.0.1" if "127.0.0.1" in settings.ALLOWED_HOSTS else "testserver")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} (others' work on the machine inflates the figures)")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, {Book.objects.count():,} books")
    if connection.vendor != "postgresql":
        print("warning: the search targets are for PostgreSQL; SQLite uses the Python fallback")
    for query in QUERIES:  # warm the caches and the connection
        client.get("/search/", {"q": query})
        client.get("/search/suggest/", {"q": query})

    for url in ("/search/", "/search/suggest/"):
        timings = []
        for _ in range(args.rounds):
            for query in QUERIES:
                cache.clear()  # time the search, not the anonymous page cache (catalog/caching.py)
                started = time.perf_counter()
                response = client.get(url, {"q": query})
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, query, response.status_code)
        print(f"{url:18} n={len(timings):4}  p50 {statistics.median(timings):6.1f} ms  "
              f"p95 {percentile(timings, 0.95):6.1f} ms  max {max(timings):6.1f} ms")

    from catalog.search import search_book_ids

    timings = []
    for _ in range(args.rounds):
        for query in QUERIES:
            started = time.perf_counter()
            search_book_ids(query)
            timings.append((time.perf_counter() - started) * 1000)
    print(f"{'ranking query only':18} n={len(timings):4}  p50 {statistics.median(timings):6.1f} ms  "
          f"p95 {percentile(timings, 0.95):6.1f} ms  max {max(timings):6.1f} ms")

    print("top result per query (/search/suggest/):")
    for query in QUERIES:
        results = client.get("/search/suggest/", {"q": query}).json()["results"]
        print(f"  {query!r:32} → {results[0]['title'] if results else '(nothing)'}")
    if args.save or args.compare:
        compare_top_tens(args, {query: search_book_ids(query, limit=10) for query in QUERIES + MORE_QUERIES})


def compare_top_tens(args, found):
    """The hit-quality check of a search change: the same queries' top 10s before (--save) and after (--compare)."""
    import json

    from catalog.models import Book

    if args.save:
        args.save.write_text(json.dumps(found, indent=1))
        print(f"top 10s of {len(found)} queries written to {args.save}")
    if not args.compare:
        return
    before = json.loads(args.compare.read_text())
    titles = dict(Book.objects.filter(pk__in={pk for ids in [*before.values(), *found.values()] for pk in ids})
                  .values_list("pk", "title"))
    same_first = same_ten = 0
    for query, old in before.items():
        new = found.get(query, [])
        same_first += old[:1] == new[:1]
        same_ten += old == new
        if old[:1] != new[:1]:
            where = new.index(old[0]) + 1 if old and old[0] in new else "absent"
            print(f"  top result changed for {query!r}: {titles.get(old[0]) if old else '(nothing)'!r} "
                  f"(now at {where}) → {titles.get(new[0]) if new else '(nothing)'!r}")
        elif old != new:
            overlap = len(set(old) & set(new))
            print(f"  same top result, top 10 differs for {query!r}: {overlap} of {len(old)} books in both")
    print(f"compared with {args.compare}: top result the same for {same_first} of {len(before)} queries, "
          f"whole top 10 the same for {same_ten}")


if __name__ == "__main__":
    main()
