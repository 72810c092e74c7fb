import pytest

from catalog.models import Book
from recommender.models import Rater, Rating
from recommender.ratings import ratings_fingerprint, refresh_rating_summaries, remove_rating, set_rating


@pytest.fixture
def book(db):
    return Book.objects.create(title="Dune")


def summary(book):
    book.refresh_from_db()
    return (book.ratings_count, [book.ratings_1, book.ratings_2, book.ratings_3, book.ratings_4, book.ratings_5], book.average_rating)


def test_set_change_and_remove_keep_summary_current(book, reader, other_reader):
    set_rating(reader, book, 5)
    set_rating(other_reader, book, 2)
    assert summary(book) == (2, [0, 1, 0, 0, 1], 3.5)
    set_rating(reader, book, 4)
    assert summary(book) == (2, [0, 1, 0, 1, 0], 3.0)
    assert remove_rating(other_reader, book) is True
    assert summary(book) == (1, [0, 0, 0, 1, 0], 4.0)
    assert remove_rating(other_reader, book) is False
    assert Rating.objects.count() == 1


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_out_of_range_value_is_rejected(book, reader, bad):
    with pytest.raises(ValueError):
        set_rating(reader, book, bad)
    assert not Rating.objects.exists()


def test_bayesian_rating_pulls_few_ratings_towards_the_mean(book, reader):
    set_rating(reader, book, 5)
    book.refresh_from_db()
    assert book.average_rating == 5.0
    assert 3.9 < book.bayesian_rating < 4.0


def test_refresh_recounts_after_bulk_writes(book, reader, other_reader):
    dataset_reader = Rater.objects.create(source="goodbooks", external_id="7")
    Rating.objects.bulk_create([Rating(rater=dataset_reader, book=book, value=1)])
    set_rating(reader, book, 5)
    Book.objects.filter(pk=book.pk).update(ratings_count=0, ratings_5=0)
    assert refresh_rating_summaries() == 1
    assert summary(book) == (2, [1, 0, 0, 0, 1], 3.0)


def test_fingerprint_changes_on_add_change_and_delete(book, reader, other_reader):
    empty = ratings_fingerprint()
    set_rating(reader, book, 3)
    one = ratings_fingerprint()
    assert one != empty
    set_rating(other_reader, book, 4)
    two = ratings_fingerprint()
    remove_rating(reader, book)
    assert ratings_fingerprint() not in {one, two}
