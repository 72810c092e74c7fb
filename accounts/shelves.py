"""Writing shelves: the rules that keep a reader's three exclusive shelves and their ratings consistent."""

from .models import Rating, Shelf, ShelfEntry


class ShelfError(ValueError):
    """A shelf change the rules refuse; the message is shown to the reader."""


def move_to_shelf(user, book, shelf, **details):
    """Put a book on one shelf (or off all of them, shelf=None); the rating, if any, stays.

    details may set date_read (a date or None) and read_count; what is not given is kept. A rated book stays in
    the library: it may move between Read and Currently reading (a re-read), but Want to read or no shelf at all
    would leave a rating of a book the reader hasn't read, so those are refused (clear the rating first). Returns the entry, or None once removed.
    """
    entry = ShelfEntry.objects.select_for_update().filter(user=user, book=book).first()
    if shelf is None:
        if Rating.objects.filter(rater__user=user, book=book).exists():
            raise ShelfError(f"You rated {book.title}, so it stays on Read. Clear your rating first to remove it.")
        if entry is not None:
            entry.delete()
        return None
    if shelf == Shelf.TO_READ and Rating.objects.filter(rater__user=user, book=book).exists():
        raise ShelfError(
            f"You rated {book.title}, so you have read it: it can be on Read or Currently reading (a re-read)."
            " Clear your rating first to put it on Want to read."
        )
    if entry is None:
        entry = ShelfEntry(user=user, book=book)
    entry.shelf = shelf
    for name in ("date_read", "read_count"):
        if name in details:
            setattr(entry, name, details[name])
    if shelf == Shelf.READ and entry.read_count < 1:
        entry.read_count = 1
    entry.save()
    return entry
