# A reader's text review of a book. Created here for the Goodreads import's My Review; the reviews
# feature (issue 13 item 3) uses the same model: Review(user, book, text, created, updated, hidden).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_rater_rating_from_recommender'),
        ('catalog', '0004_bookredirect'),
    ]

    operations = [
        migrations.CreateModel(
            name='Review',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.TextField()),
                ('created', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('hidden', models.BooleanField(default=False, help_text='Staff: hide this review from the book page.')),
                ('book', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='catalog.book')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-updated', '-id'],
                'constraints': [models.UniqueConstraint(fields=('user', 'book'), name='review_unique_user_book')],
            },
        ),
    ]
