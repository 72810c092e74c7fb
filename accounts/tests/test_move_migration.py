"""Moving Rater and Rating from recommender to accounts keeps every row of a database migrated before the move."""

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts.models import GoodreadsImport, ImportedBook, Rater, Rating, ShelfEntry, User
from accounts.ratings import set_rating
from catalog.models import Book

from .migrating import migrate, migrate_to_latest

# Where main stood before the move: ratings and raters in recommender, shelves and imports in accounts.
BEFORE_THE_MOVE = [
    ("accounts", "0003_email_unique_ignoring_case"),
    ("catalog", "0003_book_hidden_index"),
    ("recommender", "0003_rejected_label"),
]


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_ratings_raters_shelves_and_imports():
    old = migrate(BEFORE_THE_MOVE)
    OldUser, OldBook = old.get_model("accounts", "User"), old.get_model("catalog", "Book")
    OldRater, OldRating = old.get_model("recommender", "Rater"), old.get_model("recommender", "Rating")
    rita = OldUser.objects.create(email="rita@example.com", display_name="Rita")
    dune, emma, hobbit = (OldBook.objects.create(title=title) for title in ("Dune", "Emma", "The Hobbit"))
    site_rater = OldRater.objects.create(user=rita)
    dataset_rater = OldRater.objects.create(source="goodbooks", external_id="314")
    OldRating.objects.create(rater=site_rater, book=dune, value=5)
    OldRating.objects.create(rater=site_rater, book=emma, value=2)
    OldRating.objects.create(rater=dataset_rater, book=dune, value=4)
    old.get_model("accounts", "ShelfEntry").objects.create(user=rita, book=hobbit)
    old.get_model("accounts", "GoodreadsImport").objects.create(user=rita, filename="export.csv", rows=2)
    old.get_model("accounts", "ImportedBook").objects.create(user=rita, book=emma, rating=2)
    old.get_model("accounts", "ImportedBook").objects.create(user=rita, book=hobbit, shelved=True)
    old_ids = sorted(OldRating.objects.values_list("pk", flat=True))
    old_content_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(app_label="recommender", model="rating")[0]

    migrate_to_latest()

    rita = User.objects.get(email="rita@example.com")
    assert sorted(Rating.objects.values_list("pk", flat=True)) == old_ids
    assert sorted(Rating.objects.filter(rater__user=rita).values_list("book__title", "value")) == [("Dune", 5), ("Emma", 2)]
    assert Rating.objects.get(rater__source="goodbooks", rater__external_id="314").value == 4
    assert Rater.objects.count() == 2
    # The want-to-read entry stays there; the rated books go on Read (migration 0006).
    assert sorted(ShelfEntry.objects.filter(user=rita).values_list("book__title", "shelf")) == [
        ("Dune", "read"), ("Emma", "read"), ("The Hobbit", "to-read")]
    assert GoodreadsImport.objects.get(user=rita).filename == "export.csv"
    imported = {record.book.title: (record.rating, record.shelf) for record in ImportedBook.objects.filter(user=rita)}
    assert imported == {"Emma": (2, "read"), "The Hobbit": (None, "to-read")}
    # The renamed table still hands out new ids, and the model's permissions kept their content type.
    new_rating = set_rating(rita, Book.objects.get(title="The Hobbit"), 4)
    assert new_rating.pk > max(old_ids)
    assert ContentType.objects.get_for_model(Rating).pk == old_content_type.pk
    assert Rating._meta.db_table == "accounts_rating"
