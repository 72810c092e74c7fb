"""Staff views of model runs: metrics, training curves and rollback."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef

from .activation import RetrainError, activate_run
from .charts import training_curves_svg
from .models import ModelArtifact, ModelRun


def metric_column(key, description, template):
    """A run-list column showing one figure of ModelRun.metrics, formatted with ``template`` ("—" when absent)."""

    @admin.display(description=description)
    def column(self, run):
        value = (run.metrics or {}).get(key)
        return "—" if value is None else template.format(value)

    return column


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "run", "status", "is_active", "started", "duration", "raters", "books", "ratings", "val_rmse", "val_recall",
        "val_ndcg", "val_ratings", "val_users", "epochs_run", "chosen_setting", "has_arrays",
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
        ("Parameters and metrics", {"fields": ["parameters", "chosen_setting", "settings_choice", "metrics", "epochs"]}),
    ]
    readonly_fields = [
        "status", "is_active", "note", "error", "training_curves", "started", "finished", "duration", "n_users",
        "n_books", "n_ratings", "time_split", "pid", "heartbeat",
        "ratings_fingerprint", "parameters", "chosen_setting", "settings_choice", "metrics", "epochs",
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

    val_rmse = metric_column("val_rmse", "RMSE", "{:.4f}")
    val_recall = metric_column("val_recall_at_10", "recall@10", "{:.4f}")
    val_ndcg = metric_column("val_ndcg_at_10", "NDCG@10", "{:.4f}")
    val_ratings = metric_column("val_ratings", "held-out ratings", "{:,}")
    val_users = metric_column("val_users", "validation readers", "{:,}")
    epochs_run = metric_column("epochs_run", "epochs", "{}")

    @admin.display(description="chosen blend")
    def chosen_setting(self, run):
        chosen = (run.settings_choice or {}).get("chosen")
        if not chosen:
            return (run.settings_choice or {}).get("note", "—")
        return f"liked weight {chosen['liked_weight']:g}, factor weight {chosen['mf_weight']:g}"

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
