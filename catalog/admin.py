"""Staff curation of the catalog: books (search, hide, restore, merge duplicates), authors and genres."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Prefetch
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from .merge import merge_books
from .models import Author, Book, BookAuthor, Genre


class MergeForm(forms.Form):
    keep = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Keep this book")


class BookAuthorInline(admin.TabularInline):
    model = BookAuthor
    autocomplete_fields = ["author"]
    extra = 1
    ordering = ["position"]


class DecadeFilter(admin.SimpleListFilter):
    title = "publication year"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        return [("unknown", "Unknown"), ("before-1900", "Before 1900"),
                *[(str(decade), f"{decade}s") for decade in range(1900, 2030, 10)]]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "unknown":
            return queryset.filter(publication_year__isnull=True)
        if value == "before-1900":
            return queryset.filter(publication_year__lt=1900)
        # A real integer check: str.isdigit() accepts "²", which int() then refuses.
        if value and value.isascii() and value.isdecimal():
            decade = int(value)
            return queryset.filter(publication_year__gte=decade, publication_year__lt=decade + 10)
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    title = "language"
    parameter_name = "language"

    def lookups(self, request, model_admin):
        from .filters import language_choices

        return [("none", "Not set"), *language_choices()]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(language="")
        return queryset.filter(language=value) if value else queryset


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "authors_display", "publication_year", "language", "ratings_count", "average_display",
                    "hidden_from_recommendations"]
    list_filter = ["hidden_from_recommendations", "genres", LanguageFilter, DecadeFilter]
    search_fields = ["title", "original_title", "series", "bookauthor__author__name", "=isbn13", "=isbn10",
                     "=goodreads_book_id"]
    autocomplete_fields = ["genres"]
    inlines = [BookAuthorInline]
    readonly_fields = ["ratings_count", "average_rating", "bayesian_rating", "ratings_1", "ratings_2", "ratings_3",
                       "ratings_4", "ratings_5", "search_text", "created", "updated"]
    fieldsets = [
        (None, {"fields": ["title", "original_title", ("series", "series_position"), "publication_year", "genres",
                           "description", "hidden_from_recommendations"]}),
        ("Identifiers and cover", {"fields": [("isbn10", "isbn13"), "goodreads_book_id", "language", "pages", "cover_url"]}),
        ("Rating summary (kept by the recommender)", {"fields": [
            ("ratings_count", "average_rating", "bayesian_rating"),
            ("ratings_1", "ratings_2", "ratings_3", "ratings_4", "ratings_5")]}),
        ("Search", {"classes": ["collapse"], "fields": ["search_text", "created", "updated"]}),
    ]
    list_select_related = False  # a book has no foreign keys: authors come from one prefetch below
    show_full_result_count = False
    list_per_page = 50
    actions = ["hide_from_recommendations", "restore_to_recommendations", "merge_duplicates"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("bookauthor_set", queryset=BookAuthor.objects.select_related("author").order_by("position"))
        )

    @admin.display(description="Authors")
    def authors_display(self, book):
        return book.author_names

    @admin.display(description="Average", ordering="average_rating")
    def average_display(self, book):
        return f"{book.average_rating:.2f}" if book.ratings_count else "—"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        Book.objects.filter(pk=form.instance.pk).rebuild_search_text()

    @admin.action(description="Hide selected books from recommendations")
    def hide_from_recommendations(self, request, queryset):
        count = queryset.update(hidden_from_recommendations=True)
        self.message_user(request, f"{count} book{'s' if count != 1 else ''} hidden from recommendations.", messages.SUCCESS)

    @admin.action(description="Restore selected books to recommendations")
    def restore_to_recommendations(self, request, queryset):
        count = queryset.update(hidden_from_recommendations=False)
        self.message_user(request, f"{count} book{'s' if count != 1 else ''} restored to recommendations.", messages.SUCCESS)

    @admin.action(description="Merge selected duplicate books…")
    def merge_duplicates(self, request, queryset):
        books = list(queryset.order_by("-ratings_count", "id")[:20])
        if len(books) < 2:
            self.message_user(request, "Select at least two books to merge.", messages.WARNING)
            return None
        form = MergeForm(request.POST if "confirm_merge" in request.POST else None)
        form.fields["keep"].choices = [(book.pk, f"{book.title} — {book.author_names} (#{book.pk}, "
                                                 f"{book.ratings_count} ratings)") for book in books]
        if form.is_bound and form.is_valid():
            keep = next(book for book in books if book.pk == form.cleaned_data["keep"])
            result = merge_books(keep, [book for book in books if book.pk != keep.pk])
            self.message_user(
                request,
                f"Merged {result.merged} book{'s' if result.merged != 1 else ''} into “{keep.title}”: "
                f"{result.summary()}. Their old pages now redirect to it.",
                messages.SUCCESS,
            )
            return redirect("admin:catalog_book_change", keep.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge duplicate books",
            "opts": self.model._meta,
            "books": books,
            "form": form,
            "action_name": "merge_duplicates",
            "selected": [book.pk for book in books],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/catalog/book/merge.html", context)


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "book_count"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(book_count=Count("bookauthor"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "name" in form.changed_data:
            # Search finds books by their authors' names: a corrected name must be findable at once.
            Book.objects.filter(bookauthor__author=obj).rebuild_search_text()

    @admin.display(description="Books", ordering="book_count")
    def book_count(self, author):
        return author.book_count


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "book_count"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(book_count=Count("books"))

    @admin.display(description="Books", ordering="book_count")
    def book_count(self, genre):
        return genre.book_count
