"""Retraining: load every rating, train the factorization, store the run and activate it safely."""

# The steps are methods of Retrain so tests can drive them one at a time; `manage.py retrain`
# only parses options and prints what the steps report.
#
# Safety, in order:
# * One retrain at a time: a PostgreSQL session advisory lock (released by the server when the
#   process dies, however it dies), or on SQLite an flock()ed file next to the database
#   (released by the kernel when the process dies). A second retrain gives up at once.
# * Holding that lock proves no other retrain is alive, so any run still marked "running" belongs
#   to a process that crashed or was killed: it is marked failed before anything else happens.
# * Anything raised while a run is in progress (including Ctrl-C and SIGTERM, see the command)
#   marks the run failed with the error text and leaves the active run untouched.
# * The artifact is written and the run activated in one transaction, so workers see either the
#   old model or the complete new one.

import dataclasses
import io
import json
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Rating
from accounts.ratings import ratings_fingerprint

from . import factorization
from .artifacts import StoredModel, pack
from .evaluation import topn_metrics
from .models import ModelArtifact, ModelRun

# pg_try_advisory_lock key: any constant shared by every retrain ("bookrec" in ASCII).
ADVISORY_LOCK_KEY = 0x626F6F6B726563
# pg_advisory_xact_lock key taken by every activation (retrain and admin rollback), so two of them
# never both "deactivate all, activate one" at once and trip modelrun_one_active. Distinct from
# ADVISORY_LOCK_KEY, which a retrain holds for its whole run. SQLite's IMMEDIATE transactions
# already serialise writers.
ACTIVATION_LOCK_KEY = 0x626F6F6B726563 + 1
# Cache key that serving watches to swap models without waiting for its periodic check.
ACTIVE_RUN_CACHE_KEY = "recommender:active-run"
# Runs (besides the active one) whose arrays are kept for rollback from the admin.
KEEP_ARTIFACTS = 3
# Quality gate: a new model is "clearly worse" when its validation recall@10 falls more than
# 10% (relative) below the active run's, or its validation RMSE rises more than 5% above it.
RECALL_TOLERANCE = 0.10
RMSE_TOLERANCE = 0.05
# Share of each rater's ratings held out for early stopping and the quality gate.
DEFAULT_VALIDATION_FRACTION = 0.05
# Validation recall@10 is measured on a seeded sample of at most this many users.
VALIDATION_USERS = 5000


class RetrainError(Exception):
    """A retrain could not start or did not finish; the message is one line for the operator."""


@dataclass
class RatingData:
    """Every rating as parallel arrays, with the database ids behind each row and column index."""

    user_idx: np.ndarray  # int32 row index per rating
    item_idx: np.ndarray  # int32 column index per rating
    values: np.ndarray  # float32 stars per rating
    rater_ids: np.ndarray  # int64 Rater.pk of each row
    book_ids: np.ndarray  # int64 Book.pk of each column

    @property
    def n_ratings(self):
        return len(self.values)

    @property
    def shape(self):
        return len(self.rater_ids), len(self.book_ids)


@dataclass
class Outcome:
    """What a retrain did: "skipped", "empty", "dry-run", "activated" or "rejected"."""

    status: str
    message: str
    run: ModelRun | None = None
    metrics: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def load_ratings(using_copy=None):
    """Every rating (site and dataset readers alike) as arrays, without building ORM objects."""
    if using_copy is None:
        using_copy = connection.vendor == "postgresql" and not _is_psycopg3()
    raters, books, values = _copy_ratings_postgres() if using_copy else _fetch_ratings()
    rater_ids, user_idx = index_ids(raters)
    del raters
    book_ids, item_idx = index_ids(books)
    del books
    return RatingData(
        user_idx=user_idx.astype(np.int32),
        item_idx=item_idx.astype(np.int32),
        values=values.astype(np.float32),
        rater_ids=rater_ids.astype(np.int64),
        book_ids=book_ids.astype(np.int64),
    )


def index_ids(ids):
    """(sorted distinct ids, index of each id among them): np.unique(return_inverse=True), faster.

    Primary keys are dense, so a presence table over 0..max id maps them in linear time; sparse
    ids (far more possible values than rows) fall back to sorting.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high > 4 * len(ids) + 1_000_000:
        return np.unique(ids, return_inverse=True)
    present = np.zeros(high + 1, dtype=bool)
    present[ids] = True
    position = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), position[ids]


def _is_psycopg3():
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


# PostgreSQL binary COPY of (rater_id bigint, book_id bigint, value smallint) rows, straight from
# the table: a 2-byte field count, then a 4-byte length before each field. No column can be NULL,
# so every row has the same 32-byte layout and numpy reads the whole stream as one structured array.
# Should a column type ever change, the size and field-count checks below fail loudly.
_COPY_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("rater", ">i8"), ("l2", ">i4"), ("book", ">i8"), ("l3", ">i4"), ("value", ">i2")]
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_ratings_postgres():
    table = connection.ops.quote_name(Rating._meta.db_table)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} (rater_id, book_id, value) TO STDOUT WITH (FORMAT binary)",
            buffer,
        )
    raw = buffer.getbuffer()
    if bytes(raw[:11]) != _COPY_SIGNATURE:
        raise RetrainError("PostgreSQL COPY returned an unexpected header")
    extension = int.from_bytes(raw[15:19], "big")
    body = raw[19 + extension : len(raw) - 2]  # the stream ends with a 2-byte -1 trailer
    if len(body) % _COPY_ROW.itemsize:
        raise RetrainError("PostgreSQL COPY returned rows of an unexpected size")
    rows = np.frombuffer(body, dtype=_COPY_ROW)
    if len(rows) and not np.all(rows["n"] == 3):
        raise RetrainError("PostgreSQL COPY returned rows with an unexpected column count")
    result = rows["rater"].astype(np.int64), rows["book"].astype(np.int64), rows["value"].astype(np.int16)
    del rows, body, raw
    buffer.close()
    return result


def _fetch_ratings(chunk=200_000):
    """The portable path (SQLite): plain cursor, converted to arrays a chunk at a time."""
    parts = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rater_id, book_id, value FROM {connection.ops.quote_name(Rating._meta.db_table)}"
        )
        while rows := cursor.fetchmany(chunk):
            parts.append(np.array(rows, dtype=np.int64).reshape(-1, 3))
    table = np.concatenate(parts) if parts else np.empty((0, 3), np.int64)
    return table[:, 0], table[:, 1], table[:, 2].astype(np.int16)


# --------------------------------------------------------------------------- splitting and metrics


def split_validation(data: RatingData, fraction, seed):
    """(train CSR, validation CSR): about `fraction` of each rater's ratings held out, at random.

    Per rater the held-out count is fraction × n rounded stochastically, and at least two ratings
    always stay in training so every rater keeps a vector.
    """
    n_users, n_items = data.shape
    rng = np.random.default_rng(seed)
    counts = np.bincount(data.user_idx, minlength=n_users)
    quota = np.floor(counts * fraction + rng.random(n_users)).astype(np.int64)
    quota = np.minimum(quota, np.maximum(counts - 2, 0))
    # Sort by rater, randomly within a rater: one int64 key (rater in the high bits) sorts far
    # faster than np.lexsort over two keys.
    key = (data.user_idx.astype(np.int64) << 32) | rng.integers(0, 2**32, data.n_ratings, dtype=np.int64)
    order = np.argsort(key)
    del key
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.empty(data.n_ratings, np.int64)
    position[order] = np.arange(data.n_ratings) - starts[data.user_idx[order]]
    held = position < quota[data.user_idx]
    del order, position

    def csr(mask):
        return sp.csr_matrix(
            (data.values[mask], (data.user_idx[mask], data.item_idx[mask])), shape=(n_users, n_items), dtype=np.float32
        )

    return csr(~held), csr(held)


def validation_metrics(model, train_csr, validation_csr, seed=0, max_users=VALIDATION_USERS, batch=1000):
    """Validation RMSE over every held-out rating, recall@10 over a sample of users with a liked one."""
    metrics = {"val_rmse": None, "val_recall_at_10": None, "val_ratings": int(validation_csr.nnz), "val_users": 0}
    if validation_csr.nnz == 0:
        return metrics
    coo = validation_csr.tocoo()
    predicted = factorization.predict_ratings(model, coo.row, coo.col)
    metrics["val_rmse"] = float(np.sqrt(np.mean((predicted - coo.data) ** 2)))
    liked = sp.csr_matrix(((coo.data >= 4).astype(np.float32), (coo.row, coo.col)), shape=validation_csr.shape)
    liked.eliminate_zeros()
    users = np.flatnonzero(np.diff(liked.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    if len(users) == 0:
        return metrics
    k = model.rank_factors
    item_rank = model.item_factors[:, :k]
    recall_sum = 0.0
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = model.user_factors[chunk, :k] @ item_rank.T
        scores[train_csr[chunk].nonzero()] = -np.inf
        _, recall, _ = topn_metrics(factorization.top_n(scores, 10), liked[chunk], n=10)
        recall_sum += float(recall.sum())
    metrics["val_recall_at_10"] = recall_sum / len(users)
    metrics["val_users"] = int(len(users))
    return metrics


def quality_gate(new_metrics, active_metrics):
    """Why a new model is clearly worse than the active one, or None when it may be activated."""
    new_recall, old_recall = new_metrics.get("val_recall_at_10"), (active_metrics or {}).get("val_recall_at_10")
    if new_recall is not None and old_recall is not None and new_recall < old_recall * (1 - RECALL_TOLERANCE):
        return f"validation recall@10 {new_recall:.4f} is clearly below the active run's {old_recall:.4f}"
    new_rmse, old_rmse = new_metrics.get("val_rmse"), (active_metrics or {}).get("val_rmse")
    if new_rmse is not None and old_rmse is not None and new_rmse > old_rmse * (1 + RMSE_TOLERANCE):
        return f"validation RMSE {new_rmse:.4f} is clearly above the active run's {old_rmse:.4f}"
    return None


# --------------------------------------------------------------------------- the lock


class RetrainLock:
    """Held by at most one retrain at a time; the operating system or PostgreSQL drops it on death."""

    def __init__(self):
        self._file = None
        self._postgres = connection.vendor == "postgresql"

    def acquire(self):
        if self._postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
                return bool(cursor.fetchone()[0])
        import fcntl

        handle = open(self.path(), "a+")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self):
        if self._postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
            return
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @staticmethod
    def path():
        """A lock file next to the SQLite database file (or in the temp folder for an in-memory one)."""
        name = str(connection.settings_dict["NAME"])
        if name and not name.startswith(("file:", ":memory:")) and Path(name).parent.is_dir():
            return Path(f"{name}.retrain-lock")
        # An in-memory database lives and dies with its process, so its lock is per process too.
        return Path(tempfile.gettempdir()) / f"bookrec-retrain-memory-{os.getpid()}.lock"

    def holder(self):
        """Who holds the lock, for the message (the PID written into the lock file on SQLite)."""
        if self._postgres:
            return "another session holds the PostgreSQL advisory lock"
        try:
            pid = self.path().read_text().strip()
        except OSError:
            pid = ""
        return f"process {pid} holds {self.path()}" if pid else f"{self.path()} is locked"


# --------------------------------------------------------------------------- the retrain


class Retrain:
    """One `manage.py retrain`. `report` receives one line of progress at a time."""

    def __init__(self, params: factorization.TrainParams, *, validation_fraction=DEFAULT_VALIDATION_FRACTION,
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
        if not Rating.objects.exists():
            return Outcome("empty", "There are no ratings yet: nothing to train, the site serves popular books.")
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
            epochs.append(_epoch_dict(report))
            self.report(_epoch_line(report, self.params.epochs))
            self._save(epochs=epochs, heartbeat=timezone.now())

        model, _ = factorization.train(
            train_csr, self.params, validation=validation_csr, on_epoch=on_epoch, early_stopping=self.early_stopping
        )
        metrics = validation_metrics(model, train_csr, validation_csr, seed=self.params.seed)
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
        counts = np.bincount(data.user_idx, minlength=n_users).astype(np.int32)
        blob = pack(StoredModel(model=model, rater_ids=data.rater_ids, book_ids=data.book_ids, rater_rating_counts=counts))
        del data, model
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
                lock_activation()
                ModelRun.objects.filter(is_active=True).update(is_active=False)
                run.status = ModelRun.Status.SUCCEEDED
                run.is_active = True
                run.note = f"Activated by --force although {overruled} (run #{active.pk})." if overruled else ""
            run.save()
            if run.is_active:
                transaction.on_commit(lambda: announce_active_run(run.pk))
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


def lock_activation():
    """Wait for any other activation to commit; held until this transaction ends. Call inside atomic()."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ACTIVATION_LOCK_KEY])


def announce_active_run(run_id):
    """Tell every worker sharing the cache that a new run is active (they also poll the database)."""
    cache.set(ACTIVE_RUN_CACHE_KEY, run_id, timeout=None)


@transaction.atomic
def activate_run(run):
    """Make an earlier run with stored arrays the active one (rollback from the admin)."""
    if run.status not in (ModelRun.Status.SUCCEEDED, ModelRun.Status.REJECTED):
        raise RetrainError(f"Run #{run.pk} did not finish training; it cannot be activated.")
    if not ModelArtifact.objects.filter(run=run).exists():
        raise RetrainError(f"The arrays of run #{run.pk} were pruned; it cannot be activated.")
    lock_activation()
    ModelRun.objects.filter(is_active=True).exclude(pk=run.pk).update(is_active=False)
    ModelRun.objects.filter(pk=run.pk).update(
        is_active=True, status=ModelRun.Status.SUCCEEDED, note=f"Activated by hand at {timezone.now():%Y-%m-%d %H:%M}."
    )
    transaction.on_commit(lambda: announce_active_run(run.pk))


def prune_artifacts(keep=KEEP_ARTIFACTS):
    """Delete the arrays of all but the active run and the `keep` newest other runs. Returns how many."""
    kept = list(
        ModelArtifact.objects.filter(run__is_active=False).order_by("-run__started").values_list("run_id", flat=True)[:keep]
    )
    deleted, _ = ModelArtifact.objects.filter(run__is_active=False).exclude(run_id__in=kept).delete()
    return deleted


def _epoch_dict(report):
    return {
        "epoch": int(report.epoch),
        "loss": float(report.loss),
        "seconds": round(float(report.seconds), 3),
        "val_rmse": None if report.val_rmse is None else float(report.val_rmse),
        "val_recall_at_10": None if report.val_recall_at_10 is None else float(report.val_recall_at_10),
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
