"""A reader's state for the books a page shows: their rating and which shelf each book is on."""

from .models import Rating, ShelfEntry


def reader_book_state(user, books):
    """{book_id: {"rating": stars or None, "shelf": "to-read" / "currently-reading" / "read" or None,
    "shelved": on any shelf}} for the given books, in two queries."""
    book_ids = [book.pk for book in books]
    state = {book_id: {"rating": None, "shelf": None, "shelved": False} for book_id in book_ids}
    if not user.is_authenticated or not book_ids:
        return state
    for book_id, value in Rating.objects.filter(rater__user=user, book_id__in=book_ids).values_list("book_id", "value"):
        state[book_id]["rating"] = value
    shelves = ShelfEntry.objects.filter(user=user, book_id__in=book_ids).values_list("book_id", "shelf")
    for book_id, shelf in shelves:
        state[book_id]["shelf"] = shelf
        state[book_id]["shelved"] = True
    return state


def rated_count(user):
    """How many books a signed-in reader has rated (one query)."""
    return Rating.objects.filter(rater__user=user).count()
