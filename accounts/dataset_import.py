"""Loading a dataset's ratings (goodbooks-10k ratings.csv) as dataset Raters and Ratings, in bulk.

Dataset readers become Rater rows (source + external_id) with no user account, so they can never log in
but train the model alongside site readers. PostgreSQL loads through COPY into a temporary table and one
INSERT … ON CONFLICT; other databases use large batched upserts.
"""

import io
import re
from dataclasses import dataclass

from django.db import connection, transaction

from catalog.goodbooks import RATINGS_FILE, REQUIRED_COLUMNS, read_rows
from catalog.tabular import in_batches

from .models import Rater, Rating

SOURCE = "goodbooks"
BATCH_ROWS = 200_000
PROGRESS_EVERY = 500_000


@dataclass
class RatingsResult:
    rows_read: int = 0
    rows_valid: int = 0
    raters_created: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    book_ids: frozenset = frozenset()


def read_ratings(path, book_ids, problems, progress=lambda message: None):
    """Yield (line, user_id, book pk, half stars) for each valid row; report the others with their line number.

    Ratings are whole or half stars from 1 to 5 ("4", "4.0", "3.5" as in MovieLens); they are
    yielded in half-star units (3.5 stars -> 7) and stored as Rating.value 3 with half_star set.
    book_ids maps the dataset's book_id to a Book pk (or to any true value when only validating).
    """
    name = path.name
    rows = 0
    for line, values in read_rows(path, REQUIRED_COLUMNS[RATINGS_FILE], problems):
        rows += 1
        if rows % PROGRESS_EVERY == 0:
            progress(f"ratings: {rows:,} rows read")
        user_id, book_id, rating = values["user_id"], values["book_id"], values["rating"]
        # isascii(): str.isdigit() also accepts "²" and other digits int() refuses.
        if not (user_id.isascii() and book_id.isascii() and user_id.isdigit() and book_id.isdigit()
                and 0 < len(user_id) <= 18 and len(book_id) <= 18):
            problems.add(name, line, "user_id and book_id must be positive whole numbers")
            continue
        halves = half_stars(rating)
        if halves is None:
            problems.add(name, line, f"rating {rating[:20]!r} is not a whole or half star from 1 to 5 (such as 4 or 3.5)")
            continue
        book = book_ids.get(int(book_id))
        if book is None:
            problems.add(name, line, f"unknown book_id {book_id} (not in books.csv)")
            continue
        yield line, str(int(user_id)), book, halves


_STARS = re.compile(r"([1-5])(?:\.(0|5)0*)?")


def half_stars(text):
    """Half-star units of a rating written as 1..5 in steps of 0.5 ("3.5" -> 7), or None."""
    match = _STARS.fullmatch(text.strip())
    if match is None:
        return None
    halves = 2 * int(match.group(1)) + (match.group(2) == "5")
    return halves if halves <= 10 else None


def validate_ratings(path, dataset_book_ids, problems, progress=lambda message: None):
    """Dry run: read every row and report problems without writing. Returns the number of valid rows."""
    known = dict.fromkeys(dataset_book_ids, True)
    return sum(1 for _ in read_ratings(path, known, problems, progress))


def import_ratings(path, book_ids, problems, progress=lambda message: None):
    """Create or update the dataset's raters and ratings. Idempotent: a second run duplicates nothing.

    When a file rates the same book twice for one reader, the later line wins.
    """
    rows = read_ratings(path, book_ids, problems, progress)
    with transaction.atomic():
        before = Rating.objects.filter(rater__source=SOURCE, rater__user__isnull=True).count()
        raters_before = Rater.objects.filter(source=SOURCE, user__isnull=True).count()
        if connection.vendor == "postgresql":
            result = _load_postgres(rows, progress)
        else:
            result = _load_batched(rows, progress)
        after = Rating.objects.filter(rater__source=SOURCE, rater__user__isnull=True).count()
        result.raters_created = Rater.objects.filter(source=SOURCE, user__isnull=True).count() - raters_before
        result.created = after - before
        result.updated -= result.created
    return result


def _load_postgres(rows, progress):
    rating_table, rater_table = Rating._meta.db_table, Rater._meta.db_table
    result = RatingsResult()
    books = set()
    with connection.cursor() as cursor:
        # Dropped explicitly too: inside an outer transaction (tests, a caller's atomic) ON COMMIT comes late.
        cursor.execute("DROP TABLE IF EXISTS dataset_ratings")
        cursor.execute(
            "CREATE TEMP TABLE dataset_ratings (line bigint, user_id text, book_id bigint, halves smallint) ON COMMIT DROP"
        )
        buffer, pending = io.StringIO(), 0
        for line, user_id, book_id, halves in rows:
            buffer.write(f"{line}\t{user_id}\t{book_id}\t{halves}\n")
            books.add(book_id)
            pending += 1
            if pending == BATCH_ROWS:
                _copy(cursor, buffer)
                result.rows_valid += pending
                buffer, pending = io.StringIO(), 0
        _copy(cursor, buffer)
        result.rows_valid += pending
        progress(f"ratings: {result.rows_valid:,} valid rows staged, writing")
        cursor.execute("SELECT count(*) - count(DISTINCT (user_id, book_id)) FROM dataset_ratings")
        result.duplicates = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO {rater_table} (user_id, source, external_id, created)
            SELECT NULL, %s, user_id, now() FROM (SELECT DISTINCT user_id FROM dataset_ratings) AS readers
            ON CONFLICT (source, external_id) WHERE user_id IS NULL DO NOTHING
            """,
            [SOURCE],
        )
        cursor.execute(
            f"""
            INSERT INTO {rating_table} AS r (rater_id, book_id, value, half_star, created, updated)
            SELECT rater.id, latest.book_id, latest.halves / 2, latest.halves %% 2 = 1, now(), now()
            FROM (
                SELECT DISTINCT ON (user_id, book_id) user_id, book_id, halves
                FROM dataset_ratings ORDER BY user_id, book_id, line DESC
            ) AS latest
            JOIN {rater_table} AS rater
              ON rater.source = %s AND rater.external_id = latest.user_id AND rater.user_id IS NULL
            ON CONFLICT (rater_id, book_id) DO UPDATE
              SET value = EXCLUDED.value, half_star = EXCLUDED.half_star, updated = EXCLUDED.updated
            WHERE (r.value, r.half_star) <> (EXCLUDED.value, EXCLUDED.half_star)
            """,
            [SOURCE],
        )
        # Inserted plus changed rows; import_ratings subtracts the inserted ones.
        result.updated = cursor.rowcount
        cursor.execute("DROP TABLE dataset_ratings")
    result.book_ids = frozenset(books)
    return result


def _copy(cursor, buffer):
    buffer.seek(0)
    cursor.copy_expert("COPY dataset_ratings (line, user_id, book_id, halves) FROM STDIN", buffer)


def _load_batched(rows, progress):
    rating_table = Rating._meta.db_table
    result = RatingsResult()
    raters = dict(Rater.objects.filter(source=SOURCE, user__isnull=True).values_list("external_id", "id"))
    books, seen, batch = set(), set(), []

    def flush():
        new_ids = {user_id for user_id, _, _ in batch} - raters.keys()
        if new_ids:
            Rater.objects.bulk_create([Rater(source=SOURCE, external_id=i) for i in new_ids], batch_size=500)
            for chunk in in_batches(sorted(new_ids), 500):
                raters.update(Rater.objects.filter(source=SOURCE, user__isnull=True, external_id__in=chunk)
                              .values_list("external_id", "id"))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"""
                INSERT INTO {rating_table} (rater_id, book_id, value, half_star, created, updated)
                VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
                ON CONFLICT (rater_id, book_id) DO UPDATE
                  SET value = excluded.value, half_star = excluded.half_star, updated = excluded.updated
                WHERE {rating_table}.value <> excluded.value OR {rating_table}.half_star <> excluded.half_star
                """,
                [(raters[user_id], book_id, halves // 2, halves % 2 == 1) for user_id, book_id, halves in batch],
            )
            result.updated += max(cursor.rowcount, 0)
        batch.clear()

    for _line, user_id, book_id, value in rows:
        key = (user_id, book_id)
        if key in seen:
            result.duplicates += 1
        else:
            seen.add(key)
        batch.append((user_id, book_id, value))
        books.add(book_id)
        result.rows_valid += 1
        if len(batch) >= BATCH_ROWS // 4:
            flush()
    if batch:
        flush()
    result.book_ids = frozenset(books)
    return result
