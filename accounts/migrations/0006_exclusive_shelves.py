# Want to read becomes one of three exclusive shelves. Every book a site reader has rated goes on Read, since rating a
# book now puts it there: added when it was first rated, or moved from want-to-read (keeping the day it was shelved),
# as accounts.ratings.put_rated_on_read does. Every other existing entry stays on want-to-read.
# ImportedBook remembers field by field what the Goodreads import set: its `shelved` flag becomes `shelf`.

import django.utils.timezone
from django.db import migrations, models
from django.db.models import Exists, OuterRef

BATCH = 2000


def forwards(apps, schema_editor):
    ImportedBook = apps.get_model("accounts", "ImportedBook")
    Rating = apps.get_model("accounts", "Rating")
    ShelfEntry = apps.get_model("accounts", "ShelfEntry")
    ImportedBook.objects.filter(shelved=True).update(shelf="to-read")
    ImportedBook.objects.filter(shelved=False, rating__isnull=False).update(shelf="read")
    ratings = (
        Rating.objects.filter(rater__user__isnull=False)
        .order_by("pk")
        .values_list("rater__user_id", "book_id", "created")
    )
    batch = []
    for user_id, book_id, created in ratings.iterator(chunk_size=BATCH):
        batch.append(ShelfEntry(user_id=user_id, book_id=book_id, shelf="read", added=created, read_count=1))
        if len(batch) >= BATCH:
            ShelfEntry.objects.bulk_create(batch, ignore_conflicts=True)  # a book already shelved is moved below
            batch = []
    ShelfEntry.objects.bulk_create(batch, ignore_conflicts=True)
    rated = Rating.objects.filter(rater__user=OuterRef("user"), book=OuterRef("book"))
    ShelfEntry.objects.filter(Exists(rated), shelf="to-read").update(shelf="read", read_count=1)


def backwards(apps, schema_editor):
    ImportedBook = apps.get_model("accounts", "ImportedBook")
    ShelfEntry = apps.get_model("accounts", "ShelfEntry")
    ImportedBook.objects.filter(shelf="to-read").update(shelved=True)
    # Before this migration the only shelf was want-to-read.
    ShelfEntry.objects.exclude(shelf="to-read").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_reviews_goals_digests'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='shelfentry',
            name='shelfentry_user_added_idx',
        ),
        migrations.AddField(
            model_name='shelfentry',
            name='shelf',
            field=models.CharField(choices=[('to-read', 'Want to read'), ('currently-reading', 'Currently reading'), ('read', 'Read')], default='to-read', max_length=20),
        ),
        migrations.AddField(
            model_name='shelfentry',
            name='date_read',
            field=models.DateField(blank=True, help_text='The day the reader finished it, if they said.', null=True),
        ),
        migrations.AddField(
            model_name='shelfentry',
            name='read_count',
            field=models.PositiveSmallIntegerField(default=0, help_text="Times read (Goodreads' Read Count)."),
        ),
        migrations.AlterField(
            model_name='shelfentry',
            name='added',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name='shelfentry',
            index=models.Index(fields=['user', 'shelf', '-added'], name='shelfentry_user_shelf_idx'),
        ),
        migrations.AddConstraint(
            model_name='shelfentry',
            constraint=models.CheckConstraint(condition=models.Q(('shelf__in', ['to-read', 'currently-reading', 'read'])), name='shelfentry_known_shelf'),
        ),
        migrations.AddField(
            model_name='importedbook',
            name='shelf',
            field=models.CharField(blank=True, help_text='Exclusive shelf the import last set, if any.', max_length=20),
        ),
        migrations.AddField(
            model_name='importedbook',
            name='read_count',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='importedbook',
            name='review',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='importedbook',
            name='pages',
            field=models.PositiveIntegerField(blank=True, help_text="Goodreads' Number of Pages of the reader's edition.", null=True),
        ),
        migrations.AddField(
            model_name='importedbook',
            name='goodreads_row',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name='importedbook',
            name='shelved',
        ),
    ]
