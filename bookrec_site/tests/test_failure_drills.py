"""Failure drills with real processes: a retrain killed midway, a retrain meeting a running one, and the site serving throughout.

Each drill runs `manage.py retrain` (and gunicorn) as separate processes against a database they share with the
test: a copy of a seeded SQLite file, or on PostgreSQL the test database itself (committed, so the tests use
transactional_db). The database-unavailable drill lives in test_site.py; the PostgreSQL-restart drill is
bench/drill_pg_restart.py, because restarting a server other tests share can't happen inside the suite.
"""

import fcntl
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from recommender.activation import RetrainLock

ROOT = Path(__file__).resolve().parents[2]
DEMO_EMAIL = "demo@bookrec.example"
# Slow enough to be killed midway (about 0.1 s per epoch on the demo data), quick to start.
LONG_RETRAIN = ["retrain", "--force", "--epochs", "1000", "--factors", "64", "--seed", "3", "--no-early-stopping"]
QUICK_RETRAIN = ["retrain", "--force", "--epochs", "4", "--factors", "8", "--seed", "5"]

PROBE = """
import json, django
DEMO_EMAIL = "demo@bookrec.example"
django.setup()
from django.test import Client
from accounts.models import User
from recommender.models import ModelRun
client = Client(raise_request_exception=False)
health = client.get("/healthz")
client.force_login(User.objects.get(email=DEMO_EMAIL))
for_you = client.get("/recommendations/")
print(json.dumps({
    "health_status": health.status_code,
    "model": health.json()["model"],
    "runs": list(ModelRun.objects.order_by("pk").values("pk", "status", "is_active", "error")),
    "for_you_status": for_you.status_code,
    "personal": "Because you liked" in for_you.content.decode(),
}))
"""


def subprocess_env(database_url):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update({"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "bookrec_site.test_settings",
                "PYTHONUNBUFFERED": "1"})
    return env


def manage(env, *args, timeout=180):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def probe(env):
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class Process:
    """A child process whose output lines are collected as they come, so a test can wait for one."""

    def __init__(self, args, env):
        self.lines = []
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True)
        self._queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.popen.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while sum(bool(re.search(pattern, line)) for line in self.lines) < count:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {pattern!r} within {timeout} s; output so far:\n{''.join(self.lines)}") from None
            if line is None:
                raise AssertionError(f"exited ({self.popen.wait()}) before {pattern!r}:\n{''.join(self.lines)}")
            self.lines.append(line)

    def finish(self, timeout=120):
        code = self.popen.wait(timeout=timeout)
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code, "".join(self.lines)

    def stop(self):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory):
    """A migrated SQLite file with the demo catalog, 60 demo readers and an active model (built once)."""
    path = tmp_path_factory.mktemp("drill") / "seed.sqlite3"
    env = subprocess_env(f"sqlite:///{path}")
    for args in (["migrate", "--noinput"], ["load_demo", "--readers", "60", "--allow-demo-logins"], QUICK_RETRAIN):
        code, output = manage(env, *args)
        assert code == 0, output
    return path


@pytest.fixture
def drill_env(request, tmp_path, transactional_db):
    """Environment for child processes, pointing at a database this test owns, already seeded and trained."""
    if connection.vendor == "postgresql":
        # The test database itself; transactional_db commits, so child processes see the same rows.
        s = connection.settings_dict
        credentials = quote(s["USER"]) + (":" + quote(s["PASSWORD"]) if s["PASSWORD"] else "")
        env = subprocess_env(f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        for args in (["load_demo", "--readers", "60", "--allow-demo-logins"], QUICK_RETRAIN):
            code, output = manage(env, *args)
            assert code == 0, output
        return env
    seed = request.getfixturevalue("seeded_sqlite")
    path = tmp_path / "drill.sqlite3"
    shutil.copy(seed, path)
    return subprocess_env(f"sqlite:///{path}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_site(drill_env):
    """gunicorn, as the Procfile runs it (one worker here), on the drill database."""
    port = free_port()
    server = Process([sys.executable, "-m", "gunicorn", "bookrec_site.wsgi", "--workers", "1", "--bind",
                      f"127.0.0.1:{port}", "--timeout", "30"], drill_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=5).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or server.popen.poll() is not None:
                server.stop()
                raise AssertionError("gunicorn did not start:\n" + "".join(server.lines)) from None
            time.sleep(0.2)
    yield url
    server.stop()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Poller:
    """Requests pages over and over in a thread and keeps every status code."""

    def __init__(self, urls):
        self.urls, self.statuses, self._stop = urls, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            for url in self.urls:
                self.statuses.append((url, get(url)[0]))
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=30)
        return self.statuses


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_retrain_killed_midway_leaves_the_old_model_serving_and_the_next_one_succeeds(drill_env, live_site, sig):
    before = probe(drill_env)
    old_run = before["model"]["run"]
    assert before["personal"] and before["for_you_status"] == 200

    poller = Poller([live_site + "/", live_site + "/books/", live_site + "/healthz", live_site + "/search/?q=hobit"])
    retrain = Process([sys.executable, "manage.py", *LONG_RETRAIN], drill_env)
    try:
        retrain.wait_for(r"^epoch\s+\d+/", count=3)
        killed_run = int(re.search(r"Run #(\d+) started", "".join(retrain.lines)).group(1))
        os.kill(retrain.popen.pid, sig)
        code, output = retrain.finish()
    finally:
        retrain.stop()
    statuses = poller.stop()
    assert code != 0

    during = probe(drill_env)
    assert during["model"]["run"] == old_run, "the killed retrain must not change the active model"
    assert during["personal"] and during["for_you_status"] == 200
    killed = next(run for run in during["runs"] if run["pk"] == killed_run)
    assert not killed["is_active"]
    if sig == signal.SIGTERM:
        # SIGTERM unwinds like Ctrl-C: the run says why it failed at once.
        assert killed["status"] == "failed" and "signal 15" in killed["error"], killed
        assert "Retrain failed" in output or "signal 15" in output
    else:
        # SIGKILL leaves no chance to clean up: the row still says running until the next retrain.
        assert killed["status"] == "running"
    # The site never stumbled while the retrain died.
    assert statuses and all(status == 200 for _, status in statuses), [s for s in statuses if s[1] != 200][:5]
    assert get(live_site + "/healthz")[1] and json.loads(get(live_site + "/healthz")[1])["model"]["run"] == old_run

    code, output = manage(drill_env, *QUICK_RETRAIN)
    assert code == 0, output
    assert "is now active" in output
    if sig == signal.SIGKILL:
        assert f"Run #{killed_run} was left running by a process that died" in output
    after = probe(drill_env)
    new_run = after["model"]["run"]
    assert new_run not in (old_run, killed_run)
    assert next(run for run in after["runs"] if run["pk"] == killed_run)["status"] == "failed"
    assert after["personal"]
    # The running server reports the new run without a restart.
    assert json.loads(get(live_site + "/healthz")[1])["model"]["run"] == new_run


@contextmanager
def retrain_lock_held(env):
    """Hold the retrain lock in this process, as a running retrain would, so a second retrain meets it for sure.

    On PostgreSQL the test's own connection takes the advisory lock (the drill database is the test database);
    on SQLite this process flocks the lock file next to the drill's database file and writes its PID there.
    """
    if connection.vendor == "postgresql":
        lock = RetrainLock()
        assert lock.acquire(), "nothing else may hold the retrain lock when the drill starts"
        try:
            yield "another session holds the PostgreSQL advisory lock"
        finally:
            lock.release()
        return
    path = Path(env["DATABASE_URL"].removeprefix("sqlite:///") + ".retrain-lock")
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield f"process {os.getpid()} holds {path}"
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def test_a_retrain_that_meets_a_running_one_exits_at_once_with_a_clear_message(drill_env):
    runs_before = probe(drill_env)["runs"]
    with retrain_lock_held(drill_env) as holder:
        # The lock stays held for the whole call: a retrain that waited for it would run into the timeout.
        code, output = manage(drill_env, *QUICK_RETRAIN, timeout=60)
    assert code != 0
    assert "Another retrain is running" in output and "not starting a second one" in output
    assert holder in output
    assert "Traceback" not in output
    assert probe(drill_env)["runs"] == runs_before, "the refused retrain must not leave a run behind"

    # Once the lock is free, the next retrain runs and activates its model ...
    code, output = manage(drill_env, *QUICK_RETRAIN, timeout=120)
    assert code == 0 and "is now active" in output, output
    after = probe(drill_env)
    assert len(after["runs"]) == len(runs_before) + 1
    assert after["model"]["run"] == int(re.search(r"Run #(\d+) started", output).group(1))
    # ... and one after it skips: nothing changed since.
    code, output = manage(drill_env, "retrain")
    assert code == 0 and "No rating changed" in output, output
