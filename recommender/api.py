"""What other apps ask the recommender for: one small function per list a page shows."""

from collections import Counter
from dataclasses import dataclass

from accounts.models import Dismissal, Rating, Shelf, ShelfEntry
from catalog.models import Book, Genre

from . import serving
from .series import ReaderBooks, continue_series, paged, prefer_single_volumes, series_aware


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
    """A reader's top picks, best first: personal when the model knows their taste, else popular.

    The series rules and the reader's own books apply as on For you (see for_you_picks).
    """
    ratings = serving.ReaderRatings.of(user)
    reader = reader_books(user, ratings)
    ranking, ids, popular, _ = for_you_picks(user, ratings, reader, offset + limit, page_size=offset + limit)
    page_ids = ids[offset : offset + limit]
    return describe_ranking(ranking, page_ids) if ranking is not None else describe_popular(popular, page_ids)


def reader_books(user, ratings):
    """The reader's rated, shelved (and of those read) and dismissed books (one query beyond their ratings)."""
    if not user.is_authenticated:
        return ReaderBooks()
    shelves = dict(ShelfEntry.objects.filter(user=user).values_list("book_id", "shelf"))
    rated = {int(book_id): float(value) for book_id, value in zip(ratings.book_ids, ratings.values, strict=True)}
    return ReaderBooks(
        rated=rated,
        shelved=set(shelves),
        dismissed={int(book_id) for book_id in ratings.dismissed_ids},
        read={book_id for book_id, shelf in shelves.items() if shelf == Shelf.READ},
    )


def for_you_picks(user, ratings, reader, depth, page_size):
    """(ranking or None, the ordered ids For you shows, popular picks by id when there is no ranking, and the
    series volumes looked up on the way, which continue_your_series reuses).

    The model's (or the popular) ranking with the reader's own books left out, cold sequels swapped for
    first volumes and omnibuses pruned (recommender/series.py), arranged so that each page of
    ``page_size`` holds at most two volumes of a series.
    """
    # The ranking leaves the reader's own books out itself; deeper than shown because a series may give
    # several places to one first volume.
    deeper = depth + depth // 2
    ranking = (
        serving.personal_ranking(user, deeper, ratings=ratings, exclude_ids=reader.shelved)
        if user.is_authenticated
        else None
    )
    popular = {}
    if ranking is None:
        popular = {pick.book.pk: pick for pick in popular_for_reader(ratings, limit=deeper, exclude_ids=reader.excluded)}
    ids, volumes = series_aware(ranking.book_ids if ranking is not None else list(popular), reader)
    return ranking, paged(ids[:depth], volumes, page_size), popular, volumes


def describe_popular(popular, page_ids):
    """Popular picks for page_ids; a first volume put in by the series rules says which series it starts."""
    missing = [book_id for book_id in page_ids if book_id not in popular]
    extra = {book.pk: book for book in _books_in_order(missing)}
    picks = []
    for book_id in page_ids:
        if book_id in popular:
            picks.append(popular[book_id])
        elif book_id in extra:
            book = extra[book_id]
            picks.append(Recommendation(book, f"The first book of {book.series}" if book.series else "Popular with readers"))
    return picks


def continue_your_series(reader, limit=12, known=None):
    """"Continue your series": the next unread volume of each series the reader rated 4 stars or more.

    ``known``: the volumes for_you_picks returned, to save two queries.
    """
    books = _books_in_order(continue_series(reader, limit=limit, known=known))
    return [Recommendation(book, f"Book {book.series_position} of {book.series}") for book in books]


def want_to_read(user, limit=12):
    """The reader's want-to-read shelf, newest first: kept out of For you's picks and shown as its own row.

    A book the reader rated is left out: they have read it, though a Goodreads import can leave it on to-read.
    So is a book they marked "Not interested" since.
    """
    entries = (
        ShelfEntry.objects.filter(user=user, shelf=Shelf.TO_READ)
        .exclude(book__in=Rating.objects.filter(rater__user=user).values("book"))
        .exclude(book__in=Dismissal.objects.filter(user=user).values("book"))  # "not interested" wins everywhere
    )
    ids = list(entries.order_by("-added", "-id").values_list("book_id", flat=True)[:limit])
    return [Recommendation(book, "On your want-to-read shelf") for book in _books_in_order(ids)]


def similar_books(book, limit=8, user=None):
    """"Readers who liked this also liked": embedding neighbours, or popular books of its genre.

    A signed-in reader's dismissed books are left out. Each card says what it shares with the book.
    """
    dismissed = []
    if user is not None and user.is_authenticated:
        dismissed = list(user.dismissals.values_list("book_id", flat=True))
    ids = serving.similar_book_ids(book.pk, limit, exclude_ids=dismissed)
    if ids is None:
        genre = book.genres.order_by("name").first()
        return popular_books(limit=limit, genre=genre, exclude_ids=[book.pk, *dismissed])
    books = _books_in_order(ids)
    genres = {genre.pk: genre.name for genre in book.genres.all()}
    shared_genres = _genres_of([other.pk for other in books], genres)
    authors = set(book.author_list)
    return [
        Recommendation(other, similar_reason(book, authors, other, shared_genres.get(other.pk, []))) for other in books
    ]


def similar_reason(book, authors, other, shared_genres):
    """What ties ``other`` to ``book`` (whose author names are ``authors``): the same series, a shared author,
    a shared genre, or else its readers."""
    if book.series and other.series == book.series:
        return f"Book {other.series_position} of {other.series}" if other.series_position else f"Also in {other.series}"
    shared_authors = [name for name in other.author_list if name in authors]
    if shared_authors:
        return f"Also by {shared_authors[0]}"
    if shared_genres:
        return f"{sorted(shared_genres)[0]}, like {book.title}"
    return f"Readers of {book.title} liked it"


def _genres_of(book_ids, genre_names):
    """{book id: names of its genres among genre_names} in one query."""
    shared = {}
    rows = Book.genres.through.objects.filter(book_id__in=book_ids, genre_id__in=list(genre_names))
    for book_id, genre_id in rows.values_list("book_id", "genre_id"):
        shared.setdefault(book_id, []).append(genre_names[genre_id])
    return shared


def describe_ranking(ranking, page_ids):
    """Recommendations for one page of a personal ranking: books, predicted stars and reasons."""
    stars = ranking.predicted_stars(page_ids)
    behind = ranking.liked_book_behind(page_ids)
    books = {book.pk: book for book in _books_in_order(list(page_ids) + list(set(behind.values())))}
    behind = prefer_single_volumes(ranking, behind, books)
    books.update({book.pk: book for book in _books_in_order([pk for pk in set(behind.values()) if pk not in books])})
    picks = []
    for book_id in page_ids:
        if book_id not in books:
            continue
        liked = books.get(behind.get(book_id))
        reason = f"Because you liked {liked.title}" if liked is not None else "Matches the books you rated"
        picks.append(Recommendation(books[book_id], reason, stars.get(book_id), because=liked))
    return picks


def popular_for_reader(ratings, limit=12, offset=0, exclude_ids=()):
    """Cold start for a reader: popular books in the genres they liked, then popular books overall."""
    rated = [int(book_id) for book_id in ratings.book_ids] + [int(book_id) for book_id in exclude_ids]
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
