"""manage.py retrain's steps: load every rating, train the served model (blend.py), store the run and activate it safely."""

# The steps are methods of Retrain so tests can drive them one at a time; `manage.py retrain`
# only parses options and prints what the steps report. The pieces live beside it: loading.py
# (ratings into arrays), validation.py (held-out split, metrics, quality gate), blend.py (the
# training itself and the choice of blend on the validation split) and activation.py (the retrain lock, activation, pruning).
#
# Safety, in order:
# * One retrain at a time (activation.RetrainLock). A second retrain gives up at once.
# * Holding that lock proves no other retrain is alive, so any run still marked "running" belongs
#   to a process that crashed or was killed: it is marked failed before anything else happens.
# * Anything raised while a run is in progress (including Ctrl-C and SIGTERM, see the command)
#   marks the run failed with the error text and leaves the active run untouched.
# * A model whose training diverged (a loss or a factor that is not a finite number) is never
#   stored or activated: the run fails with a one-line reason.
# * The artifact is written and the run activated in one transaction, so workers see either the
#   old model or the complete new one.

import dataclasses
import json
import math
import os
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone

from . import blend, dismissals
from .activation import RetrainError, RetrainLock, make_active, prune_artifacts
from .artifacts import StoredModel, pack
from .factor_model import TrainParams
from .loading import has_ratings, load_dismissals, load_ratings, ratings_fingerprint
from .models import ModelArtifact, ModelRun
from .validation import DEFAULT_VALIDATION_FRACTION, quality_gate, split_validation, validation_metrics

DIVERGED = (
    "training diverged: {what} is not a finite number, so the model cannot be used "
    "(try a smaller --learning-rate or --regularization)"
)


@dataclass
class Outcome:
    """What a retrain did: "skipped", "dry-run", "activated" or "rejected"."""

    status: str
    message: str
    run: ModelRun | None = None
    metrics: dict = field(default_factory=dict)


class Retrain:
    """One `manage.py retrain`. `report` receives one line of progress at a time."""

    def __init__(self, params: TrainParams, *, validation_fraction=DEFAULT_VALIDATION_FRACTION,
                 early_stopping=True, dry_run=False, force=False, report=None):
        if not 0 < validation_fraction < 1:
            raise RetrainError("--validation-fraction must be between 0 and 1 (exclusive)")
        self.params = params
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.dry_run = dry_run
        self.force = force
        self.report = report or (lambda line: None)
        self.run_row = None

    def run(self) -> Outcome:
        lock = RetrainLock()
        if not lock.acquire():
            raise RetrainError(f"Another retrain is running ({lock.holder()}); not starting a second one.")
        try:
            self.fail_stale_runs()
            return self._run_locked()
        finally:
            lock.release()

    def fail_stale_runs(self):
        """Mark runs left "running" by a dead process as failed (we hold the lock, so none is alive)."""
        failed = []
        for run in ModelRun.objects.filter(status=ModelRun.Status.RUNNING).only("pk", "pid", "heartbeat", "started"):
            last_sign = run.heartbeat or run.started
            run.status = ModelRun.Status.FAILED
            run.finished = timezone.now()
            run.error = (
                f"The retrain process (pid {run.pid}) stopped without finishing; last heartbeat "
                f"{last_sign:%Y-%m-%d %H:%M:%S %Z}. Marked failed by the next retrain."
            )
            run.save(update_fields=["status", "finished", "error"])
            failed.append(run.pk)
            self.report(f"Run #{run.pk} was left running by a process that died (pid {run.pid}): marked failed.")
        return failed

    def _run_locked(self) -> Outcome:
        if not has_ratings():
            raise RetrainError(
                "There are no ratings in this database: nothing to train (check DATABASE_URL; "
                "until ratings exist the site recommends popular books)."
            )
        active = ModelRun.objects.filter(is_active=True).defer("epochs").first()
        fingerprint = ratings_fingerprint()
        parameters = self.parameters()
        if active is not None and active.ratings_fingerprint == fingerprint and not self.force and not self.dry_run:
            return Outcome(
                "skipped", f"No rating changed since the active run #{active.pk}: skipping (use --force to retrain)."
            )
        # The same ratings and parameters would train the same model and the gate would reject it
        # again, so cron doesn't retrain a rejected model every night.
        rejected = (
            ModelRun.objects.filter(status=ModelRun.Status.REJECTED)
            .order_by("-started", "-pk")
            .only("pk", "parameters", "ratings_fingerprint")
            .first()
        )
        if (
            rejected is not None
            and rejected.ratings_fingerprint == fingerprint
            and rejected.parameters == parameters
            and not self.force
            and not self.dry_run
        ):
            return Outcome(
                "skipped",
                f"Run #{rejected.pk} was rejected with these same ratings and parameters and no rating changed "
                "since: skipping (use --force to retrain and activate anyway).",
            )
        if not self.dry_run:
            self.run_row = ModelRun.objects.create(
                status=ModelRun.Status.RUNNING,
                pid=os.getpid(),
                heartbeat=timezone.now(),
                parameters=parameters,
                ratings_fingerprint=fingerprint,
            )
            self.report(f"Run #{self.run_row.pk} started (pid {os.getpid()}).")
        try:
            return self._train_and_store(active)
        except BaseException as exc:
            # Interrupted or crashed: the run is failed and the active run keeps serving.
            if self.run_row is not None:
                self.mark_failed(exc)
            raise

    def _train_and_store(self, active) -> Outcome:
        started = time.perf_counter()
        data = load_ratings()
        train_csr, validation_csr = split_validation(data, self.validation_fraction, self.params.seed)
        load_seconds = time.perf_counter() - started
        n_users, n_books = data.shape
        self.report(
            f"Loaded {data.n_ratings:,} ratings by {n_users:,} raters of {n_books:,} books in {load_seconds:.1f} s "
            f"({validation_csr.nnz:,} held out for validation)."
        )
        self._save(n_users=n_users, n_books=n_books, n_ratings=data.n_ratings, load_seconds=load_seconds)

        started = time.perf_counter()
        epochs = []

        def on_epoch(report):
            if not math.isfinite(report.loss):  # stop before a NaN reaches the run's JSON
                raise RetrainError(self._diverged(f"the loss of epoch {report.epoch}"))
            epochs.append(_epoch_dict(report))
            self.report(_epoch_line(report, self.params.epochs))
            self._save(epochs=epochs, heartbeat=timezone.now())

        fitted = blend.fit(
            train_csr, validation_csr, self.params, on_epoch=on_epoch, early_stopping=self.early_stopping,
            report=self.report,
        )
        model, item_item = fitted.model, fitted.item_item
        if not model.all_finite():
            raise RetrainError(self._diverged("a factor of the trained model"))
        self._save(settings_choice=fitted.choice)
        metrics = validation_metrics(model, train_csr, validation_csr, seed=self.params.seed, item_item=item_item)
        metrics["epochs_run"] = len(epochs)
        train_seconds = time.perf_counter() - started
        self.report(f"Trained in {train_seconds:.1f} s: {_metrics_text(metrics)}.")
        del train_csr, validation_csr

        rejection = quality_gate(metrics, active.metrics) if active is not None else None
        overruled = rejection if self.force else None
        if self.force:
            rejection = None
        if self.dry_run:
            verdict = f"would be rejected: {rejection}" if rejection else "would be activated"
            return Outcome("dry-run", f"Dry run, nothing stored; the model {verdict}.", metrics=metrics)

        started = time.perf_counter()
        # Each reader's dismissals pull their stored vector away from those books (recommender/dismissals.py);
        # serving reuses a stored vector only while the reader's ratings and dismissals both match these counts.
        counts = np.bincount(data.user_idx, minlength=n_users).astype(np.int32)
        counts += dismissals.apply_to_trained(model, data, load_dismissals(data))
        blob = pack(
            StoredModel(
                model=model, rater_ids=data.rater_ids, book_ids=data.book_ids, rater_rating_counts=counts,
                item_item=item_item,
            )
        )
        del data, model, item_item
        run = self.run_row
        with transaction.atomic():
            ModelArtifact.objects.create(run=run, data=blob, size_bytes=len(blob))
            run.metrics = metrics
            run.load_seconds = load_seconds
            run.train_seconds = train_seconds
            run.finished = timezone.now()
            if rejection:
                run.status = ModelRun.Status.REJECTED
                run.note = f"Not activated: {rejection} (run #{active.pk}). Use --force to activate anyway."
            else:
                make_active(run)
                run.status = ModelRun.Status.SUCCEEDED
                run.note = f"Activated by --force although {overruled} (run #{active.pk})." if overruled else ""
            run.save()
        run.store_seconds = time.perf_counter() - started
        run.save(update_fields=["store_seconds"])
        pruned = prune_artifacts()
        timing = f"load {run.load_seconds:.1f} s, train {run.train_seconds:.1f} s, store {run.store_seconds:.1f} s"
        size = f"{len(blob) / 1e6:.1f} MB stored"
        if pruned:
            size += f", arrays of {pruned} old run(s) pruned"
        if rejection:
            return Outcome("rejected", f"Run #{run.pk} stored but NOT activated: {rejection}. {timing}.", run, metrics)
        return Outcome("activated", f"Run #{run.pk} is now active ({timing}; {size}).", run, metrics)

    def parameters(self):
        """What this retrain trains with, as stored on its run (JSON round-tripped, so it compares with stored ones)."""
        return json.loads(
            json.dumps(
                {
                    **dataclasses.asdict(self.params),
                    "validation_fraction": self.validation_fraction,
                    "early_stopping": self.early_stopping,
                }
            )
        )

    def _diverged(self, what):
        reason = DIVERGED.format(what=what)
        if self.dry_run:
            return f"Dry run: {reason}; such a model is never stored or activated."
        return f"Retrain failed, nothing stored and the previous model keeps serving: {reason}."

    def mark_failed(self, exc):
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip() or type(exc).__name__
        run = self.run_row
        # The failure may have broken the connection's transaction state; use a fresh statement.
        ModelRun.objects.filter(pk=run.pk).update(
            status=ModelRun.Status.FAILED, finished=timezone.now(), error=text, is_active=False
        )

    def _save(self, **fields):
        if self.run_row is None:
            return
        for name, value in fields.items():
            setattr(self.run_row, name, value)
        ModelRun.objects.filter(pk=self.run_row.pk).update(**fields)


def _epoch_dict(report):
    return {
        "epoch": int(report.epoch),
        "loss": float(report.loss),
        "seconds": round(float(report.seconds), 3),
        "val_rmse": None if report.val_rmse is None else float(report.val_rmse),
        "val_recall_at_10": None if report.val_recall_at_10 is None else float(report.val_recall_at_10),
        "val_ndcg_at_10": None if report.val_ndcg_at_10 is None else float(report.val_ndcg_at_10),
    }


def _epoch_line(report, total):
    rmse = "—" if report.val_rmse is None else f"{report.val_rmse:.4f}"
    recall = "—" if report.val_recall_at_10 is None else f"{report.val_recall_at_10:.4f}"
    return (
        f"epoch {report.epoch:>3}/{total}  loss {report.loss:.4f}  val RMSE {rmse}  "
        f"val recall@10 {recall}  {report.seconds:.1f} s"
    )


def _metrics_text(metrics):
    rmse = metrics.get("val_rmse")
    recall = metrics.get("val_recall_at_10")
    return (
        f"validation RMSE {'—' if rmse is None else f'{rmse:.4f}'}, "
        f"recall@10 {'—' if recall is None else f'{recall:.4f}'} over {metrics.get('val_users', 0):,} readers"
    )
