"""Staff views of readers and what they own: accounts, raters, ratings and reviews (moderation) and shelves."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from catalog.caching import forget_anonymous_page
from catalog.models import Book

from .models import Dismissal, Rater, Rating, Review, ShelfEntry, User
from .ratings import refresh_rating_summaries
from .templatetags.book_actions import star_string


class EmailCaseMixin:
    """Emails are compared without case: Rita@Example.com and rita@example.com are one reader."""

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("A reader with this email address already exists.")
        return email


class ReaderCreationForm(EmailCaseMixin, BaseUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class ReaderChangeForm(EmailCaseMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = ReaderCreationForm
    form = ReaderChangeForm
    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "display_name"]}),
        ("Recommendation emails", {"fields": ["digest_frequency", "digest_last_sent"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["digest_last_sent"]


class ReaderEmailColumn:
    """Lists of a reader's rows name the reader by email: display names are the reader's choice, and not unique."""

    @admin.display(description="reader", ordering="user__email")
    def reader_email(self, obj):
        return obj.user.email


@admin.register(ShelfEntry)
class ShelfEntryAdmin(ReaderEmailColumn, admin.ModelAdmin):
    list_display = ["reader_email", "book", "shelf", "added", "date_read", "read_count"]
    list_filter = ["shelf"]
    list_select_related = ["user", "book"]
    raw_id_fields = ["user", "book"]
    search_fields = ["user__email", "book__title"]


@admin.register(Dismissal)
class DismissalAdmin(ReaderEmailColumn, admin.ModelAdmin):
    list_display = ["reader_email", "book", "created"]
    list_select_related = ["user", "book"]
    raw_id_fields = ["user", "book"]
    search_fields = ["user__email", "book__title"]


class EstimatedCountPaginator(Paginator):
    """Counting millions of rows takes seconds, so big lists show an estimate or a capped count.

    Unfiltered: PostgreSQL's planner estimate (pg_class.reltuples). Filtered or searched: rows are
    counted up to COUNT_CAP, and lists with more show COUNT_CAP of them (pages further on are
    reached by narrowing the search, which moderation always does).
    """

    COUNT_CAP = 10_000
    # How the changelist words the count (templates/admin/accounts/pagination.html): "exact", "estimate"
    # (the planner's, "about 12,345,678") or "capped" (counted up to the cap, "at least 10,000").
    count_kind = "exact"

    @cached_property
    def count(self):
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > self.COUNT_CAP:
                self.count_kind = "estimate"
                return int(row[0])
        count = queryset.order_by()[: self.COUNT_CAP].count()
        if count >= self.COUNT_CAP:
            self.count_kind = "capped"
        return count


class StarsFilter(admin.SimpleListFilter):
    """Fixed 1–5 choices: the default filter would ask the database for every distinct value (a full scan)."""

    title = "stars"
    parameter_name = "value"

    def lookups(self, request, model_admin):
        return [(str(stars), "★" * stars) for stars in range(5, 0, -1)]

    def queryset(self, request, queryset):
        if self.value() in {"1", "2", "3", "4", "5"}:
            return queryset.filter(value=int(self.value()))
        return queryset


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Moderation: find and delete ratings. Stars are the reader's own, so staff can't change them here."""

    list_display = ["book_title", "rater_display", "stars", "updated"]
    list_filter = [StarsFilter]
    list_select_related = ["book", "rater__user"]
    raw_id_fields = ["rater", "book"]
    search_fields = ["book__title", "rater__user__email"]
    search_help_text = "A book title (starts with) or a reader's exact email."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ["book", "rater", "stars", "created", "updated"]
    fields = readonly_fields

    @admin.display(description="Book", ordering="book__title")
    def book_title(self, rating):
        return rating.book.title

    @admin.display(description="Rater")
    def rater_display(self, rating):
        return str(rating.rater)  # an email, or the dataset and id: never "reader #12"

    @admin.display(description="Stars", ordering="value")
    def stars(self, rating):
        return f"{star_string(rating.value)} ({rating.value})"

    def has_add_permission(self, request):
        return False  # a rating is a reader's; staff only remove abusive ones

    def get_search_results(self, request, queryset, search_term):
        # One index-friendly subquery, never an OR across joined tables (which scans every rating):
        # an email finds that reader's ratings, anything else the books whose title starts with it.
        term = search_term.strip()
        if not term:
            return queryset, False
        # The ids are resolved first so the planner sees a short literal list and walks the
        # (rater, book) or (book, value) index, instead of scanning ratings newest first for matches.
        if "@" in term:
            raters = list(Rater.objects.filter(user__email__iexact=term).values_list("pk", flat=True))
            return queryset.filter(rater_id__in=raters), False
        books = list(Book.objects.filter(title__istartswith=term).values_list("pk", flat=True)[:1000])
        return queryset.filter(book_id__in=books), False

    def delete_model(self, request, obj):
        book_id = obj.book_id
        super().delete_model(request, obj)
        refresh_rating_summaries([book_id])

    def delete_queryset(self, request, queryset):
        book_ids = set(queryset.values_list("book_id", flat=True))
        super().delete_queryset(request, queryset)
        refresh_rating_summaries(book_ids)



@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ["rater_display", "source", "external_id", "created"]
    list_filter = ["source"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["=external_id", "=user__email"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="Rater", ordering="user__email")
    def rater_display(self, rater):
        return str(rater)


@admin.register(Review)
class ReviewAdmin(ReaderEmailColumn, admin.ModelAdmin):
    list_display = ["book", "reader_email", "excerpt", "hidden", "created"]
    list_filter = ["hidden"]
    list_select_related = ["book", "user"]
    raw_id_fields = ["user", "book"]
    search_fields = ["book__title", "=user__email"]
    search_help_text = "A book title, or a reader's exact email."
    readonly_fields = ["user", "book", "text", "created", "updated"]
    fields = ["user", "book", "text", "hidden", "created", "updated"]
    actions = ["hide_reviews", "show_reviews"]

    @admin.display(description="review")
    def excerpt(self, review):
        return review.text if len(review.text) <= 80 else review.text[:79] + "…"

    def has_add_permission(self, request):
        return False  # staff moderate reviews; readers write them

    @admin.action(description="Hide the selected reviews from book pages")
    def hide_reviews(self, request, queryset):
        count = self._set_hidden(queryset, True)
        self.message_user(request, f"Hid {count} review{'s' if count != 1 else ''}.")

    @admin.action(description="Show the selected reviews again")
    def show_reviews(self, request, queryset):
        count = self._set_hidden(queryset, False)
        self.message_user(request, f"{count} review{'s are' if count != 1 else ' is'} shown again.")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_anonymous_page(obj.book.get_absolute_url())

    def _set_hidden(self, queryset, hidden):
        # A hidden review leaves the cached anonymous book page at once, not when the cache expires.
        books = list(Book.objects.filter(pk__in=queryset.values("book_id")))
        count = queryset.update(hidden=hidden)
        for book in books:
            forget_anonymous_page(book.get_absolute_url())
        return count
