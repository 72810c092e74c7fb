"""Time a big reader's library pages: /my-books/stats/ and a book page with many reviews, and send_digests per reader.

Not a test. Builds its own data in the database it is given (a scratch one: it creates books, readers,
ratings, reviews and a trained-free popular fallback), then times each page with the test Client:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_reviews_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_reviews_bench .venv/bin/python bench/bench_library_pages.py
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.test_settings")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=3000, help="books the big reader has read")
    parser.add_argument("--reviews", type=int, default=500, help="reviews of the one reviewed book")
    parser.add_argument("--subscribers", type=int, default=50, help="readers who get a digest")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import Rater, Rating, Review, User
    from accounts.ratings import refresh_rating_summaries
    from catalog.models import Author, Book, BookAuthor, Genre

    rng = random.Random(1)
    tag = f"bench-{int(time.time())}"
    genres = [Genre.objects.get_or_create(slug=f"{tag}-g{n}", defaults={"name": f"{tag} genre {n}"})[0] for n in range(30)]
    authors = Author.objects.bulk_create([Author(name=f"{tag} author {n}", slug=f"{tag}-a{n}") for n in range(400)])
    books = Book.objects.bulk_create(
        [Book(title=f"{tag} book {n}", pages=rng.randint(80, 900)) for n in range(args.books + 100)]
    )
    BookAuthor.objects.bulk_create([BookAuthor(book=b, author=rng.choice(authors), position=0) for b in books])
    Book.genres.through.objects.bulk_create(
        [Book.genres.through(book_id=b.pk, genre_id=g.pk) for b in books for g in rng.sample(genres, 3)]
    )
    reader = User.objects.create_user(email=f"{tag}@example.com", password="bench-password-123")
    rater = Rater.objects.create(user=reader)
    Rating.objects.bulk_create([Rating(rater=rater, book=b, value=rng.randint(1, 5)) for b in books[: args.books]])
    # Spread the read dates over ten years.
    start = datetime.datetime(2016, 1, 1, tzinfo=datetime.UTC)
    for rating in Rating.objects.filter(rater=rater):
        rating.created = start + datetime.timedelta(days=rng.randint(0, 3650))
        Rating.objects.filter(pk=rating.pk).update(created=rating.created)
    reviewed = books[-1]
    writers = User.objects.bulk_create(
        [User(email=f"{tag}-w{n}@example.com", display_name=f"W{n}") for n in range(args.reviews)]
    )
    Review.objects.bulk_create([Review(user=w, book=reviewed, text="A review. " * 40) for w in writers])
    subscribers = User.objects.bulk_create(
        [User(email=f"{tag}-s{n}@example.com", digest_frequency="weekly") for n in range(args.subscribers)]
    )
    refresh_rating_summaries()

    client = Client()
    client.force_login(reader)

    def timed(url):
        client.get(url)
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append(time.perf_counter() - t)
        return min(times), statistics.median(times)

    load = os.getloadavg()
    print(f"{connection.vendor}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs")
    best, median = timed("/my-books/stats/")
    print(f"/my-books/stats/ with {args.books} books read: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms")
    best, median = timed(reviewed.get_absolute_url())
    print(f"book page with {args.reviews} reviews: best {best * 1000:.0f} ms, median {median * 1000:.0f} ms")
    t = time.perf_counter()
    call_command("send_digests", "--frequency", "weekly", stdout=open(os.devnull, "w"))
    seconds = time.perf_counter() - t
    print(f"send_digests, {len(subscribers)} subscribers (popular fallback, locmem mail): {seconds:.2f} s, "
          f"{seconds / len(subscribers) * 1000:.0f} ms per reader")


if __name__ == "__main__":
    main()
