"""Build a large synthetic catalog (default 1,000,000 books) in its own PostgreSQL database, for search benchmarks.

    .venv/bin/python bench/make_synthetic_catalog.py postgres://postgres@127.0.0.1:5432/bookrec_catalog_1m

The database is created if missing and migrated. The real goodbooks-10k books are imported first (when
../shared/data/goodbooks-10k is present) so the benchmark's misspelled queries have their targets; the
rest are synthetic: titles and author names built from the real words of those books, loaded with COPY.
Running it again tops the catalog up to --books and duplicates nothing.
"""

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOODBOOKS = ROOT.parent / "shared" / "data" / "goodbooks-10k"
CHUNK = 100_000


def ensure_database(url):
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                             password=parts.password or None, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="postgres://… of a scratch database (created if missing)")
    parser.add_argument("--books", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("make_synthetic_catalog needs a PostgreSQL database URL.")

    ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from catalog.models import Author, Book, BookAuthor

    call_command("migrate", verbosity=0)
    if not Book.objects.exists() and (GOODBOOKS / "books.csv").is_file():
        call_command("import_goodbooks", str(GOODBOOKS), "--skip-ratings")

    existing = Book.objects.count()
    missing = args.books - existing
    if missing <= 0:
        print(f"{existing:,} books already: nothing to do")
        return
    rng = random.Random(args.seed + existing)
    words = sorted({w for title in Book.objects.values_list("title", flat=True) for w in title.split()
                    if w.isalpha() and len(w) > 2})
    small = ["the", "of", "and", "a", "in", "to", "for", "with"]
    names = list(Author.objects.values_list("name", flat=True))
    first = sorted({n.split()[0] for n in names if len(n.split()) >= 2})
    last = sorted({n.split()[-1] for n in names if len(n.split()) >= 2})
    print(f"making {missing:,} books from {len(words):,} title words and {len(first):,}×{len(last):,} author names")

    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # Authors: one per 10 books, names unique by their slug.
        author_count = max(1, missing // 10)
        next_author = (Author.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        author_names, buffer = [], io.StringIO()
        for i in range(author_count):
            name = f"{rng.choice(first)} {rng.choice(last)}"
            author_names.append(name)
            buffer.write(f"{next_author + i}\t{name}\tsynthetic-{existing}-{i}\n")
        buffer.seek(0)
        cursor.copy_expert("COPY catalog_author (id, name, slug) FROM STDIN", buffer)
        cursor.execute("SELECT setval(pg_get_serial_sequence('catalog_author', 'id'), (SELECT max(id) FROM catalog_author))")

        next_book = (Book.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        for start in range(0, missing, CHUNK):
            books, links = io.StringIO(), io.StringIO()
            for offset in range(start, min(start + CHUNK, missing)):
                book_id = next_book + offset
                length = rng.choice([1, 2, 2, 3, 3, 3, 4, 5, 6])
                title_words = [rng.choice(words) for _ in range(length)]
                if length >= 3 and rng.random() < 0.6:
                    title_words.insert(rng.randrange(1, length), rng.choice(small))
                title = " ".join(title_words).capitalize()
                author_index = rng.randrange(author_count)
                year = rng.randint(1800, 2024)
                count = int(rng.paretovariate(1.2)) - 1
                text = Book(title=title).composed_search_text([author_names[author_index]])
                books.write(
                    f"{book_id}\t{title}\t\t\t\t{year}\t\t\t\\N\teng\t\t\t{'f'}\t{text}\t{count}\t0\t0\t0\t0\t0\t0\t0\tnow\tnow\n"
                )
                links.write(f"{book_id}\t{next_author + author_index}\t0\n")
            books.seek(0)
            links.seek(0)
            cursor.copy_expert(
                "COPY catalog_book (id, title, original_title, series, series_position, publication_year, isbn10, isbn13, "
                "goodreads_book_id, language, cover_url, description, hidden_from_recommendations, search_text, "
                "ratings_count, ratings_1, ratings_2, ratings_3, ratings_4, ratings_5, average_rating, bayesian_rating, "
                "created, updated) FROM STDIN",
                books,
            )
            cursor.copy_expert(f"COPY {BookAuthor._meta.db_table} (book_id, author_id, position) FROM STDIN", links)
            print(f"  … {min(start + CHUNK, missing):,} / {missing:,} books ({time.monotonic() - started:.0f}s)", flush=True)
        cursor.execute("SELECT setval(pg_get_serial_sequence('catalog_book', 'id'), (SELECT max(id) FROM catalog_book))")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_book")
        cursor.execute("ANALYZE catalog_bookauthor")
    print(f"{Book.objects.count():,} books in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
