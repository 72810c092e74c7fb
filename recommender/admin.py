"""Staff views of model runs (with rollback), ratings (moderation) and raters."""

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from catalog.admin import BookAdmin as CatalogBookAdmin
from catalog.models import Book

from .activation import RetrainError, activate_run
from .charts import training_curves_svg
from .merge import merge_books
from .models import ModelArtifact, ModelRun, Rater, Rating
from .ratings import refresh_rating_summaries


class EstimatedCountPaginator(Paginator):
    """Counting millions of rows takes seconds, so big lists show an estimate or a capped count.

    Unfiltered: PostgreSQL's planner estimate (pg_class.reltuples). Filtered or searched: rows are
    counted up to COUNT_CAP, and lists with more show COUNT_CAP of them (pages further on are
    reached by narrowing the search, which moderation always does).
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > self.COUNT_CAP:
                return int(row[0])
        return queryset.order_by()[: self.COUNT_CAP].count()


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "run", "status", "is_active", "started", "duration", "raters", "books", "ratings", "val_rmse", "val_recall",
        "has_arrays",
    ]
    list_filter = ["status", "is_active"]
    ordering = ["-started"]
    actions = ["activate_selected"]
    fieldsets = [
        (None, {"fields": ["status", "is_active", "note", "error"]}),
        ("Training curves", {"fields": ["training_curves"]}),
        ("Data and timing", {"fields": [
            "started", "finished", "duration", "n_users", "n_books", "n_ratings", "time_split", "pid", "heartbeat",
            "ratings_fingerprint",
        ]}),
        ("Parameters and metrics", {"fields": ["parameters", "metrics", "epochs"]}),
    ]
    readonly_fields = [
        "status", "is_active", "note", "error", "training_curves", "started", "finished", "duration", "n_users",
        "n_books", "n_ratings", "time_split", "pid", "heartbeat",
        "ratings_fingerprint", "parameters", "metrics", "epochs",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            arrays_stored=Exists(ModelArtifact.objects.filter(run=OuterRef("pk")))
        )

    def has_add_permission(self, request):
        return False  # runs come from `manage.py retrain`

    def has_change_permission(self, request, obj=None):
        return False  # a run is a record; the only change is activation, an action

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_active)

    @admin.display(description="run", ordering="pk")
    def run(self, run):
        return f"#{run.pk}"

    @admin.display(description="raters", ordering="n_users")
    def raters(self, run):
        return f"{run.n_users:,}"

    @admin.display(description="books", ordering="n_books")
    def books(self, run):
        return f"{run.n_books:,}"

    @admin.display(description="ratings", ordering="n_ratings")
    def ratings(self, run):
        return f"{run.n_ratings:,}"

    @admin.display(description="Load / train / store")
    def time_split(self, run):
        parts = [run.load_seconds, run.train_seconds, run.store_seconds]
        return " / ".join("—" if seconds is None else f"{seconds:.1f} s" for seconds in parts)

    @admin.display(description="duration")
    def duration(self, run):
        seconds = run.duration_seconds
        if seconds is None:
            return "—"
        return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"

    @admin.display(description="RMSE")
    def val_rmse(self, run):
        value = (run.metrics or {}).get("val_rmse")
        return "—" if value is None else f"{value:.4f}"

    @admin.display(description="recall@10")
    def val_recall(self, run):
        value = (run.metrics or {}).get("val_recall_at_10")
        return "—" if value is None else f"{value:.4f}"

    @admin.display(description="stored", boolean=True)
    def has_arrays(self, run):
        return getattr(run, "arrays_stored", None)

    @admin.display(description="per epoch")
    def training_curves(self, run):
        return training_curves_svg(run.epochs)

    @admin.action(description="Activate the selected run (rollback)")
    def activate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to activate.", messages.ERROR)
            return
        run = queryset.get()
        try:
            activate_run(run)
        except RetrainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Run #{run.pk} is now active; workers switch to it within seconds.", messages.SUCCESS)


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
    list_display = ["book", "rater", "value", "updated"]
    list_filter = [StarsFilter]
    list_select_related = ["book", "rater__user"]
    raw_id_fields = ["rater", "book"]
    search_fields = ["book__title", "rater__user__email"]
    search_help_text = "A book title (starts with) or a reader's exact email."
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ["created", "updated"]

    def get_search_results(self, request, queryset, search_term):
        # One index-friendly subquery, never an OR across joined tables (which scans every rating):
        # an email finds that reader's ratings, anything else the books whose title starts with it.
        term = search_term.strip()
        if not term:
            return queryset, False
        from catalog.models import Book

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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        books = {obj.book_id}
        if change and "book" in form.changed_data:
            books.add(form.initial.get("book"))
        refresh_rating_summaries(books)


@admin.register(Rater)
class RaterAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "source", "external_id", "created"]
    list_filter = ["source"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    search_fields = ["=external_id", "=user__email"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


class MergeForm(forms.Form):
    keep = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Keep this book")


admin.site.unregister(Book)


@admin.register(Book)
class BookAdmin(CatalogBookAdmin):
    """The catalog's book admin, plus merging duplicates: it moves ratings and shelves, which the catalog can't."""

    actions = [*CatalogBookAdmin.actions, "merge_duplicates"]

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
                f"{result.ratings_moved} ratings moved, {result.ratings_dropped} duplicate ratings dropped "
                f"(the most recently updated one of each reader was kept), {result.shelves_moved} shelf entries moved.",
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
