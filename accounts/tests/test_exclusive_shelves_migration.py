"""Migration 0006 (exclusive shelves) puts every rated book on Read, moving it from want-to-read, and keeps every row."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Shelf, ShelfEntry, User

from .migrating import migrate, migrate_to_latest

BEFORE_EXCLUSIVE_SHELVES = [("accounts", "0005_reviews_goals_digests")]


@pytest.mark.django_db(transaction=True)
def test_a_rated_book_on_want_to_read_moves_to_read():
    old = migrate(BEFORE_EXCLUSIVE_SHELVES)
    OldUser, OldBook = old.get_model("accounts", "User"), old.get_model("catalog", "Book")
    OldShelfEntry = old.get_model("accounts", "ShelfEntry")
    rita = OldUser.objects.create(email="rita@example.com", display_name="Rita")
    dune, emma, hobbit = (OldBook.objects.create(title=title) for title in ("Dune", "Emma", "The Hobbit"))
    rater = old.get_model("accounts", "Rater").objects.create(user=rita)
    old.get_model("accounts", "Rating").objects.create(rater=rater, book=dune, value=5)
    old.get_model("accounts", "Rating").objects.create(rater=rater, book=emma, value=3)
    shelved_on = timezone.now() - datetime.timedelta(days=30)
    OldShelfEntry.objects.create(user=rita, book=dune)  # rated and still on want-to-read
    OldShelfEntry.objects.filter(book=dune).update(added=shelved_on)  # `added` was auto_now_add before 0006
    OldShelfEntry.objects.create(user=rita, book=hobbit)
    old_ids = sorted(OldShelfEntry.objects.values_list("pk", flat=True))

    migrate_to_latest()

    rita = User.objects.get(email="rita@example.com")
    entries = {entry.book.title: entry for entry in ShelfEntry.objects.filter(user=rita).select_related("book")}
    assert {title: entry.shelf for title, entry in entries.items()} == {
        "Dune": Shelf.READ, "Emma": Shelf.READ, "The Hobbit": Shelf.TO_READ}
    # Dune's entry moved rather than being replaced: same row, same day shelved, read once.
    assert set(old_ids) <= {entry.pk for entry in entries.values()}
    assert entries["Dune"].added == shelved_on
    assert entries["Dune"].read_count == 1
    assert entries["The Hobbit"].read_count == 0
