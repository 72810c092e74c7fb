"""Site readers (the custom user, logging in by email) and their shelves."""

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models


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

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.display_name or self.email.split("@")[0]

    def get_full_name(self):
        return str(self)

    def get_short_name(self):
        return str(self)


class ShelfEntry(models.Model):
    """A book on a reader's want-to-read shelf."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shelf_entries")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="shelf_entries")
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-added", "-id"]
        verbose_name_plural = "shelf entries"
        constraints = [models.UniqueConstraint(fields=["user", "book"], name="shelfentry_unique_user_book")]
        indexes = [
            # My books: the want-to-read list, newest first.
            models.Index(fields=["user", "-added"], name="shelfentry_user_added_idx"),
        ]

    def __str__(self):
        return f"{self.user} wants to read {self.book}"
