"""Half-star datasets (MovieLens-style 3.5): import_goodbooks stores them, retrain reads them, the site stays whole."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import Rating
from accounts.ratings import set_rating
from catalog.models import Book
from recommender.loading import load_ratings

GOOD = Path(__file__).resolve().parents[2] / "catalog" / "tests" / "data" / "good"


def dataset(tmp_path, ratings):
    folder = tmp_path / "data"
    shutil.copytree(GOOD, folder)
    (folder / "ratings.csv").write_text("user_id,book_id,rating\n" + "".join(f"{row}\n" for row in ratings))
    return folder


def stars_of(user_id):
    return sorted(
        (book, value + 0.5 * half)
        for book, value, half in Rating.objects.filter(rater__external_id=str(user_id)).values_list(
            "book__goodreads_book_id", "value", "half_star"
        )
    )


def run_import(folder):
    out = StringIO()
    call_command("import_goodbooks", str(folder), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_half_stars_import_update_in_place_and_train_as_half_stars(tmp_path):
    run_import(dataset(tmp_path, ["1,1,3.5", "1,2,4.0", "1,3,1.5", "2,1,5", "2,2,4.50"]))
    assert stars_of(1) == [(3, 4.0), (2767052, 3.5), (7235533, 1.5)]
    assert sorted(stars for _, stars in stars_of(2)) == [4.5, 5.0]
    ids_before = sorted(Rating.objects.values_list("pk", flat=True))
    # a second import that turns 3.5 into 4 and 4.0 into 2.5 updates the rows in place
    out = run_import(dataset(tmp_path / "again", ["1,1,4", "1,2,2.5", "1,3,1.5", "2,1,5", "2,2,4.5"]))
    assert "2 changed" in out
    assert stars_of(1) == [(3, 2.5), (2767052, 4.0), (7235533, 1.5)]
    assert sorted(Rating.objects.values_list("pk", flat=True)) == ids_before
    assert sorted(load_ratings().values.tolist()) == [1.5, 2.5, 4.0, 4.5, 5.0]


@pytest.mark.django_db
def test_ratings_between_half_stars_are_refused_with_their_line(tmp_path):
    out = run_import(dataset(tmp_path, ["1,1,3.5", "1,2,3.7", "1,3,5.5", "2,1,4.25", "2,2,4.5"]))
    assert "ratings.csv line 3: rating '3.7' is not a whole or half star from 1 to 5" in out
    assert "ratings.csv line 4: rating '5.5' is not a whole or half star" in out
    assert "ratings.csv line 5: rating '4.25' is not a whole or half star" in out
    assert Rating.objects.count() == 2  # the good rows are kept


@pytest.mark.django_db
def test_site_ratings_stay_whole_stars(reader):
    book = Book.objects.create(title="Dune")
    with pytest.raises(ValueError):
        set_rating(reader, book, 3.5)
    assert not Rating.objects.exists()
    set_rating(reader, book, 5)
    rating = Rating.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.filter(pk=rating.pk).update(half_star=True)  # 5½ stars is refused by the database
