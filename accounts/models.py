"""Readers and what they own: the user (logging in by email), raters and ratings, shelves, reviews, goals and imports."""

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A reader who can log in. Email is the login identifier; there is no username."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    DIGEST_CHOICES = [("", "No email"), ("weekly", "Weekly"), ("monthly", "Monthly")]
    digest_frequency = models.CharField(
        "recommendation emails", max_length=8, choices=DIGEST_CHOICES, blank=True, default="",
        help_text="A few new picks for you by email, with why we picked them.",
    )
    # When send_digests last mailed this reader: the weekly/monthly cadence counts from here.
    digest_last_sent = models.DateTimeField(null=True, blank=True, editable=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [
            # allauth looks emails up without case, so two spellings of one address must not both exist.
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ignoring_case"),
        ]

    def __str__(self):
        return self.display_name or self.email.split("@")[0]

    @property
    def public_name(self):
        """The name shown to other readers (beside reviews): never a part of the email address."""
        return self.display_name or "A reader"

    def get_full_name(self):
        return str(self)

    def get_short_name(self):
        return str(self)


class Rater(models.Model):
    """Anyone whose ratings train the model: a site reader, or a reader from an imported dataset.

    Dataset readers (goodbooks-10k) are not accounts and can never log in; both kinds are rows of
    the same rating matrix, so retrain treats them alike.
    """

    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="rater"
    )
    source = models.CharField(max_length=32, blank=True, help_text="Dataset name for imported readers, e.g. 'goodbooks'.")
    external_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=models.Q(user__isnull=True),
                name="rater_unique_dataset_reader",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, source="", external_id="")
                | models.Q(user__isnull=True) & ~models.Q(source="") & ~models.Q(external_id=""),
                name="rater_is_user_or_dataset_reader",
            ),
        ]

    def __str__(self):
        # Staff see raters in the admin: a site reader by email (one query unless the user is loaded).
        if self.user_id:
            return self.user.email
        return f"{self.source} reader {self.external_id}"


class Rating(models.Model):
    """One reader's 1–5 star rating of one book (half stars for imported datasets): the recommender's input."""

    rater = models.ForeignKey(Rater, on_delete=models.CASCADE, related_name="ratings")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="ratings")
    value = models.PositiveSmallIntegerField()
    # Imported datasets may rate in half stars (MovieLens' 3.5): stars = value + ½ when set. Only
    # import_goodbooks sets it; ratings made on the site are whole stars (set_rating takes 1..5).
    half_star = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rater", "book"], name="rating_unique_rater_book"),
            models.CheckConstraint(condition=models.Q(value__gte=1, value__lte=5), name="rating_value_1_to_5"),
            models.CheckConstraint(condition=models.Q(half_star=False) | models.Q(value__lte=4), name="rating_half_star_below_5"),
        ]
        indexes = [
            # Book page and rating summary recount: all ratings of one book.
            models.Index(fields=["book", "value"], name="rating_book_value_idx"),
            # Retrain's "anything changed since the active model?" check.
            models.Index(fields=["updated"], name="rating_updated_idx"),
        ]

    def __str__(self):
        return f"{self.rater} rated {self.book.title}: {self.value}"


class Shelf(models.TextChoices):
    """Goodreads' three exclusive shelves: a book is on one of them at most. The values are Goodreads' names."""

    TO_READ = "to-read", "Want to read"
    CURRENTLY_READING = "currently-reading", "Currently reading"
    READ = "read", "Read"


# Shelves in reading order: where two records of one book disagree (an import, a merge), the one further along wins.
READING_ORDER = {Shelf.TO_READ: 0, Shelf.CURRENTLY_READING: 1, Shelf.READ: 2}


# The most times a reader may say they read a book: the shelf form's and the Goodreads import's bound.
MAX_READ_COUNT = 999


class ShelfEntry(models.Model):
    """A book on one of a reader's exclusive shelves: want to read, currently reading or read.

    A rated book is on Read (accounts.ratings puts it there); moving it to another shelf keeps the rating.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shelf_entries")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="shelf_entries")
    shelf = models.CharField(max_length=20, choices=Shelf.choices, default=Shelf.TO_READ)
    # Not auto_now_add: a Goodreads import brings the day the reader added the book there.
    added = models.DateTimeField(default=timezone.now)
    date_read = models.DateField(null=True, blank=True, help_text="The day the reader finished it, if they said.")
    read_count = models.PositiveSmallIntegerField(default=0, help_text="Times read (Goodreads' Read Count).")

    class Meta:
        ordering = ["-added", "-id"]
        verbose_name_plural = "shelf entries"
        constraints = [
            models.UniqueConstraint(fields=["user", "book"], name="shelfentry_unique_user_book"),
            models.CheckConstraint(condition=models.Q(shelf__in=Shelf.values), name="shelfentry_known_shelf"),
        ]
        indexes = [
            # My books: one shelf of a reader, newest first (and its count).
            models.Index(fields=["user", "shelf", "-added"], name="shelfentry_user_shelf_idx"),
        ]

    def __str__(self):
        return f"{self.user}: {self.book} on {self.get_shelf_display()}"


class GoodreadsImport(models.Model):
    """One upload of a Goodreads library export, and the report the reader sees afterwards."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="goodreads_imports")
    created = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255, blank=True)
    rows = models.PositiveIntegerField(default=0)
    # What the results page lists. Version 2: {"version": 2, "counts": {outcome: n}, "problems": {column: n},
    # "rows": [{"line", "title", "author", "book", "outcome", "shelf", "rating", "notes"}]}, every row of the file.
    # Imports before it: {"counts": {outcome: n}, "skipped": [{"title", "author", "reason"}]}.
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # The profile page's "last import" and the results page of one reader.
            models.Index(fields=["user", "-created"], name="goodreadsimport_user_idx"),
        ]

    def __str__(self):
        return f"Goodreads import #{self.pk} by {self.user}"


class ImportedBook(models.Model):
    """What the Goodreads import last wrote for one reader and book.

    Re-imports compare the reader's current rating with `rating` here: if they differ, the reader
    changed it on BookRec since, and the import leaves it alone (see accounts/goodreads.py).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="imported_books")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="+")
    # What the last import set, field by field; "" / None where it set nothing.
    rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Stars the import last set, if any.")
    shelf = models.CharField(max_length=20, blank=True, help_text="Exclusive shelf the import last set, if any.")
    date_read = models.DateField(null=True, blank=True)
    read_count = models.PositiveSmallIntegerField(null=True, blank=True)
    review = models.TextField(blank=True)
    goodreads_book_id = models.PositiveBigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True, help_text="Goodreads' Number of Pages of the reader's edition.")
    # The whole Goodreads row, so the export gives back the columns BookRec doesn't model (Publisher, Private Notes, ...).
    goodreads_row = models.JSONField(default=dict, blank=True)
    imported = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "book"], name="importedbook_unique_user_book"),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="importedbook_rating_1_to_5",
            ),
        ]

    def __str__(self):
        return f"{self.user} imported {self.book_id}"


class Review(models.Model):
    """One reader's short text review of one book, shown on the book page unless staff hid it."""

    MAX_CHARS = 5000

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reviews")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="reviews")
    text = models.TextField(max_length=MAX_CHARS)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    hidden = models.BooleanField(default=False, help_text="Hidden by staff: not shown on the book page.")

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "book"], name="review_unique_user_book")]
        indexes = [
            # The book page: a book's shown reviews, newest first.
            models.Index(fields=["book", "-created"], condition=models.Q(hidden=False), name="review_book_shown_idx"),
        ]

    def __str__(self):
        return f"{self.user} on {self.book}"


class ReadingGoal(models.Model):
    """How many books a reader means to read in one calendar year."""

    MAX_BOOKS = 1000

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reading_goals")
    year = models.PositiveSmallIntegerField()
    books = models.PositiveSmallIntegerField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "year"], name="readinggoal_unique_user_year"),
            models.CheckConstraint(condition=models.Q(books__gte=1, books__lte=1000), name="readinggoal_books_1_to_1000"),
        ]

    def __str__(self):
        return f"{self.user}: {self.books} books in {self.year}"


class Dismissal(models.Model):
    """A book the reader marked "Not interested": never recommended to them again, and a negative signal."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="dismissals")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="dismissals")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "book"], name="dismissal_unique_user_book")]
        indexes = [
            # My books' "Not interested" list, newest first; For you reads the same rows by user.
            models.Index(fields=["user", "-created"], name="dismissal_user_created_idx"),
        ]

    def __str__(self):
        return f"{self.user} is not interested in {self.book}"
