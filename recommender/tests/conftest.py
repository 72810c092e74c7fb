"""Recommender fixtures: a tiny catalog with two genres and dataset readers with genre-shaped tastes."""

import io
import random
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import Rater, Rating
from accounts.ratings import refresh_rating_summaries
from catalog.models import Book, Genre
from recommender import serving

# Small and quick: enough for the model to separate two tastes in a fraction of a second.
FAST_TRAINING = ["--factors", "4", "--epochs", "6", "--seed", "1", "--validation-fraction", "0.2"]


@dataclass
class TasteCatalog:
    fantasy: list
    mystery: list
    genres: dict

    @property
    def books(self):
        return self.fantasy + self.mystery


@pytest.fixture(autouse=True)
def fresh_serving_state():
    """Each test starts with no model loaded in this process and an empty cache."""
    cache.clear()
    serving.forget_model()
    yield
    serving.forget_model()
    cache.clear()


def add_dataset_ratings(books_liked, books_disliked, raters, rng, liked_count=10, disliked_count=2):
    rows = []
    for rater in raters:
        for book in rng.sample(books_liked, liked_count):
            rows.append(Rating(rater=rater, book=book, value=rng.choice([4, 5, 5])))
        for book in rng.sample(books_disliked, disliked_count):
            rows.append(Rating(rater=rater, book=book, value=rng.choice([1, 2, 3])))
    Rating.objects.bulk_create(rows)


@pytest.fixture
def taste_catalog(db):
    """2 genres × 15 books; 30 readers who love fantasy, 30 who love mysteries."""
    rng = random.Random(7)
    fantasy_genre = Genre.objects.create(name="Fantasy", slug="fantasy")
    mystery_genre = Genre.objects.create(name="Mystery", slug="mystery")
    fantasy = Book.objects.bulk_create([Book(title=f"Dragon Tale {n}") for n in range(15)])
    mystery = Book.objects.bulk_create([Book(title=f"Murder Case {n}") for n in range(15)])
    for book in fantasy:
        book.genres.add(fantasy_genre)
    for book in mystery:
        book.genres.add(mystery_genre)
    raters = Rater.objects.bulk_create(
        [Rater(source="goodbooks", external_id=str(n)) for n in range(60)]
    )
    add_dataset_ratings(fantasy, mystery, raters[:30], rng)
    add_dataset_ratings(mystery, fantasy, raters[30:], rng)
    refresh_rating_summaries()
    return TasteCatalog(fantasy=fantasy, mystery=mystery, genres={"fantasy": fantasy_genre, "mystery": mystery_genre})


@pytest.fixture
def trained(taste_catalog):
    """The taste catalog with an active model trained on it."""
    call_command("retrain", *FAST_TRAINING, stdout=io.StringIO())
    return taste_catalog
