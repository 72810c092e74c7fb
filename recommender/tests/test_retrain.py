"""manage.py retrain: training, storing and activating a run, and every way it refuses or fails safely."""

import io
import os
import threading
import time

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from accounts.models import Rater, Rating
from accounts.tests.concurrency import wait_until_a_session_waits_on_a_lock
from catalog.merge import Moved, merge_books
from catalog.models import Book
from recommender import kernel as factorization
from recommender import training
from recommender.activation import ADVISORY_LOCK_KEY, KEEP_ARTIFACTS, RetrainLock, activate_run
from recommender.artifacts import unpack
from recommender.factor_model import TrainParams
from recommender.loading import index_ids, load_ratings
from recommender.models import ModelArtifact, ModelRun
from recommender.training import Retrain
from recommender.validation import split_validation

from .conftest import FAST_TRAINING


def retrain(*args):
    out = io.StringIO()
    call_command("retrain", *FAST_TRAINING, *args, stdout=out)
    return out.getvalue()


def test_retrain_stores_and_activates_a_run_with_everything_recorded(taste_catalog):
    output = retrain()
    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.SUCCEEDED
    assert run.is_active
    assert (run.n_users, run.n_books, run.n_ratings) == (60, 30, 720)
    assert run.parameters["factors"] == 4 and run.parameters["validation_fraction"] == 0.2
    assert 1 <= len(run.epochs) <= 6
    assert {"epoch", "loss", "seconds", "val_rmse", "val_recall_at_10"} <= set(run.epochs[0])
    assert run.metrics["val_rmse"] < 2.0
    assert run.metrics["val_recall_at_10"] > 0
    assert run.load_seconds is not None and run.train_seconds is not None and run.store_seconds is not None
    assert run.finished is not None and run.ratings_fingerprint
    assert "epoch   1/6" in output and "val recall@10" in output
    assert f"Run #{run.pk} is now active" in output
    stored = unpack(ModelArtifact.objects.get(run=run).data)
    assert sorted(stored.book_ids) == sorted(book.pk for book in taste_catalog.books)
    assert stored.model.item_factors.shape[0] == 30
    assert stored.rater_rating_counts.sum() == 720


def test_loading_includes_site_readers_and_dataset_readers(taste_catalog, reader):
    Rating.objects.create(rater=Rater.objects.create(user=reader), book=taste_catalog.fantasy[0], value=5)
    data = load_ratings()
    assert data.n_ratings == 721
    assert data.shape == (61, 30)
    row = int(np.searchsorted(data.rater_ids, reader.rater.pk))
    assert data.values[data.user_idx == row].tolist() == [5.0]


@pytest.mark.postgres
def test_postgres_copy_loads_the_same_arrays_as_the_portable_path(taste_catalog):
    fast, slow = load_ratings(using_copy=True), load_ratings(using_copy=False)
    for name in ("user_idx", "item_idx", "values", "rater_ids", "book_ids"):
        fast_rows = np.lexsort((fast.item_idx, fast.user_idx))
        slow_rows = np.lexsort((slow.item_idx, slow.user_idx))
        values_fast, values_slow = getattr(fast, name), getattr(slow, name)
        if len(values_fast) == fast.n_ratings:
            values_fast, values_slow = values_fast[fast_rows], values_slow[slow_rows]
        assert np.array_equal(values_fast, values_slow), name


def test_validation_split_holds_out_about_the_fraction_of_each_reader(taste_catalog):
    data = load_ratings()
    train_csr, validation_csr = split_validation(data, 0.25, seed=3)
    assert train_csr.nnz + validation_csr.nnz == 720
    held_per_reader = np.diff(validation_csr.indptr)
    assert 2 <= held_per_reader.min() and held_per_reader.max() <= 4  # 12 ratings each × 0.25 = 3 ± 1
    assert train_csr.multiply(validation_csr).nnz == 0
    again, _ = split_validation(data, 0.25, seed=3)
    assert (again != train_csr).nnz == 0


def test_same_seed_gives_the_same_model(taste_catalog):
    retrain()
    retrain("--force")
    first, second = (unpack(artifact.data).model for artifact in ModelArtifact.objects.order_by("run_id"))
    assert np.allclose(first.item_factors, second.item_factors)


def test_unchanged_ratings_skip_with_success_until_forced(taste_catalog):
    retrain()
    output = retrain()
    assert "No rating changed" in output
    assert ModelRun.objects.count() == 1
    retrain("--force")
    assert ModelRun.objects.count() == 2
    assert ModelRun.objects.get(is_active=True) == ModelRun.objects.order_by("-pk").first()
    assert ModelRun.objects.get(is_active=True).note == ""  # as good as the last one: nothing overruled


def test_a_new_rating_makes_retrain_train_again(taste_catalog):
    retrain()
    Rating.objects.create(rater=Rater.objects.get(external_id="1"), book=taste_catalog.mystery[-1], value=1)
    retrain()
    assert ModelRun.objects.count() == 2


def test_no_ratings_at_all_fails_with_a_clear_message_and_no_run(db):
    with pytest.raises(CommandError, match="There are no ratings in this database: nothing to train"):
        retrain()
    assert not ModelRun.objects.exists()


def test_dry_run_trains_and_reports_but_stores_nothing(taste_catalog):
    output = retrain("--dry-run")
    assert "epoch   1/6" in output
    assert "Dry run, nothing stored" in output
    assert not ModelRun.objects.exists()
    assert not ModelArtifact.objects.exists()


def test_clearly_worse_model_is_stored_but_not_activated_unless_forced(taste_catalog):
    retrain()
    good = ModelRun.objects.get()
    Rating.objects.create(rater=Rater.objects.get(external_id="2"), book=taste_catalog.mystery[-1], value=2)
    # A model that cannot learn anything: one factor, crushed by regularization.
    output = retrain("--factors", "1", "--epochs", "1", "--regularization", "1000")
    bad = ModelRun.objects.exclude(pk=good.pk).get()
    assert bad.status == ModelRun.Status.REJECTED
    assert not bad.is_active
    assert "NOT activated" in output and "clearly" in bad.note
    assert ModelRun.objects.get(is_active=True) == good
    assert ModelArtifact.objects.filter(run=bad).exists()  # kept, so staff can still activate it
    retrain("--factors", "1", "--epochs", "1", "--regularization", "1000", "--force")
    forced = ModelRun.objects.get(is_active=True)
    assert forced.parameters["regularization"] == 1000
    assert forced.note.startswith("Activated by --force although validation")


def test_crash_midway_marks_the_run_failed_and_the_old_model_keeps_serving(taste_catalog, monkeypatch):
    retrain()
    good = ModelRun.objects.get()
    real_train = factorization.train

    def train_then_crash(ratings, params, **kwargs):
        kwargs["on_epoch"] = _crash_after_first_epoch(kwargs["on_epoch"])
        return real_train(ratings, params, **kwargs)

    monkeypatch.setattr(factorization, "train", train_then_crash)
    with pytest.raises(CommandError, match="Retrain failed and the previous model keeps serving"):
        retrain("--force")
    crashed = ModelRun.objects.exclude(pk=good.pk).get()
    assert crashed.status == ModelRun.Status.FAILED
    assert "out of memory (simulated)" in crashed.error
    assert len(crashed.epochs) == 1  # the progress made before the crash is kept
    assert ModelRun.objects.get(is_active=True) == good
    assert not ModelArtifact.objects.filter(run=crashed).exists()


def _crash_after_first_epoch(on_epoch):
    def report(epoch_report):
        on_epoch(epoch_report)
        raise MemoryError("out of memory (simulated)")

    return report


def test_interrupt_marks_the_run_failed(taste_catalog, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("terminated by signal 15")

    monkeypatch.setattr(factorization, "train", interrupted)
    with pytest.raises(CommandError, match=r"Retrain stopped \(terminated by signal 15\); the run is marked failed"):
        retrain()
    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.FAILED and "signal 15" in run.error


def test_a_run_left_running_by_a_killed_process_is_marked_failed_next_time(trained):
    active = ModelRun.objects.get(is_active=True)
    dead = ModelRun.objects.create(status=ModelRun.Status.RUNNING, pid=999_999)
    output = retrain("--force")
    dead.refresh_from_db()
    assert dead.status == ModelRun.Status.FAILED
    assert "stopped without finishing" in dead.error and "999999" in dead.error
    assert f"Run #{dead.pk} was left running" in output
    assert ModelRun.objects.get(is_active=True).pk not in (active.pk, dead.pk)


def test_second_retrain_exits_at_once_while_the_sqlite_lock_is_held(taste_catalog, is_postgres):
    if is_postgres:
        pytest.skip("PostgreSQL uses the advisory lock, tested below")
    holder = RetrainLock()
    assert holder.acquire()
    try:
        with pytest.raises(CommandError, match=f"Another retrain is running \\(process {os.getpid()} holds"):
            retrain()
    finally:
        holder.release()
    assert not ModelRun.objects.exists()
    retrain()
    assert ModelRun.objects.get().is_active


@pytest.mark.postgres
def test_second_retrain_exits_at_once_while_another_session_holds_the_advisory_lock(taste_catalog):
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        with pytest.raises(CommandError, match="Another retrain is running .*advisory lock"):
            retrain()
        assert not ModelRun.objects.exists()
    finally:
        other.close()  # closing the session releases its lock, as a killed retrain's would
    wait_for_advisory_lock_release()
    retrain()
    assert ModelRun.objects.get().is_active


def wait_for_advisory_lock_release(seconds=10):
    """The server ends a closed session's backend, and frees its locks, a moment after the client closes it."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            if cursor.fetchone()[0]:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
                return
            assert time.monotonic() < deadline, "the closed session still holds the advisory lock"
            time.sleep(0.05)


def test_old_runs_arrays_are_pruned_but_recent_ones_kept_for_rollback(taste_catalog):
    for _ in range(KEEP_ARTIFACTS + 3):
        retrain("--force")
    runs = list(ModelRun.objects.order_by("-started", "-pk"))
    with_arrays = set(ModelArtifact.objects.values_list("run_id", flat=True))
    assert with_arrays == {run.pk for run in runs[: KEEP_ARTIFACTS + 1]}
    assert len(runs) == KEEP_ARTIFACTS + 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factors", "-3"], "--factors must be a whole number from 1"),
        (["--epochs", "0"], "--epochs must be a whole number from 1"),
        (["--learning-rate", "0"], "--learning-rate must be greater than 0 and less than 2"),
        (["--learning-rate", "2.5"], "--learning-rate must be greater than 0 and less than 2"),
        (["--learning-rate", "nan"], "--learning-rate must be greater than 0 and less than 2"),
        (["--regularization", "-1"], "--regularization must be a number from 0 to 1e"),
        (["--regularization", "inf"], "--regularization must be a number from 0 to 1e"),
        (["--regularization", "1e308"], "--regularization must be a number from 0 to 1e"),
        (["--regularization", "nan"], "--regularization must be a number from 0 to 1e"),
        (["--validation-fraction", "nan"], "between 0 and 1"),
        (["--validation-fraction", "1"], "between 0 and 1"),
        (["--validation-fraction", "0"], "between 0 and 1"),
    ],
)
def test_bad_options_fail_with_a_clear_message(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("retrain", *args, stdout=io.StringIO())


def test_hidden_books_still_train(taste_catalog):
    Book.objects.filter(pk=taste_catalog.fantasy[0].pk).update(hidden_from_recommendations=True)
    Retrain(TrainParams(factors=4, epochs=2), validation_fraction=0.2).run()
    assert ModelRun.objects.get().n_books == 30


def test_id_indexing_matches_numpy_unique_for_dense_and_sparse_ids():
    rng = np.random.default_rng(0)
    for ids in (rng.integers(1, 500, 5000), rng.integers(1, 2**40, 5000), np.array([7, 7, 3])):
        distinct, index = index_ids(ids)
        expected_distinct, expected_index = np.unique(ids, return_inverse=True)
        assert np.array_equal(distinct, expected_distinct) and np.array_equal(index, expected_index)


def test_no_early_stopping_trains_every_epoch(taste_catalog):
    retrain("--epochs", "9", "--no-early-stopping")
    run = ModelRun.objects.get()
    assert len(run.epochs) == 9 and run.parameters["early_stopping"] is False


def test_a_rollback_during_a_retrain_leaves_exactly_one_active_run(trained, monkeypatch):
    first = ModelRun.objects.get()
    retrain("--force")
    measure = training.validation_metrics

    def rollback_then_measure(*args, **kwargs):  # staff roll back while the new model trains
        activate_run(first)
        assert ModelRun.objects.get(is_active=True) == first
        return measure(*args, **kwargs)

    monkeypatch.setattr(training, "validation_metrics", rollback_then_measure)
    output = retrain("--force")
    newest = ModelRun.objects.order_by("-pk").first()
    assert f"Run #{newest.pk} is now active" in output
    assert list(ModelRun.objects.filter(is_active=True)) == [newest]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_activation_waits_for_the_first_instead_of_failing():
    """With no run active, row locks would lock nothing: both activations would set is_active at once."""
    first, second = (ModelRun.objects.create(status=ModelRun.Status.SUCCEEDED) for _ in range(2))
    for run in (first, second):
        ModelArtifact.objects.create(run=run, data=b"arrays", size_bytes=6)
    first_done, release, errors = threading.Event(), threading.Event(), []

    def activate(run, hold):
        try:
            with transaction.atomic():
                activate_run(run)
                if hold:
                    first_done.set()
                    release.wait(10)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(first, True))]
    threads[0].start()
    assert first_done.wait(10)
    threads.append(threading.Thread(target=activate, args=(second, False)))
    threads[1].start()
    waited = wait_until_a_session_waits_on_a_lock()
    release.set()
    for thread in threads:
        thread.join(20)
    assert waited and errors == []
    assert list(ModelRun.objects.filter(is_active=True)) == [second]


def test_merging_duplicate_books_makes_retrain_train_again(taste_catalog):
    kept = taste_catalog.fantasy[0]
    duplicate = Book.objects.create(title=f"{kept.title} (duplicate)")
    # Only readers who never rated the kept book rated the duplicate, so every rating moves and none is dropped.
    raters = Rater.objects.exclude(ratings__book=kept)[:3]
    moved = Rating.objects.bulk_create([Rating(rater=rater, book=duplicate, value=5) for rater in raters])
    retrain()
    before = ModelRun.objects.get()
    assert duplicate.pk in unpack(ModelArtifact.objects.get(run=before).data).book_ids

    result = merge_books(kept, [duplicate])
    assert result.of(Rating) == Moved(moved=3, dropped=0)
    assert all(rating.updated >= before.started for rating in Rating.objects.filter(pk__in=[r.pk for r in moved]))
    output = retrain()
    assert "No rating changed" not in output
    after = ModelRun.objects.get(is_active=True)
    assert after != before
    assert duplicate.pk not in unpack(ModelArtifact.objects.get(run=after).data).book_ids


def test_a_rejected_model_is_not_retrained_until_ratings_or_parameters_change(taste_catalog):
    retrain()
    Rating.objects.create(rater=Rater.objects.get(external_id="2"), book=taste_catalog.mystery[-1], value=2)
    bad = ["--factors", "1", "--epochs", "1", "--regularization", "1000"]
    assert "NOT activated" in retrain(*bad)
    rejected = ModelRun.objects.get(status=ModelRun.Status.REJECTED)

    output = retrain(*bad)
    assert f"Run #{rejected.pk} was rejected with these same ratings and parameters" in output
    assert "--force" in output
    assert ModelRun.objects.count() == 2
    retrain(*bad, "--regularization", "999")  # other parameters: trains
    assert ModelRun.objects.count() == 3
    newcomer = Rater.objects.create(source="goodbooks", external_id="new")
    Rating.objects.bulk_create([Rating(rater=newcomer, book=book, value=4) for book in taste_catalog.mystery[:3]])
    retrain(*bad)  # other ratings: trains
    assert ModelRun.objects.count() == 4
    retrain(*bad)
    assert ModelRun.objects.count() == 4
    retrain(*bad, "--force")
    assert ModelRun.objects.count() == 5
    assert ModelRun.objects.get(is_active=True).parameters["regularization"] == 1000
