# A reader's text review of a book: the same operation as the reviews branch's 0005_reviews_goals_digests
# creates (issue 13 item 3), here so the Goodreads import can keep My Review. At merge, keep one of the two.

import django.db.models.deletion
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
                ('text', models.TextField(max_length=5000)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('hidden', models.BooleanField(default=False, help_text='Hidden by staff: not shown on the book page.')),
                ('book', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to='catalog.book')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reviews', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created', '-id'],
                'indexes': [models.Index(condition=models.Q(('hidden', False)), fields=['book', '-created'], name='review_book_shown_idx')],
                'constraints': [models.UniqueConstraint(fields=('user', 'book'), name='review_unique_user_book')],
            },
        ),
    ]
