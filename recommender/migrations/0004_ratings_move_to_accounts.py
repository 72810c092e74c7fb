# Rater and Rating now belong to accounts (accounts/migrations/0004_rater_rating_from_recommender.py
# takes over their tables); this only forgets them here. No table is dropped.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('recommender', '0003_rejected_label'),
        ('accounts', '0004_rater_rating_from_recommender'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='Rating'),
                migrations.DeleteModel(name='Rater'),
            ],
            database_operations=[],
        ),
    ]
