# Writing a review now puts an unshelved book on Read, as rating one does, so the export (which walks shelves)
# carries the review. Reviews written on the site before that, of books on no shelf, get the same: the book goes on
# Read without a date, read once, added when the review was written. A reviewed book the Goodreads import knows is
# left alone: it was on a custom Goodreads shelf (did-not-finish), or shelved by the import and then taken off by
# the reader, and the export handles both from the stored row. Backwards keeps the entries: they lose nothing.
from django.db import migrations
from django.db.models import Exists, OuterRef

BATCH = 2000


def forwards(apps, schema_editor):
    Review = apps.get_model("accounts", "Review")
    ShelfEntry = apps.get_model("accounts", "ShelfEntry")
    ImportedBook = apps.get_model("accounts", "ImportedBook")
    unshelved = (
        Review.objects.exclude(Exists(ShelfEntry.objects.filter(user=OuterRef("user"), book=OuterRef("book"))))
        .exclude(Exists(ImportedBook.objects.filter(user=OuterRef("user"), book=OuterRef("book"))))
        .order_by("pk")
        .values_list("user_id", "book_id", "created")
    )
    batch = []
    for user_id, book_id, created in unshelved.iterator(chunk_size=BATCH):
        batch.append(ShelfEntry(user_id=user_id, book_id=book_id, shelf="read", added=created, read_count=1))
        if len(batch) >= BATCH:
            ShelfEntry.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    ShelfEntry.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_rating_half_star"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
