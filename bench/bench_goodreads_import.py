"""Goodreads round trip at library scale: import an N-row export, import it again, render its results, export it.

Not a test. Builds its own catalog of N books and one reader in the database it is given (migrate it first),
then removes them again:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_bench .venv/bin/python bench/bench_goodreads_import.py --rows 20000

Rows are matched as a real library is: most by Goodreads Book Id, some by ISBN-13, some by title and author,
and a few not at all; a quarter are unrated (to-read, currently-reading, read without stars), some have reviews.
"""

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")

COLUMNS = None  # filled from accounts.library_export once Django is set up


def library_csv(books, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    shelves = ["read", "read", "read", "to-read", "currently-reading"]
    for n in range(rows):
        book_id, title, author, isbn13 = books[n % len(books)]
        kind = n % 20
        goodreads_id = book_id if kind < 14 else 900_000_000 + n
        cell_isbn = f'="{isbn13}"' if 14 <= kind < 17 else '=""'
        if kind == 19:
            title, author = f"Unknown Book {n}", "Nobody Atall"
        shelf = shelves[n % 5]
        rating = (n % 5) + 1 if shelf == "read" and n % 7 else 0
        review = f"Thoughts on {title}, part one.\nPart two." if n % 9 == 0 else ""
        writer.writerow([
            goodreads_id, title, author, "", "", '=""', cell_isbn, rating, "3.90", "Press", "Paperback", 320, 2001,
            1999, "2020/05/01" if shelf == "read" else "", "2019/01/02", "" if shelf == "read" else shelf, "",
            shelf, review, "", "", 1 if shelf != "to-read" else 0, 0,
        ])
    return out.getvalue().encode()


def main():
    global COLUMNS
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts import goodreads
    from accounts.library_export import COLUMNS as EXPORT_COLUMNS
    from accounts.models import User
    from catalog.models import Author, Book, BookAuthor

    COLUMNS = EXPORT_COLUMNS
    prefix = "bench-goodreads"
    Book.objects.filter(title__startswith=prefix).delete()
    User.objects.filter(email=f"{prefix}@example.com").delete()
    started = time.perf_counter()
    authors = Author.objects.bulk_create(
        [Author(name=f"Writer Surname{n}", slug=f"{prefix}-writer-{n}") for n in range(args.rows // 5 + 1)]
    )
    books = Book.objects.bulk_create(
        [Book(title=f"{prefix} title {n}", goodreads_book_id=800_000_000 + n, isbn13=f"979{n:010d}")
         for n in range(args.rows)],
        batch_size=2000,
    )
    BookAuthor.objects.bulk_create(
        [BookAuthor(book=book, author=authors[n // 5], position=0) for n, book in enumerate(books)], batch_size=2000
    )
    catalog = [(b.goodreads_book_id, b.title, f"Writer Surname{n // 5}", b.isbn13) for n, b in enumerate(books)]
    reader = User.objects.create_user(email=f"{prefix}@example.com", password="bench-only-password-1")
    data = library_csv(catalog, args.rows)
    print(f"setup: {args.rows:,} books, a {len(data) / 1024 / 1024:.1f} MB export, {time.perf_counter() - started:.1f} s")
    try:
        for label in ("first import", "re-import (all unchanged)"):
            started = time.perf_counter()
            result = goodreads.run_import(reader, data, "bench.csv")
            seconds = time.perf_counter() - started
            counts = ", ".join(f"{key} {value:,}" for key, value in sorted(result.report["counts"].items()))
            print(f"{label}: {seconds:.2f} s ({counts})")
        client = Client()
        client.force_login(reader)
        with connection.cursor() as cursor:
            table = "accounts_goodreadsimport"
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT pg_column_size(report) FROM {table} WHERE id = %s", [result.pk])
            else:
                cursor.execute(f"SELECT length(report) FROM {table} WHERE id = %s", [result.pk])
            report_bytes = cursor.fetchone()[0]
        for label, url in (("results page (200 rows)", f"/import/goodreads/{result.pk}/"),
                           ("export.csv", "/profile/export.csv"), ("export.json", "/profile/export.json"),
                           ("My books, Read", "/my-books/?sort=author")):
            started = time.perf_counter()
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            print(f"{label}: {time.perf_counter() - started:.2f} s, {len(response.content) / 1024:.0f} KiB")
        print(f"stored report: {report_bytes / 1024:.0f} KiB ({connection.vendor})")
    finally:
        User.objects.filter(email=f"{prefix}@example.com").delete()
        Book.objects.filter(title__startswith=prefix).delete()
        Author.objects.filter(slug__startswith=prefix).delete()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
