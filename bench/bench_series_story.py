"""Issue 11's story on real data: a new reader rates every single volume of one series 5 stars; what does For you show?

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_series .venv/bin/python bench/bench_series_story.py \
        [--series "A Song of Ice and Fire"] [--top 20]

Needs goodbooks-10k imported (manage.py import_goodbooks) and an active model (manage.py retrain). Prints,
for the model's own top N and for the first N picks of For you (after recommender/series.py): how many are
later volumes of a series the reader has not started ("cold sequels"), how many are omnibus editions, how
many are first volumes of another series, and the most volumes of one series.
"""

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

STORY_EMAIL = "series-story@bookrec.example"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", default="A Song of Ice and Fire")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to the PostgreSQL database holding goodbooks-10k.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "bookrec_site.test_settings"
    import django

    django.setup()
    from bench_retrain import machine_info
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from accounts.models import Dismissal, Rating, ShelfEntry, User
    from accounts.ratings import set_rating
    from catalog.models import Book
    from catalog.series import Volume, series_volumes
    from recommender import serving

    if serving.active_model() is None:
        sys.exit("No active model: run manage.py retrain first.")
    volumes = [volume for volume in series_volumes([args.series])[args.series] if not volume.is_omnibus and volume.span]
    if not volumes:
        sys.exit(f"No numbered single volumes of {args.series!r} in the catalog.")
    user = User.objects.filter(email=STORY_EMAIL).first() or User.objects.create_user(email=STORY_EMAIL)
    Rating.objects.filter(rater__user=user).delete()
    Dismissal.objects.filter(user=user).delete()
    ShelfEntry.objects.filter(user=user).delete()
    for volume in volumes:
        set_rating(user, Book.objects.get(pk=volume.pk), 5)
    cache.clear()
    print(f"Machine: {machine_info()}")
    print(f"Reader rated {len(volumes)} volumes of {args.series} 5 stars: {', '.join(v.title for v in volumes)}")

    def describe(label, book_ids):
        books = Book.objects.in_bulk(book_ids)
        picks = [Volume.of(books[pk]) for pk in book_ids if pk in books]
        named = [volume for volume in picks if volume.series and volume.series != args.series]
        by_series = series_volumes({volume.series for volume in named})
        cold = [
            volume.title
            for volume in named
            if not volume.is_omnibus
            and any(other.span and 1 <= other.start < volume.start for other in by_series[volume.series])
        ]
        omnibus = [volume.title for volume in named if volume.is_omnibus]
        firsts = [volume.title for volume in named if volume.span and volume.start == 1 and not volume.is_omnibus]
        most = max(Counter(volume.series for volume in picks if volume.series).values(), default=0)
        print(f"{label}: {len(cold)} cold sequels, {len(omnibus)} omnibus editions, {len(firsts)} first volumes of "
              f"other series, at most {most} volumes of one series")
        for title in cold:
            print(f"    cold sequel: {title}")

    ranking = serving.personal_ranking(user, args.top)
    describe(f"Model's own top {args.top}", ranking.book_ids)
    setup_test_environment()  # the test client then keeps each response's template context
    client = Client()
    client.force_login(user)
    response = client.get(reverse("recommender:for_you"))
    shown = [pick.book.pk for pick, _ in response.context["picks"]][: args.top]
    describe(f"For you, first {args.top} picks", shown)
    print("For you's picks:", "; ".join(pick.book.title for pick, _ in response.context["picks"][: args.top]))


if __name__ == "__main__":
    main()
