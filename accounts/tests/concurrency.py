"""Concurrency choreography for PostgreSQL tests: hold a transaction open while another session contends."""

import threading
import time

from django.db import connection, transaction


def wait_until_a_session_waits_on_a_lock(timeout=10):
    """Block until another session of this test database is waiting for a lock (PostgreSQL)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


def contend_with_open_transaction(hold, contender, timeout=10):
    """Run ``hold`` in a transaction kept open until ``contender`` (on another thread) waits for a lock.

    Both run on their own threads and database connections (PostgreSQL, transactional tests). Returns
    (whether the contender was seen waiting, the contender's results: [its return value] if it finished).
    """
    held, release, results = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                hold()
                held.set()
                release.wait(timeout)
        finally:
            connection.close()

    def other():
        try:
            held.wait(timeout)
            results.append(contender())
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    waited = held.wait(timeout) and wait_until_a_session_waits_on_a_lock(timeout)
    release.set()
    for thread in threads:
        thread.join(2 * timeout)
    return waited, results
