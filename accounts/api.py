"""What catalog pages ask about readers: a reader's state for the books a page shows (rating and shelf), and a
book's reviews."""

from .forms import ReviewForm
from .models import Rating, Review, ShelfEntry

REVIEWS_ON_BOOK_PAGE = 20


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


def book_reviews(book, user, limit=REVIEWS_ON_BOOK_PAGE):
    """{"own": the reader's review or None, "others": shown reviews of other readers (newest first), "count": n,
    "form": an empty review form when a signed-in reader has not reviewed the book}.

    Hidden reviews are left out, except that a writer still sees their own (with a note on the page).
    """
    own = None
    shown = Review.objects.filter(book=book, hidden=False)
    if user.is_authenticated:
        own = Review.objects.filter(book=book, user=user).first()
        shown = shown.exclude(user=user)
    others = list(shown.select_related("user").order_by("-created", "-id")[:limit])
    count = len(others) if len(others) < limit else shown.count()
    form = ReviewForm() if user.is_authenticated and own is None else None
    return {"own": own, "others": others, "count": count, "form": form}
