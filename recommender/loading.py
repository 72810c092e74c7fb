"""Every rating out of the database as numpy arrays, for training (PostgreSQL binary COPY, or a plain cursor)."""

# This is the only module of training that names the rating models: when they move to another
# app, these imports are the ones to repoint. Tables and columns are read from the model's _meta.

import io
from dataclasses import dataclass

import numpy as np
from django.db import connection

from accounts.models import Dismissal, Rating
from accounts.ratings import ratings_fingerprint

__all__ = ["RatingData", "has_ratings", "index_ids", "load_dismissals", "load_ratings", "ratings_fingerprint"]


@dataclass
class RatingData:
    """Every rating as parallel arrays, with the database ids behind each row and column index."""

    user_idx: np.ndarray  # int32 row index per rating
    item_idx: np.ndarray  # int32 column index per rating
    values: np.ndarray  # float32 stars per rating
    rater_ids: np.ndarray  # int64 Rater.pk of each row
    book_ids: np.ndarray  # int64 Book.pk of each column

    @property
    def n_ratings(self):
        return len(self.values)

    @property
    def shape(self):
        return len(self.rater_ids), len(self.book_ids)


def has_ratings() -> bool:
    return Rating.objects.exists()


def load_ratings(using_copy=None):
    """Every rating (site and dataset readers alike) as arrays, without building ORM objects."""
    if using_copy is None:
        using_copy = connection.vendor == "postgresql" and not _is_psycopg3()
    raters, books, halves = _copy_ratings_postgres() if using_copy else _fetch_ratings()
    values = halves.astype(np.float32) / 2
    rater_ids, user_idx = index_ids(raters)
    del raters
    book_ids, item_idx = index_ids(books)
    del books
    return RatingData(
        user_idx=user_idx.astype(np.int32),
        item_idx=item_idx.astype(np.int32),
        values=values.astype(np.float32),
        rater_ids=rater_ids.astype(np.int64),
        book_ids=book_ids.astype(np.int64),
    )


def load_dismissals(data: RatingData):
    """(row, column) in ``data`` of every dismissal whose reader and book the ratings know and that is not rated.

    A site reader's dismissals are few (one query); a dismissed book the reader later rated is a rating.
    """
    pairs = np.array(
        list(Dismissal.objects.filter(user__rater__isnull=False).values_list("user__rater__id", "book_id")),
        dtype=np.int64,
    ).reshape(-1, 2)
    rows, row_known = _positions(data.rater_ids, pairs[:, 0])
    columns, column_known = _positions(data.book_ids, pairs[:, 1])
    rows, columns = rows[row_known & column_known], columns[row_known & column_known]
    if len(rows):
        n_items = len(data.book_ids)
        mine = np.isin(data.user_idx, np.unique(rows))
        rated = data.user_idx[mine].astype(np.int64) * n_items + data.item_idx[mine]
        unrated = ~np.isin(rows * n_items + columns, rated)
        rows, columns = rows[unrated], columns[unrated]
    return rows.astype(np.int64), columns.astype(np.int64)


def _positions(sorted_ids, ids):
    """(index of each id in sorted_ids, mask of ids found there)."""
    if len(sorted_ids) == 0 or len(ids) == 0:
        return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return pos, sorted_ids[pos] == ids


def index_ids(ids):
    """(sorted distinct ids, index of each id among them): np.unique(return_inverse=True), faster.

    Primary keys are dense, so a presence table over 0..max id maps them in linear time; sparse
    ids (far more possible values than rows) fall back to sorting.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > 4 * len(ids) + 1_000_000:
        return np.unique(ids, return_inverse=True)
    present = np.zeros(high + 1, dtype=bool)
    present[ids] = True
    position = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), position[ids]


def _is_psycopg3():
    # Imported here: the module imports a PostgreSQL driver, which a SQLite-only install may lack.
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def _select_list():
    """The quoted table and its (rater, book, half stars) select list, as the Rating model names the columns.

    Stars come out in half-star units, value * 2 (+ 1 for a dataset's half star), so they stay a
    small integer on the wire; load_ratings divides by 2.
    """
    quote = connection.ops.quote_name
    rater, book, value, half = (quote(Rating._meta.get_field(name).column) for name in ("rater", "book", "value", "half_star"))
    halves = f"CAST({value} * 2 + CASE WHEN {half} THEN 1 ELSE 0 END AS smallint)"
    return quote(Rating._meta.db_table), f"{rater}, {book}, {halves}"


# PostgreSQL binary COPY of (rater_id bigint, book_id bigint, half stars smallint) rows, straight from
# the table: a 2-byte field count, then a 4-byte length before each field. No column can be NULL,
# so every row has the same 32-byte layout and numpy reads the whole stream as one structured array.
# Should a column type ever change, the size and field-count checks below fail loudly.
_COPY_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("rater", ">i8"), ("l2", ">i4"), ("book", ">i8"), ("l3", ">i4"), ("value", ">i2")]
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def decode_binary_copy(raw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rater ids, book ids, values) from the bytes of a binary COPY of the three rating columns."""
    raw = memoryview(raw)
    if bytes(raw[:11]) != _COPY_SIGNATURE:
        raise ValueError("PostgreSQL COPY returned an unexpected header")
    extension = int.from_bytes(raw[15:19], "big")
    body = raw[19 + extension : len(raw) - 2]  # the stream ends with a 2-byte -1 trailer
    if len(body) % _COPY_ROW.itemsize:
        raise ValueError("PostgreSQL COPY returned rows of an unexpected size")
    rows = np.frombuffer(body, dtype=_COPY_ROW)
    if len(rows) and not np.all(rows["n"] == 3):
        raise ValueError("PostgreSQL COPY returned rows with an unexpected column count")
    return rows["rater"].astype(np.int64), rows["book"].astype(np.int64), rows["value"].astype(np.int16)


def _copy_ratings_postgres():
    table, columns = _select_list()
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY (SELECT {columns} FROM {table}) TO STDOUT WITH (FORMAT binary)", buffer)
    result = decode_binary_copy(buffer.getbuffer())  # decoded in place: no second copy of the stream
    buffer.close()
    return result


def _fetch_ratings(chunk=200_000):
    """The portable path (SQLite): plain cursor, converted to arrays a chunk at a time."""
    table, columns = _select_list()
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table}")
        while rows := cursor.fetchmany(chunk):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    data = np.concatenate(parts) if parts else np.empty((0, 3), np.int64)
    return data[:, 0], data[:, 1], data[:, 2].astype(np.int16)
