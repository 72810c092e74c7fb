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
    list(Book.objects.select_for_update().filter(pk__in=all_ids).values_list("pk", flat=True))

    winners, losers = {}, []
    ratings = Rating.objects.filter(book_id__in=all_ids).values_list("id", "rater_id", "book_id", "updated")
    for rating_id, rater_id, book_id, updated in ratings:
        rank = (updated, book_id == keep.pk)
        best = winners.get(rater_id)
        if best is None or rank > best[0]:
            if best is not None:
                losers.append(best[1])
            winners[rater_id] = (rank, rating_id, book_id)
        else:
            losers.append(rating_id)
    Rating.objects.filter(pk__in=losers).delete()
    to_move = [rating_id for _, rating_id, book_id in winners.values() if book_id != keep.pk]
    # A moved rating counts as changed: retrain's fingerprint moves, and serving folds its reader in
    # again rather than reusing a trained vector that knows the rating under the deleted book.
    Rating.objects.filter(pk__in=to_move).update(book_id=keep.pk, updated=timezone.now())
    result.ratings_dropped, result.ratings_moved = len(losers), len(to_move)

    shelf_winners, shelf_losers = {}, []
    entries = ShelfEntry.objects.filter(book_id__in=all_ids).values_list("id", "user_id", "book_id", "added")
    for entry_id, user_id, book_id, added in entries:
        rank = (book_id != keep.pk, added, entry_id)  # the kept book's entry first, then the earliest
        best = shelf_winners.get(user_id)
        if best is None or rank < best[0]:
            if best is not None:
                shelf_losers.append(best[1])
            shelf_winners[user_id] = (rank, entry_id, book_id)
        else:
            shelf_losers.append(entry_id)
    ShelfEntry.objects.filter(pk__in=shelf_losers).delete()
    shelf_moves = [entry_id for _, entry_id, book_id in shelf_winners.values() if book_id != keep.pk]
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
