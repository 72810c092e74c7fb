"""Books, authors and genres: the catalog that readers search and staff curate."""

from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse

# Prior for the Bayesian average: a book with few ratings is pulled towards
# this many ratings at the catalog-wide mean, so three 5-star ratings don't top the charts.
BAYES_PRIOR_COUNT = 25
BAYES_PRIOR_MEAN = 3.9


class Author(models.Model):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # Author filter and admin search look authors up by name.
            models.Index(Upper("name"), name="author_name_upper_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:author_detail", args=[self.slug])


class Genre(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:genre_detail", args=[self.slug])


class BookQuerySet(models.QuerySet):
    def recommendable(self):
        return self.filter(hidden_from_recommendations=False)

    def with_list_data(self):
        """What every list page shows per book, in a fixed number of queries."""
        return self.prefetch_related(
            models.Prefetch("bookauthor_set", queryset=BookAuthor.objects.select_related("author").order_by("position"))
        )


class Book(models.Model):
    title = models.CharField(max_length=500)
    original_title = models.CharField(max_length=500, blank=True)
    series = models.CharField(max_length=255, blank=True, help_text="Series name, e.g. 'The Hunger Games'.")
    series_position = models.CharField(max_length=20, blank=True, help_text="Position in the series, e.g. '1' or '2.5'.")
    authors = models.ManyToManyField(Author, through="BookAuthor", related_name="books")
    genres = models.ManyToManyField(Genre, related_name="books", blank=True)
    publication_year = models.SmallIntegerField(null=True, blank=True, help_text="Original publication year; negative for BCE.")
    isbn10 = models.CharField("ISBN-10", max_length=10, blank=True)
    isbn13 = models.CharField("ISBN-13", max_length=13, blank=True)
    goodreads_book_id = models.PositiveBigIntegerField(unique=True, null=True, blank=True)
    language = models.CharField(max_length=16, blank=True)
    cover_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    hidden_from_recommendations = models.BooleanField(
        default=False, help_text="Staff: keep this book out of every recommendation list."
    )
    # Denormalized text searched by the header search box: title, original title, series and authors.
    search_text = models.TextField(blank=True, editable=False)

    # Rating summary, kept current by recommender.ratings whenever a rating changes.
    ratings_count = models.PositiveIntegerField(default=0, editable=False)
    ratings_1 = models.PositiveIntegerField(default=0, editable=False)
    ratings_2 = models.PositiveIntegerField(default=0, editable=False)
    ratings_3 = models.PositiveIntegerField(default=0, editable=False)
    ratings_4 = models.PositiveIntegerField(default=0, editable=False)
    ratings_5 = models.PositiveIntegerField(default=0, editable=False)
    average_rating = models.FloatField(default=0, editable=False)
    bayesian_rating = models.FloatField(default=0, editable=False)

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        ordering = ["-ratings_count", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(average_rating__gte=0) & models.Q(average_rating__lte=5), name="book_average_rating_range"
            ),
        ]
        indexes = [
            # Browse sorted by popularity / top rated / newest, and the home page charts.
            models.Index(fields=["-ratings_count", "id"], name="book_popularity_idx"),
            models.Index(fields=["-bayesian_rating", "id"], name="book_bayesian_idx"),
            models.Index(fields=["-publication_year", "id"], name="book_year_idx"),
            models.Index(fields=["title"], name="book_title_idx"),
            # Goodreads CSV import matches by ISBN.
            models.Index(fields=["isbn13"], name="book_isbn13_idx"),
            models.Index(fields=["isbn10"], name="book_isbn10_idx"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("catalog:book_detail", args=[self.pk])

    @property
    def author_names(self):
        return ", ".join(ba.author.name for ba in self.bookauthor_set.all())

    @property
    def star_counts(self):
        """(stars, count, percent of all ratings) for 5 down to 1."""
        total = self.ratings_count or 1
        return [(s, getattr(self, f"ratings_{s}"), round(100 * getattr(self, f"ratings_{s}") / total)) for s in range(5, 0, -1)]


class BookAuthor(models.Model):
    """Orders a book's authors: the first is the main author."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["book", "author"], name="bookauthor_unique")]
        indexes = [
            # Author page: that author's books.
            models.Index(fields=["author", "book"], name="bookauthor_author_idx"),
        ]

    def __str__(self):
        return f"{self.author} ({self.position}) of {self.book}"
