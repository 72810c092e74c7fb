"""What other apps ask the recommender for: one small function per list a page shows."""

from dataclasses import dataclass

from catalog.models import Book


@dataclass
class Recommendation:
    book: Book
    reason: str = ""
    predicted_stars: float | None = None


def popular_books(limit=12, genre=None, exclude_ids=()):
    """Cold start: books ranked by their Bayesian average rating, hidden books excluded."""
    books = Book.objects.recommendable().exclude(pk__in=list(exclude_ids)).order_by("-bayesian_rating", "id")
    if genre is not None:
        books = books.filter(genres=genre)
    reason = f"Popular in {genre.name}" if genre is not None else "Popular with readers"
    return [Recommendation(book, reason) for book in books.with_list_data()[:limit]]


def recommendations_for(user, limit=12, offset=0):
    """A reader's top picks, best first. (Placeholder until the trained model serves them.)"""
    return popular_books(limit=limit)


def similar_books(book, limit=8):
    """"Readers who liked this also liked". (Placeholder until the trained model serves them.)"""
    return []
