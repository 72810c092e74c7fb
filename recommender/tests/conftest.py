"""Recommender fixtures: a tiny catalog with two genres and dataset readers with genre-shaped tastes."""

import io
import random
import threading
import time
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction

from catalog.models import Book, Genre
from recommender import serving
from recommender.models import Rater, Rating
from recommender.ratings import refresh_rating_summaries

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


def wait_until_a_session_waits_on_a_lock(timeout=10):
    """Block until another session of this test database is waiting for a lock (PostgreSQL)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def contend_with_open_transaction(hold, contender, timeout=10):
    """Run ``hold`` in a transaction kept open until ``contender`` (on another thread) waits for a lock.

    Both run on their own threads and database connections (PostgreSQL, transactional tests). Returns
    (whether the contender was seen waiting, the contender's results: [its return value] if it finished).
    """
    held, release, results = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(timeout)
        finally:
            connection.close()

    def other():
        try:
            held.wait(timeout)
            results.append(contender())
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    waited = held.wait(timeout) and wait_until_a_session_waits_on_a_lock(timeout)
    release.set()
    for thread in threads:
        thread.join(2 * timeout)
    return waited, results
