"""Merging duplicate books: ratings and want-to-read shelves move to the kept book, then the duplicates go.

Lives in recommender (which may import catalog and accounts) so catalog models stay free of both; the
catalog admin's merge action imports it lazily.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import ShelfEntry
from catalog.models import Book

from .models import Rating
from .ratings import refresh_rating_summaries

# Book fields copied from a duplicate when the kept book has them blank.
FILLABLE_FIELDS = ["original_title", "series", "series_position", "publication_year", "isbn10", "isbn13",
                   "goodreads_book_id", "language", "cover_url", "description"]


@dataclass
class MergeResult:
    kept: Book
    merged: int = 0
    ratings_moved: int = 0
    ratings_dropped: int = 0
    shelves_moved: int = 0
    shelves_dropped: int = 0


@transaction.atomic
def merge_books(keep, duplicates):
    """Fold duplicate books into `keep`. No rating is lost or doubled.

    A reader who rated several of the books keeps one rating: the most recently updated one (on a tie, the
    kept book's). A reader who shelved several keeps one shelf entry, the earliest added.
    """
    duplicate_ids = sorted({book.pk for book in duplicates} - {keep.pk})
    result = MergeResult(kept=keep)
    if not duplicate_ids:
        return result
    all_ids = [keep.pk, *duplicate_ids]
    list(Book.objects.select_for_update().filter(pk__in=all_ids).order_by("pk").values_list("pk", flat=True))

    ratings = Rating.objects.filter(book_id__in=all_ids).values_list("id", "rater_id", "book_id", "updated")
    # The most recently updated rating wins; on a tie, the kept book's.
    winners, losers = _one_per_owner(
        ((rating_id, rater_id, book_id, (updated, book_id == keep.pk)) for rating_id, rater_id, book_id, updated in ratings),
        prefer=max,
    )
    Rating.objects.filter(pk__in=losers).delete()
    to_move = [rating_id for rating_id, book_id in winners if book_id != keep.pk]
    # A moved rating counts as changed: retrain's fingerprint moves, and serving folds its reader in
    # again rather than reusing a trained vector that knows the rating under the deleted book.
    Rating.objects.filter(pk__in=to_move).update(book_id=keep.pk, updated=timezone.now())
    result.ratings_dropped, result.ratings_moved = len(losers), len(to_move)

    entries = ShelfEntry.objects.filter(book_id__in=all_ids).values_list("id", "user_id", "book_id", "added")
    # The kept book's entry wins, then the earliest.
    shelf_winners, shelf_losers = _one_per_owner(
        ((entry_id, user_id, book_id, (book_id != keep.pk, added, entry_id)) for entry_id, user_id, book_id, added in entries),
        prefer=min,
    )
    ShelfEntry.objects.filter(pk__in=shelf_losers).delete()
    shelf_moves = [entry_id for entry_id, book_id in shelf_winners if book_id != keep.pk]
    ShelfEntry.objects.filter(pk__in=shelf_moves).update(book_id=keep.pk)
    result.shelves_dropped, result.shelves_moved = len(shelf_losers), len(shelf_moves)

    # Keep what the duplicates knew that the kept book doesn't: blank fields, genres and authors.
    keep.refresh_from_db()
    dupes = list(Book.objects.filter(pk__in=duplicate_ids).prefetch_related("genres", "bookauthor_set"))
    fills = {}
    for name in FILLABLE_FIELDS:
        if getattr(keep, name) in ("", None):
            value = next((getattr(d, name) for d in dupes if getattr(d, name) not in ("", None)), None)
            if value is not None:
                fills[name] = value
    genre_ids = {genre.pk for d in dupes for genre in d.genres.all()}
    author_ids = [link.author_id for d in dupes for link in d.bookauthor_set.all()]
    Book.objects.filter(pk__in=duplicate_ids).delete()  # their embeddings and links go with them

    for name, value in fills.items():
        setattr(keep, name, value)
    keep.genres.add(*genre_ids)
    known = set(keep.bookauthor_set.values_list("author_id", flat=True))
    position = len(known)
    for author_id in dict.fromkeys(author_ids):
        if author_id not in known:
            keep.bookauthor_set.create(author_id=author_id, position=position)
            position += 1
    keep.save()  # also rebuilds search_text with the authors
    refresh_rating_summaries([keep.pk])
    result.merged = len(duplicate_ids)
    return result


def _one_per_owner(rows, prefer):
    """Keep one row per owner from (id, owner, book id, rank) rows: the one ``prefer`` (max or min) picks.

    On equal ranks the first row stays. Returns ([(id, book id) kept], [ids dropped]).
    """
    rows = list(rows)
    best = {}
    for row_id, owner, book_id, rank in rows:
        current = best.get(owner)
        if current is None or (rank != current[0] and prefer(rank, current[0]) == rank):
            best[owner] = (rank, row_id, book_id)
    kept = [(row_id, book_id) for _, row_id, book_id in best.values()]
    kept_ids = {row_id for row_id, _ in kept}
    return kept, [row_id for row_id, _, _, _ in rows if row_id not in kept_ids]
