"""Writing ratings: the one place that changes a rating and keeps each book's rating summary current."""

from collections import defaultdict

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, Max, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from catalog.models import BAYES_PRIOR_COUNT, BAYES_PRIOR_MEAN, Book
from catalog.tabular import in_batches

from .models import Rater, Rating, Shelf, ShelfEntry

VALID_VALUES = range(1, 6)


def rater_for(user, *, create=True):
    """The Rater row of a site reader (created on their first rating), locked until the transaction ends.

    Every rating write of a reader locks their Rater first, so two writes of one reader (a double
    click, an import next to a site rating) run one after the other. Locking the Rating instead
    would lock nothing on a first rating, and both writers would INSERT it. Call inside atomic().
    """
    rater = Rater.objects.select_for_update().filter(user=user).first()
    if rater is not None or not create:
        return rater
    try:
        with transaction.atomic():  # a savepoint: a concurrent first write may create the row first
            Rater.objects.create(user=user)
    except IntegrityError:
        pass
    return Rater.objects.select_for_update().get(user=user)


def ratings_version(rater_id):
    """A number that changes whenever this rater's ratings change (keys the fold-in cache)."""
    return cache.get(f"ratings-version:{rater_id}", 0)


def _bump_ratings_version(rater_id):
    key = f"ratings-version:{rater_id}"
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def _summary_changes(old_value, new_value):
    """The UPDATE assignments that move a book's summary from one rating of it to another."""
    changes = {}
    count_delta = (new_value is not None) - (old_value is not None)
    if count_delta:
        changes["ratings_count"] = Greatest(F("ratings_count") + count_delta, 0)
    for stars in VALID_VALUES:
        delta = (new_value == stars) - (old_value == stars)
        if delta:
            changes[f"ratings_{stars}"] = Greatest(F(f"ratings_{stars}") + delta, 0)
    return changes


def _summary_delta(book_id, old_value, new_value):
    """Apply one rating change to a book's summary in a single UPDATE (safe under concurrency)."""
    changes = _summary_changes(old_value, new_value)
    if changes:
        Book.objects.filter(pk=book_id).update(**changes)
        _refresh_averages(Book.objects.filter(pk=book_id))


def _refresh_averages(books):
    total = F("ratings_1") + 2 * F("ratings_2") + 3 * F("ratings_3") + 4 * F("ratings_4") + 5 * F("ratings_5")
    books.update(
        average_rating=Case(
            When(ratings_count=0, then=Value(0.0)),
            default=total * 1.0 / F("ratings_count"),
        ),
        bayesian_rating=(total + BAYES_PRIOR_COUNT * BAYES_PRIOR_MEAN) * 1.0 / (F("ratings_count") + BAYES_PRIOR_COUNT),
    )


def put_rated_on_read(user, book_ids):
    """Rated books go on Read, as on Goodreads: from another shelf they move (keeping their dates and count),
    otherwise they are added without a finish date, read once."""
    book_ids = sorted(set(book_ids))
    for batch in in_batches(book_ids):
        ShelfEntry.objects.filter(user=user, book_id__in=batch).exclude(shelf=Shelf.READ).update(
            shelf=Shelf.READ, read_count=Greatest(F("read_count"), 1)
        )
    ShelfEntry.objects.bulk_create(
        [ShelfEntry(user=user, book_id=book_id, shelf=Shelf.READ, read_count=1) for book_id in book_ids],
        ignore_conflicts=True,
    )


@transaction.atomic
def set_rating(user, book, value):
    """Rate a book 1–5 for a site reader, replacing any earlier rating, and put it on Read. Returns the Rating."""
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("A rating is a whole number of stars from 1 to 5.")  # half stars: datasets only
    value = int(value)
    if value not in VALID_VALUES:
        raise ValueError("A rating is a whole number of stars from 1 to 5.")
    rater = rater_for(user)
    put_rated_on_read(user, [book.pk])
    rating = Rating.objects.select_for_update().filter(rater=rater, book=book).first()
    old_value = rating.value if rating else None
    if rating is None:
        rating = Rating.objects.create(rater=rater, book=book, value=value)
    elif rating.value != value:
        rating.value = value
        rating.save(update_fields=["value", "updated"])
    else:
        return rating
    _summary_delta(book.pk, old_value, value)
    transaction.on_commit(lambda: _bump_ratings_version(rater.pk))
    return rating


@transaction.atomic
def remove_rating(user, book):
    """Remove a reader's rating of a book. Returns True if there was one."""
    rater = rater_for(user, create=False)
    if rater is None:
        return False
    rating = Rating.objects.select_for_update().filter(rater=rater, book=book).first()
    if rating is None:
        return False
    old_value = rating.value
    rating.delete()
    _summary_delta(book.pk, old_value, None)
    transaction.on_commit(lambda: _bump_ratings_version(rater.pk))
    return True


@transaction.atomic
def remove_all_ratings(user):
    """Delete every rating of a site reader (account deletion). Returns the ids of the books rated.

    Each book's summary moves by the deltas remove_rating would apply, one UPDATE per star value;
    a recount instead could overwrite another reader's rating committed meanwhile (on PostgreSQL
    its subquery reads the statement's snapshot).
    """
    rater = rater_for(user, create=False)
    if rater is None:
        return set()
    books_by_stars = defaultdict(list)
    for book_id, stars in Rating.objects.select_for_update().filter(rater=rater).values_list("book_id", "value"):
        books_by_stars[stars].append(book_id)
    Rating.objects.filter(rater=rater).delete()
    for stars, book_ids in books_by_stars.items():
        for batch in in_batches(book_ids):
            Book.objects.filter(pk__in=batch).update(**_summary_changes(stars, None))
    rated = {book_id for book_ids in books_by_stars.values() for book_id in book_ids}
    for batch in in_batches(rated):
        _refresh_averages(Book.objects.filter(pk__in=batch))
    transaction.on_commit(lambda: _bump_ratings_version(rater.pk))
    return rated


@transaction.atomic
def set_ratings(user, stars_by_book):
    """Rate many books at once for a site reader ({book_id: stars}), replacing earlier ratings.

    The bulk form of set_rating, for imports. Queries don't grow with the number of books: new
    ratings go in with bulk_create, changed ones with one UPDATE per star value, and each book's
    summary moves by the same deltas set_rating applies, one UPDATE per kind of change (none→n or
    m→n stars, at most 25), rather than by recounting the ratings table. The rater's ratings version
    is bumped once, on commit. Returns the ids of the books whose rating was added or changed.
    """
    wanted = {}
    for book_id, value in stars_by_book.items():
        value = int(value)
        if value not in VALID_VALUES:
            raise ValueError("A rating is a whole number of stars from 1 to 5.")
        wanted[int(book_id)] = value
    if not wanted:
        return set()
    rater = rater_for(user)
    current = {}
    for batch in in_batches(wanted):
        # Locked as in set_rating (against the admin and merges, which don't take the rater's lock),
        # so the summary deltas start from the values they replace.
        ratings = Rating.objects.select_for_update().filter(rater=rater, book_id__in=batch)
        current.update(ratings.values_list("book_id", "value"))
    # book id → (stars before or None, stars now), for the books whose rating this changes
    changes = {book: (current.get(book), stars) for book, stars in wanted.items() if current.get(book) != stars}
    if not changes:
        return set()
    Rating.objects.bulk_create(
        [Rating(rater=rater, book_id=book_id, value=new) for book_id, (old, new) in changes.items() if old is None]
    )
    now = timezone.now()  # update() skips auto_now, and ratings_fingerprint reads `updated`
    for stars in VALID_VALUES:
        book_ids = [book_id for book_id, (old, new) in changes.items() if old is not None and new == stars]
        for batch in in_batches(book_ids):
            Rating.objects.filter(rater=rater, book_id__in=batch).update(value=stars, updated=now)
    by_change = defaultdict(list)
    for book_id, change in changes.items():
        by_change[change].append(book_id)
    for (old, new), book_ids in by_change.items():
        for batch in in_batches(book_ids):
            Book.objects.filter(pk__in=batch).update(**_summary_changes(old, new))
    for batch in in_batches(changes):
        _refresh_averages(Book.objects.filter(pk__in=batch))
    transaction.on_commit(lambda: _bump_ratings_version(rater.pk))
    return set(changes)


@transaction.atomic
def refresh_rating_summaries(book_ids=None):
    """Recount rating summaries from the ratings table, for all books or the given ones.

    Used after bulk writes (dataset imports, demo data, merging books), where the
    per-rating delta of set_rating would be one UPDATE per row. On PostgreSQL the books
    are locked before counting: a site rating that commits while the recount runs
    either is counted, or its delta waits and lands on top of the new count; without
    the lock the recount could write a count taken before that rating committed.
    """
    if book_ids is not None:
        book_ids = sorted({int(pk) for pk in book_ids})
        if not book_ids:
            return 0
    if connection.vendor == "postgresql":
        return _refresh_summaries_postgres(book_ids)
    books = Book.objects.all() if book_ids is None else Book.objects.filter(pk__in=book_ids)

    def count(**filters):
        ratings = Rating.objects.filter(book=OuterRef("pk"), **filters).order_by().values("book")
        return Coalesce(Subquery(ratings.annotate(n=Count("id")).values("n")), 0)

    updated = books.update(ratings_count=count(), **{f"ratings_{stars}": count(value=stars) for stars in VALID_VALUES})
    _refresh_averages(books)
    return updated


def _refresh_summaries_postgres(book_ids):
    book_table = Book._meta.db_table
    rating_table = Rating._meta.db_table
    with connection.cursor() as cursor:
        # The books' rows, in id order: a rating's summary delta (a row update) waits until this transaction
        # ends, and the lock waits for deltas in flight. NO KEY: new ratings' foreign-key checks do not wait.
        if book_ids is None:
            cursor.execute(f"SELECT id FROM {book_table} ORDER BY id FOR NO KEY UPDATE")
            books_where = ratings_where = ""
            params = []
        else:
            cursor.execute(f"SELECT id FROM {book_table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [book_ids])
            books_where, ratings_where = "AND b.id = ANY(%s)", "WHERE book_id = ANY(%s)"
            params = [book_ids, book_ids]  # the subquery's, then the outer WHERE's
        # a new statement, so a new snapshot: every rating committed before the lock was granted is counted
        cursor.execute(
            f"""
            UPDATE {book_table} AS b SET
                ratings_count = COALESCE(s.n, 0),
                ratings_1 = COALESCE(s.s1, 0), ratings_2 = COALESCE(s.s2, 0), ratings_3 = COALESCE(s.s3, 0),
                ratings_4 = COALESCE(s.s4, 0), ratings_5 = COALESCE(s.s5, 0)
            FROM {book_table} AS b2
            LEFT JOIN (
                SELECT book_id, COUNT(*) AS n,
                       COUNT(*) FILTER (WHERE value = 1) AS s1, COUNT(*) FILTER (WHERE value = 2) AS s2,
                       COUNT(*) FILTER (WHERE value = 3) AS s3, COUNT(*) FILTER (WHERE value = 4) AS s4,
                       COUNT(*) FILTER (WHERE value = 5) AS s5
                FROM {rating_table} {ratings_where} GROUP BY book_id
            ) AS s ON s.book_id = b2.id
            WHERE b.id = b2.id {books_where}
            """,
            params,
        )
        updated = cursor.rowcount
    books = Book.objects.all() if book_ids is None else Book.objects.filter(pk__in=book_ids)
    _refresh_averages(books)
    return updated


def ratings_fingerprint():
    """A value that changes whenever any rating is added, changed or deleted.

    Count and latest update catch additions and changes; the id sum catches a deletion paired with an
    addition; the book id sum catches a rating moved to another book (merging duplicates). Retrain
    compares it with the active run's to skip when nothing changed.
    """
    row = Rating.objects.aggregate(n=Count("id"), latest=Max("updated"), ids=Sum("id"), books=Sum("book_id"))
    latest = row["latest"].isoformat() if row["latest"] else None
    return f"{row['n']}:{latest}:{row['ids'] or 0}:{row['books'] or 0}"
