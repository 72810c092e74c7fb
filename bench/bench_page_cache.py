"""Page-cache growth drill: how many anonymous-page entries (and bytes) junk query parameters create.

Not a test. Runs against any migrated database with a catalog, through Django's test Client with the
local-memory cache of the test settings (no entry limit is reached: MAX_ENTRIES is raised for the count):

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python bench/bench_page_cache.py

It requests /books/, /search/?q=… and /search/suggest/?q=… each with N distinct junk parameters
("?utm_<n>=…", as a crawler or a cache-busting client would), then counts the entries the cache holds.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="junk URLs per page")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.cache import cache
    from django.test import Client

    cache._max_entries = 10 ** 9  # count every entry the pages would create, not the cull's leftovers
    cache.clear()
    client = Client()
    request_bytes = 0
    for n in range(args.requests):
        for url in (f"/books/?page=1&utm_{n}=spam", f"/search/?q=harry+potter&cb={n}",
                    f"/search/suggest/?q=harry&x{n}=1"):
            request_bytes += len(url)
            assert client.get(url).status_code == 200, url
    entries = [value for key, value in cache._cache.items() if ":anonymous-page:" in key]
    sizes = [len(value) for value in entries]
    print(f"{3 * args.requests} junk-parameter requests: {len(entries)} page entries, "
          f"{sum(sizes) / 1024:.0f} KiB ({sum(sizes) / max(1, len(sizes)) / 1024:.1f} KiB each)")


if __name__ == "__main__":
    main()
