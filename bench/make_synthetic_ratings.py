"""Generate goodbooks-10k-shaped synthetic data (books, genres, 6M ratings) for the recommender benchmarks.

    .venv/bin/python bench/make_synthetic_ratings.py [--out bench/data/synthetic] [--users 53424] [--books 10000]
        [--ratings 5976479] [--seed 0]

Writes books.csv, tags.csv, book_tags.csv and ratings.csv in goodbooks-10k's format, ready for
`manage.py import_goodbooks bench/data/synthetic`. The data has the shape that matters to training
and serving cost and to ranking quality:
  * power-law book popularity (a few books are rated by a third of readers, most by a few hundred);
  * a skewed number of ratings per reader (lognormal, at least 10, mean about goodbooks' 112);
  * planted low-rank taste: every reader and book has a hidden 16-dimensional vector, and readers pick
    books (Gumbel top-k) by popularity plus taste, then rate them by taste plus biases, so a model
    that learns the taste beats popularity;
  * each book belongs to one of 20 genres that follow the taste directions, shelved as tags.
"""

import argparse
import time
from pathlib import Path

import numpy as np

GENRE_SHELVES = [
    "fantasy", "science-fiction", "dystopian", "young-adult", "classics", "romance", "paranormal",
    "historical-fiction", "mystery", "thriller", "crime", "horror", "non-fiction", "history", "science",
    "philosophy", "humor", "poetry", "contemporary", "literary-fiction",
]  # fmt: skip
TASTE_DIMENSIONS = 16


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "synthetic"))
    parser.add_argument("--users", type=int, default=53_424)
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=5_976_479)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()

    genres = len(GENRE_SHELVES)
    genre_centres = rng.standard_normal((genres, TASTE_DIMENSIONS))
    book_genre = rng.integers(0, genres, args.books)
    book_taste = 0.8 * genre_centres[book_genre] + 0.6 * rng.standard_normal((args.books, TASTE_DIMENSIONS))
    book_taste /= np.linalg.norm(book_taste, axis=1, keepdims=True)
    # Favourite genres: each reader leans towards one or two genre directions.
    first, second = rng.integers(0, genres, args.users), rng.integers(0, genres, args.users)
    user_taste = genre_centres[first] + 0.5 * genre_centres[second] + 0.7 * rng.standard_normal((args.users, TASTE_DIMENSIONS))
    user_taste /= np.linalg.norm(user_taste, axis=1, keepdims=True)

    popularity_rank = rng.permutation(args.books) + 1
    log_popularity = -0.75 * np.log(popularity_rank)  # Zipf-like
    book_bias = 0.35 * rng.standard_normal(args.books)
    user_bias = 0.35 * rng.standard_normal(args.users)

    per_user = rng.lognormal(mean=0.0, sigma=0.8, size=args.users)
    per_user = np.maximum(10, np.round(per_user / per_user.mean() * args.ratings / args.users)).astype(np.int64)
    per_user = np.minimum(per_user, args.books // 4)
    print(f"{args.users:,} readers, {args.books:,} books, {per_user.sum():,} ratings to draw")

    ratings_path = out / "ratings.csv"
    written = 0
    order = np.argsort(per_user)  # batches of readers with similar counts partition efficiently
    with ratings_path.open("w") as fh:
        fh.write("user_id,book_id,rating\n")
        for start in range(0, args.users, 1000):
            users = order[start : start + 1000]
            affinity = user_taste[users] @ book_taste.T  # (batch, books), cosine in [-1, 1]
            logits = log_popularity + 3.0 * affinity + rng.gumbel(size=affinity.shape)
            most = int(per_user[users].max())
            top = np.argpartition(-logits, most - 1, axis=1)[:, :most]
            top_logits = np.take_along_axis(logits, top, axis=1)
            top = np.take_along_axis(top, np.argsort(-top_logits, axis=1), axis=1)
            keep = np.arange(most)[None, :] < per_user[users][:, None]
            rows = np.repeat(users, per_user[users])
            books = top[keep]
            chosen_affinity = np.take_along_axis(affinity, top, axis=1)[keep]
            stars = 3.6 + 1.6 * chosen_affinity + user_bias[rows] + book_bias[books] + 0.6 * rng.standard_normal(len(rows))
            stars = np.clip(np.rint(stars), 1, 5).astype(np.int64)
            block = np.column_stack([rows + 1, books + 1, stars])
            np.savetxt(fh, block, fmt="%d", delimiter=",")
            written += len(block)
            if start % 10_000 == 0:
                print(f"  … {written:,} ratings ({time.perf_counter() - started:.0f} s)", flush=True)

    with (out / "books.csv").open("w") as fh:
        fh.write("book_id,goodreads_book_id,isbn,isbn13,authors,original_publication_year,original_title,title,"
                 "language_code,image_url\n")
        for book in range(args.books):
            year = 1900 + int(rng.integers(0, 120))
            fh.write(f"{book + 1},{9_000_000 + book},,,Synthetic Author {book % 4000},{year}.0,,"
                     f"Synthetic Book {book + 1} ({GENRE_SHELVES[book_genre[book]]}),eng,\n")
    with (out / "tags.csv").open("w") as fh:
        fh.write("tag_id,tag_name\n")
        fh.writelines(f"{tag},{name}\n" for tag, name in enumerate(GENRE_SHELVES))
    with (out / "book_tags.csv").open("w") as fh:
        fh.write("goodreads_book_id,tag_id,count\n")
        fh.writelines(f"{9_000_000 + book},{book_genre[book]},100\n" for book in range(args.books))
    print(f"Wrote {written:,} ratings and {args.books:,} books to {out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
