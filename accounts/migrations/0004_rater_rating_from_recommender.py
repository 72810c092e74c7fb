# Rater and Rating move from recommender to accounts, keeping every row: the models are declared here
# on their existing tables (state only), then the tables are renamed to accounts'. Content types (and so
# permissions and admin history) follow them.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ('rater', 'rating')


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    for model in MOVED:
        old = ContentType.objects.using(db).filter(app_label='recommender', model=model).first()
        if old is None:
            continue
        # A fresh database may already have accounts' (empty) content type: the old one, with its
        # permissions and log entries, takes its place.
        ContentType.objects.using(db).filter(app_label='accounts', model=model).delete()
        old.app_label = 'accounts'
        old.save(update_fields=['app_label'])


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    ContentType.objects.using(db).filter(app_label='accounts', model__in=MOVED).update(app_label='recommender')


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_email_unique_ignoring_case'),
        ('catalog', '0003_book_hidden_index'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('recommender', '0003_rejected_label'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Rater',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source', models.CharField(blank=True, help_text="Dataset name for imported readers, e.g. 'goodbooks'.", max_length=32)),
                        ('external_id', models.CharField(blank=True, max_length=64)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('user', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='rater', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'recommender_rater',
                        'constraints': [
                            models.UniqueConstraint(condition=models.Q(('user__isnull', True)), fields=('source', 'external_id'), name='rater_unique_dataset_reader'),
                            models.CheckConstraint(condition=models.Q(models.Q(('external_id', ''), ('source', ''), ('user__isnull', False)), models.Q(('user__isnull', True), models.Q(('source', ''), _negated=True), models.Q(('external_id', ''), _negated=True)), _connector='OR'), name='rater_is_user_or_dataset_reader'),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name='Rating',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('value', models.PositiveSmallIntegerField()),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('book', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to='catalog.book')),
                        ('rater', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to='accounts.rater')),
                    ],
                    options={
                        'db_table': 'recommender_rating',
                        'indexes': [
                            models.Index(fields=['book', 'value'], name='rating_book_value_idx'),
                            models.Index(fields=['updated'], name='rating_updated_idx'),
                        ],
                        'constraints': [
                            models.UniqueConstraint(fields=('rater', 'book'), name='rating_unique_rater_book'),
                            models.CheckConstraint(condition=models.Q(('value__gte', 1), ('value__lte', 5)), name='rating_value_1_to_5'),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name='rater', table=None),
        migrations.AlterModelTable(name='rating', table=None),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
