"""What other apps ask the recommender for: one small function per list a page shows."""

from collections import Counter
from dataclasses import dataclass

from catalog.models import Book, Genre

from . import serving


@dataclass
class Recommendation:
    book: Book
    reason: str = ""
    predicted_stars: float | None = None
    because: Book | None = None  # the reader's liked book that explains a personal pick


def popular_books(limit=12, genre=None, exclude_ids=()):
    """Cold start: books ranked by their Bayesian average rating, hidden books excluded."""
    books = Book.objects.recommendable().exclude(pk__in=list(exclude_ids)).order_by("-bayesian_rating", "id")
    if genre is not None:
        books = books.filter(genres=genre)
    books = books.with_list_data().prefetch_related("genres")[:limit]
    if genre is not None:
        return [Recommendation(book, f"Popular in {genre.name}") for book in books]
    return [Recommendation(book, _popular_reason(book)) for book in books]


def recommendations_for(user, limit=12, offset=0):
    """A reader's top picks, best first: personal when the model knows their taste, else popular."""
    ranking = serving.personal_ranking(user, offset + limit) if user.is_authenticated else None
    if ranking is None:
        ratings = serving.ReaderRatings.of(user)
        return popular_for_reader(ratings, limit=limit, offset=offset)
    return describe_ranking(ranking, ranking.book_ids[offset : offset + limit])


def similar_books(book, limit=8):
    """"Readers who liked this also liked": embedding neighbours, or popular books of its genre."""
    ids = serving.similar_book_ids(book.pk, limit)
    if ids is None:
        genre = book.genres.order_by("name").first()
        return popular_books(limit=limit, genre=genre, exclude_ids=[book.pk])
    books = _books_in_order(ids)
    return [Recommendation(other, f"Readers of {book.title} liked it") for other in books]


def describe_ranking(ranking, page_ids):
    """Recommendations for one page of a personal ranking: books, predicted stars and reasons."""
    stars = ranking.predicted_stars(page_ids)
    behind = ranking.liked_book_behind(page_ids)
    books = {book.pk: book for book in _books_in_order(list(page_ids) + list(set(behind.values())))}
    picks = []
    for book_id in page_ids:
        if book_id not in books:
            continue
        liked = books.get(behind.get(book_id))
        reason = f"Because you liked {liked.title}" if liked is not None else "Matches the books you rated"
        picks.append(Recommendation(books[book_id], reason, stars.get(book_id), because=liked))
    return picks


def popular_for_reader(ratings, limit=12, offset=0):
    """Cold start for a reader: popular books in the genres they liked, then popular books overall."""
    rated = [int(book_id) for book_id in ratings.book_ids]
    liked = [int(book_id) for book_id, value in zip(ratings.book_ids, ratings.values, strict=True) if value >= serving.LIKED_STARS]
    genre_counts = Counter(Book.genres.through.objects.filter(book_id__in=liked).values_list("genre_id", flat=True))
    favourites = list(Genre.objects.filter(pk__in=[genre_id for genre_id, _ in genre_counts.most_common(3)]))
    favourites.sort(key=lambda genre: -genre_counts[genre.pk])
    picks = []
    for genre in favourites:
        picks += popular_books(limit=offset + limit, genre=genre, exclude_ids=rated + [pick.book.pk for pick in picks])
    if len(picks) < offset + limit:
        picks += popular_books(limit=offset + limit - len(picks), exclude_ids=rated + [pick.book.pk for pick in picks])
    return picks[offset : offset + limit]


def _books_in_order(ids):
    """Books for ids in one query (plus list-data prefetches), in the order of ids."""
    # The card shows neither the description nor the search text, the two long columns.
    by_pk = Book.objects.defer("description", "search_text").with_list_data().in_bulk(ids)
    return [by_pk[book_id] for book_id in ids if book_id in by_pk]


def _popular_reason(book):
    genres = sorted(book.genres.all(), key=lambda genre: genre.name)
    return f"Popular in {genres[0].name}" if genres else "Popular with readers"
