"""Migration 0009 puts a book reviewed on the site but on no shelf on Read, so the export carries its review."""

import pytest

from accounts.models import ShelfEntry, User

from .migrating import migrate, migrate_to_latest

BEFORE = [("accounts", "0008_rating_half_star")]


@pytest.mark.django_db(transaction=True)
def test_a_reviewed_unshelved_book_goes_on_read_and_nothing_else_moves():
    old = migrate(BEFORE)
    OldUser, OldBook = old.get_model("accounts", "User"), old.get_model("catalog", "Book")
    OldReview, OldShelfEntry = old.get_model("accounts", "Review"), old.get_model("accounts", "ShelfEntry")
    rita = OldUser.objects.create(email="rita@example.com", display_name="Rita")
    dune, emma, jest = (OldBook.objects.create(title=title) for title in ("Dune", "Emma", "Infinite Jest"))
    OldShelfEntry.objects.create(user=rita, book=emma, shelf="to-read")
    for book in (dune, emma, jest):
        OldReview.objects.create(user=rita, book=book, text=f"On {book.title}.")
    # Infinite Jest came from Goodreads' did-not-finish shelf: the import keeps it off BookRec's shelves.
    old.get_model("accounts", "ImportedBook").objects.create(user=rita, book=jest, goodreads_row={"Exclusive Shelf": "did-not-finish"})
    written = OldReview.objects.get(book=dune).created

    migrate_to_latest()

    entries = {e.book.title: e for e in ShelfEntry.objects.filter(user=User.objects.get(email="rita@example.com")).select_related("book")}
    assert {title: e.shelf for title, e in entries.items()} == {"Dune": "read", "Emma": "to-read"}
    assert (entries["Dune"].date_read, entries["Dune"].read_count, entries["Dune"].added) == (None, 1, written)
