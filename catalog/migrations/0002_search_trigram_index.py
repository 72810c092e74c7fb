"""Typo-tolerant search on PostgreSQL: the pg_trgm extension and a GIN trigram index on search_text.

Accents are removed in Python (catalog.models.normalize_search_text), so the unaccent extension that earlier
versions of this migration created is no longer created; databases that have it keep it, unused and harmless.

Every step is skipped on other databases, where search falls back to matching in Python. The index is
created outside the migration state, on PostgreSQL only: declared in Book.Meta, SQLite would be asked to
build a GIN index whenever a later migration rebuilds the book table.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# The same index earlier versions wrote as SQL: book_search_trgm_idx ON catalog_book USING gin (search_text gin_trgm_ops)
SEARCH_INDEX = GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="book_search_trgm_idx")


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("catalog", "Book"), SEARCH_INDEX)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("catalog", "Book"), SEARCH_INDEX)


def fill_search_text(apps, schema_editor):
    # Books saved before this migration may have an empty search_text.
    from catalog.models import compose_search_text

    Book = apps.get_model("catalog", "Book")
    BookAuthor = apps.get_model("catalog", "BookAuthor")
    names = {}
    for book_id, name in BookAuthor.objects.order_by("book_id", "position").values_list("book_id", "author__name"):
        names.setdefault(book_id, []).append(name)
    books = list(Book.objects.filter(search_text="").only("pk", "title", "original_title", "series"))
    for book in books:
        book.search_text = compose_search_text(book.title, book.original_title, book.series, names.get(book.pk, []))
    Book.objects.bulk_update(books, ["search_text"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm, on PostgreSQL only
        migrations.RunPython(create_search_index, drop_search_index),
        migrations.AddIndex(
            model_name="book", index=models.Index(fields=["series", "series_position"], name="book_series_idx")
        ),
        migrations.AddIndex(model_name="book", index=models.Index(fields=["language"], name="book_language_idx")),
    ]
