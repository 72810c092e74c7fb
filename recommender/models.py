"""The trained models that serve recommendations, and the picks that recommendation emails have sent."""

from django.conf import settings
from django.db import models


class ModelRun(models.Model):
    """One retrain: its parameters, progress, metrics and, once trained, its arrays (ModelArtifact)."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        REJECTED = "rejected", "Rejected (worse than active)"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    is_active = models.BooleanField(default=False)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True, help_text="Updated each epoch; a stale running run has died.")
    pid = models.IntegerField(null=True, blank=True)
    parameters = models.JSONField(default=dict)
    n_users = models.PositiveIntegerField(default=0)
    n_books = models.PositiveIntegerField(default=0)
    n_ratings = models.PositiveBigIntegerField(default=0)
    ratings_fingerprint = models.CharField(
        max_length=100, blank=True, help_text="Fingerprint of the ratings trained on; retrain skips while it is unchanged."
    )
    epochs = models.JSONField(default=list, help_text="Per-epoch loss, validation metrics and seconds.")
    metrics = models.JSONField(default=dict)
    settings_choice = models.JSONField(
        default=dict,
        blank=True,
        help_text="The blend setting retrain chose on its validation split, and every candidate's validation metrics.",
    )
    load_seconds = models.FloatField(null=True, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)
    store_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    note = models.TextField(blank=True, help_text="Why the run was not activated, or how it was activated.")

    class Meta:
        ordering = ["-started"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="modelrun_one_active"),
        ]
        indexes = [models.Index(fields=["status", "-started"], name="modelrun_status_idx")]

    def __str__(self):
        return f"Run #{self.pk} ({self.get_status_display()})"

    @property
    def duration_seconds(self):
        if self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


class ModelArtifact(models.Model):
    """A trained run's arrays (factors, biases, id maps) as one uncompressed .npz blob.

    One blob per run rather than one row per rater and book: storing 53k + 10k rows takes
    seconds even with big batches, while one INSERT of ~20 MB takes a fraction of one, every
    worker reads the whole model anyway, and pruning an old run is a single DELETE.
    See recommender/artifacts.py for the layout.
    """

    run = models.OneToOneField(ModelRun, on_delete=models.CASCADE, primary_key=True, related_name="artifact")
    data = models.BinaryField()
    size_bytes = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"arrays of run {self.run_id}"


class DigestPick(models.Model):
    """A book that a recommendation email has sent to a reader: no later email offers it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_picks")
    book = models.ForeignKey("catalog.Book", on_delete=models.CASCADE, related_name="+")
    sent = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "book"], name="digestpick_unique_user_book")]

    def __str__(self):
        return f"{self.book_id} sent to {self.user_id}"
