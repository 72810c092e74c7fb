"""Books, authors and genres: the catalog that readers search and staff curate."""

import re
import unicodedata

from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse

from .languages import language_name

# Prior for the Bayesian average: a book with few ratings is pulled towards
# this many ratings at the catalog-wide mean, so three 5-star ratings don't top the charts.
BAYES_PRIOR_COUNT = 25
BAYES_PRIOR_MEAN = 3.9

# "The Hunger Games (The Hunger Games, #1)" → title, series, position. Goodreads also writes
# "(Series #2)" without the comma and "#1-3" for omnibus volumes.
SERIES_IN_TITLE = re.compile(r"^(?P<title>.+?)\s*\((?P<series>[^()]+?),?\s+#(?P<position>[\d.]+(?:\s*-\s*[\d.]+)?)\)\s*$")
_NOT_WORD = re.compile(r"[^\w]+|_")


def normalize_search_text(text):
    """Lowercase, accent-free words separated by single spaces: the form both search_text and queries take.

    Done in Python (not with the unaccent extension) so that PostgreSQL and SQLite compare the same strings.
    """
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("'", "").replace("’", "")  # "Philosopher's" matches "philosophers"
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def parse_series(title):
    """Split a Goodreads-style title into (title, series, position); series and position are "" when absent."""
    match = SERIES_IN_TITLE.match(title or "")
    if not match:
        return (title or "").strip(), "", ""
    position = re.sub(r"\s+", "", match["position"])
    return match["title"].strip(), match["series"].strip(), position[:20]


def compose_search_text(title, original_title="", series="", author_names=()):
    """The text the search box matches: title, original title (when different), series, then authors."""
    parts = [title]
    seen = {normalize_search_text(title)}
    for extra in (original_title, series):
        if extra and normalize_search_text(extra) not in seen:
            parts.append(extra)
            seen.add(normalize_search_text(extra))
    parts.extend(author_names)
    return normalize_search_text(" ".join(parts))


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
        # to_attr: a plain list per book; a prefetch into bookauthor_set builds a queryset per book (~0.2 ms each)
        return self.prefetch_related(
            models.Prefetch(
                "bookauthor_set",
                queryset=BookAuthor.objects.select_related("author").order_by("position"),
                to_attr="listed_author_links",
            )
        )

    def rebuild_search_text(self):
        """Recompute search_text for these books from their titles, series and authors. Returns the count."""
        books = list(self.only("pk", "title", "original_title", "series").with_list_data())
        for book in books:
            book.search_text = book.composed_search_text()
        Book.objects.bulk_update(books, ["search_text"], batch_size=2000)
        return len(books)


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
    pages = models.PositiveIntegerField(null=True, blank=True, help_text="Number of pages of a usual edition, if known.")
    cover_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    hidden_from_recommendations = models.BooleanField(
        default=False, help_text="Staff: keep this book out of every recommendation list."
    )
    # Denormalized text searched by the header search box: title, original title, series and authors.
    search_text = models.TextField(blank=True, editable=False)

    # Rating summary, kept current by accounts.ratings whenever a rating changes.
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
            # Serving excludes hidden books on every page: a small partial index finds the few there are.
            models.Index(fields=["id"], condition=models.Q(hidden_from_recommendations=True), name="book_hidden_idx"),
            # Goodreads CSV import matches by ISBN.
            models.Index(fields=["isbn13"], name="book_isbn13_idx"),
            models.Index(fields=["isbn10"], name="book_isbn10_idx"),
            # Series link on the book page and the browse language filter.
            models.Index(fields=["series", "series_position"], name="book_series_idx"),
            models.Index(fields=["language"], name="book_language_idx"),
            # The search box's GIN trigram index on search_text (book_search_trgm_idx) is PostgreSQL-only,
            # so migration 0002 creates it (a GinIndex) on PostgreSQL instead of declaring it here. So is the
            # GIN index on search_text's words (book_search_words_idx) that migration 0006 creates.
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # Authors are only known once the book has links; rebuild_search_text() refreshes after they change.
        self.search_text = self.composed_search_text(None if self.pk else [])
        if kwargs.get("update_fields") is not None and "search_text" not in kwargs["update_fields"]:
            kwargs["update_fields"] = [*kwargs["update_fields"], "search_text"]
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("catalog:book_detail", args=[self.pk])

    def composed_search_text(self, author_names=None):
        """The search_text this book should have: every writer of search_text goes through here.

        author_names defaults to the book's linked authors; imports pass the names they are about to link.
        """
        names = self.author_list if author_names is None else author_names
        return compose_search_text(self.title, self.original_title, self.series, names)

    @property
    def generated_cover_url(self):
        return reverse("catalog:book_cover", args=[self.pk])

    @property
    def display_cover_url(self):
        """The cover to show: the stored image, or a cover drawn from the title and author."""
        return self.cover_url or self.generated_cover_url

    @property
    def author_links(self):
        """BookAuthor rows, main author first: with_list_data's prefetch, else bookauthor_set (prefetched or not)."""
        links = getattr(self, "listed_author_links", None)
        if links is not None:
            return links
        if "bookauthor_set" in getattr(self, "_prefetched_objects_cache", {}):  # e.g. the admin's own prefetch
            return list(self.bookauthor_set.all())
        return list(self.bookauthor_set.select_related("author").order_by("position"))

    @property
    def author_list(self):
        """Author names, main author first (uses the prefetch of with_list_data)."""
        return [ba.author.name for ba in self.author_links]

    @property
    def ordered_authors(self):
        return [ba.author for ba in self.author_links]

    @property
    def author_names(self):
        return ", ".join(self.author_list)

    @property
    def language_name(self):
        return language_name(self.language)

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


class SearchWord(models.Model):
    """A word that occurs in some book's search_text: the vocabulary that PostgreSQL search matches each word of
    a query against before it looks at any book (catalog.search).

    Migration 0006 fills it and adds triggers on the book table, so that every way of writing books (save,
    bulk_create, bulk_update, update(), COPY) adds its new words. Words of books since renamed or deleted stay;
    they match no book, so they cost a lookup and change no result. On SQLite the table stays empty and unused.
    """

    word = models.TextField(primary_key=True)

    def __str__(self):
        return self.word


class BookRedirect(models.Model):
    """The id of a book merged into another: its old URL redirects to the book that absorbed it."""

    old_id = models.PositiveBigIntegerField(primary_key=True)
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="redirects")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"book #{self.old_id} → #{self.book_id}"
