
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Rater, Rating
from accounts.ratings import (
    ratings_fingerprint,
    ratings_version,
    refresh_rating_summaries,
    remove_rating,
    set_rating,
    set_ratings,
)
from catalog.models import Book

from .concurrency import contend_with_open_transaction


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


def test_set_ratings_adds_changes_and_keeps_summaries_as_set_rating_would(
    book, reader, other_reader, django_capture_on_commit_callbacks
):
    others = [Book.objects.create(title=f"Book {n}") for n in range(4)]
    set_rating(other_reader, book, 2)
    set_rating(reader, others[0], 1)
    set_rating(reader, others[1], 4)
    with django_capture_on_commit_callbacks(execute=True):
        changed = set_ratings(reader, {book.pk: 5, others[0].pk: 3, others[1].pk: 4, others[2].pk: 3})
    assert changed == {book.pk, others[0].pk, others[2].pk}  # others[1] already had 4 stars
    assert summary(book) == (2, [0, 1, 0, 0, 1], 3.5)
    assert summary(others[0]) == (1, [0, 0, 1, 0, 0], 3.0)
    assert summary(others[1]) == (1, [0, 0, 0, 1, 0], 4.0)
    assert summary(others[2]) == (1, [0, 0, 1, 0, 0], 3.0)
    assert summary(others[3]) == (0, [0, 0, 0, 0, 0], 0.0)
    assert ratings_version(reader.rater.pk) == 1  # once for the whole batch
    # The deltas agree with a recount from the ratings table.
    before = [summary(b) for b in [book, *others]]
    refresh_rating_summaries()
    assert [summary(b) for b in [book, *others]] == before


def test_set_ratings_changes_updated_so_the_fingerprint_moves(book, reader):
    set_ratings(reader, {book.pk: 3})
    first = ratings_fingerprint()
    Rating.objects.update(updated=Rating.objects.get().updated.replace(year=2000))
    stale = ratings_fingerprint()
    set_ratings(reader, {book.pk: 4})
    assert first != stale != ratings_fingerprint()
    assert Rating.objects.get().updated.year != 2000


def test_set_ratings_with_nothing_new_writes_nothing(book, reader, django_assert_max_num_queries):
    set_rating(reader, book, 4)
    assert set_ratings(reader, {}) == set()
    with django_assert_max_num_queries(4) as queries:  # savepoint, the rater, its ratings of these books, release
        assert set_ratings(reader, {book.pk: 4}) == set()
    assert not [q for q in queries.captured_queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_set_ratings_rejects_out_of_range_values_and_writes_none(book, reader, bad):
    other = Book.objects.create(title="Other")
    with pytest.raises(ValueError):
        set_ratings(reader, {other.pk: 4, book.pk: bad})
    assert not Rating.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_writer", ["set_rating", "set_ratings"])
@pytest.mark.parametrize("has_rater", [False, True], ids=["new-reader", "known-reader"])
def test_a_second_first_rating_during_the_first_waits_and_replaces_it(book, reader, first_writer, has_rater):
    """A double click (or an import running next to a site rating): the second write waits, then updates."""
    if has_rater:
        set_rating(reader, Book.objects.create(title="Read before"), 3)
    client = Client()
    client.force_login(reader)

    def first():  # the first click's transaction, held open until the second click is waiting
        if first_writer == "set_rating":
            set_rating(reader, book, 4)
        else:
            set_ratings(reader, {book.pk: 4})

    def second():
        return client.post(reverse("accounts:rate", args=[book.pk]), {"value": "5"}).status_code

    waited, statuses = contend_with_open_transaction(first, second)
    assert waited, "the second rating never waited for the first"
    assert statuses == [302]
    assert list(Rating.objects.filter(rater__user=reader, book=book).values_list("value", flat=True)) == [5]
    assert Rater.objects.filter(user=reader).count() == 1
    assert summary(book) == (1, [0, 0, 0, 0, 1], 5.0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scope", ["these books", "all books"])
def test_a_rating_committed_during_a_recount_is_counted(book, reader, other_reader, scope):
    """A recount (after an import, a merge, an admin delete) next to a site rating loses neither."""
    set_rating(reader, book, 3)
    waited, recounted = contend_with_open_transaction(
        lambda: set_rating(other_reader, book, 5),  # a site rating whose transaction is still open
        lambda: refresh_rating_summaries([book.pk] if scope == "these books" else None),
    )
    assert waited, "the recount never waited for the open rating"
    assert recounted and recounted[0] >= 1
    assert summary(book) == (2, [0, 0, 1, 0, 1], 4.0)
