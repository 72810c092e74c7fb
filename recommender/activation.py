"""One retrain at a time (the retrain lock), and making a stored run the active model safely."""

# * One retrain at a time: a PostgreSQL session advisory lock (released by the server when the
#   process dies, however it dies), or on SQLite an flock()ed file next to the database
#   (released by the kernel when the process dies). A second retrain gives up at once.
# * Every activation (retrain and the admin rollback) takes a transaction-scoped lock, so two of them
#   never both "deactivate all, activate one" at once; workers see either the old model or the
#   complete new one, and hear of it through the cache.

import fcntl
import os
import tempfile
from pathlib import Path

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

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


class RetrainError(Exception):
    """A retrain or an activation could not start or did not finish; the message is one line for the operator."""


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


def lock_activation():
    """Wait for any other activation to commit; held until this transaction ends. Call inside atomic()."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ACTIVATION_LOCK_KEY])


def make_active(run):
    """Within the caller's atomic(): ``run`` becomes the only active run (the caller saves ``run``)."""
    lock_activation()
    ModelRun.objects.filter(is_active=True).exclude(pk=run.pk).update(is_active=False)
    run.is_active = True
    transaction.on_commit(lambda: announce_active_run(run.pk))


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
    make_active(run)
    ModelRun.objects.filter(pk=run.pk).update(
        is_active=True, status=ModelRun.Status.SUCCEEDED, note=f"Activated by hand at {timezone.now():%Y-%m-%d %H:%M}."
    )


def prune_artifacts(keep=KEEP_ARTIFACTS):
    """Delete the arrays of all but the active run and the `keep` newest other runs. Returns how many."""
    kept = list(
        ModelArtifact.objects.filter(run__is_active=False).order_by("-run__started").values_list("run_id", flat=True)[:keep]
    )
    deleted, _ = ModelArtifact.objects.filter(run__is_active=False).exclude(run_id__in=kept).delete()
    return deleted
