"""What a book merge does to what readers own: which rating, shelf entry or review survives when a reader had both books."""

from django.utils import timezone

from .models import Rating, Review, ShelfEntry
from .ratings import refresh_rating_summaries


def latest_rating_wins(rating, keep_id):
    # The reader's most recent opinion; on a tie, the one already on the kept book.
    return (rating.updated, rating.book_id == keep_id)


def ratings_moved(keep, moved_ids):
    # A moved rating counts as changed: retrain's fingerprint moves, and serving folds its reader in
    # again rather than reusing a trained vector that knows the rating under the deleted book.
    Rating.objects.filter(pk__in=moved_ids).update(updated=timezone.now())
    refresh_rating_summaries([keep.pk])


def kept_then_earliest_shelf_entry(entry, keep_id):
    return (entry.book_id == keep_id, -entry.added.timestamp(), -entry.pk)


def latest_review_wins(review, keep_id):
    # A reader who reviewed both editions keeps the review they wrote or edited last.
    return (review.updated, review.book_id == keep_id)


def register():
    from catalog.merge import register_merge_rule

    register_merge_rule(Rating, rank=latest_rating_wins, after=ratings_moved)
    register_merge_rule(ShelfEntry, rank=kept_then_earliest_shelf_entry)
    register_merge_rule(Review, rank=latest_review_wins)
