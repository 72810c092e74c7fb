"""Load benchmark: gunicorn as the Procfile runs it, DEBUG off, driven by 50 virtual users over loopback.

A small closed-loop driver of our own (threads and http.client, optional think time): half the virtual users
browse and search anonymously, half sign in and use For you, rate and shelve. Every request sends
X-Forwarded-Proto: https, as the TLS proxy in front of a production site would. A `manage.py retrain`
runs during the load; afterwards the gunicorn log shows whether each worker swapped to the new model.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_load .venv/bin/python bench/load_test.py

The database needs the goodbooks catalog, its ratings and an active model (`import_goodbooks`, `retrain`).
The script creates its own load readers (load-reader-N@bookrec.example) and stops by itself.
"""

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-test-passphrase-42"
MISSPELLED = ["hary potter", "lord of the rngs", "hunger gmaes", "twilght", "da vinci cod", "gatsbi", "to kil a mockingbird",
              "pride prejudise", "game of thrones martin", "hobit", "catcher in the ry", "divergant", "fifty shades grey",
              "kite runer", "the help stockett", "gone girll", "angels and demons", "lovely bones", "life of pie",
              "animal farm orwel", "sanderson stormlight", "gabriel garcia marques", "alchemist coelho", "1984 orwell"]
SUGGEST = ["har", "lord o", "hung", "twil", "gats", "hob", "kite", "dune", "orwe", "sand"]
SORTS = ["popular", "rating", "newest", "title"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bookrec_load"))
    parser.add_argument("--users", type=int, default=50, help="concurrent virtual users (half anonymous, half signed in)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--retrain-at", type=float, default=5.0, help="seconds into the load to start a retrain (<0: none)")
    parser.add_argument("--retrain-args", default="--force --epochs 2", help="options for manage.py retrain")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop early after this many requests")
    parser.add_argument("--log", default="/tmp/bookrec-load-gunicorn.log")
    parser.add_argument("--think", default="0", help="think time per user between requests, seconds: 0, or a range such as 1-3")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="gthread as the Procfile")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (Procfile default)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="REDIS_URL for the server (empty: locmem)")
    return parser.parse_args()


def server_env(args):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}}
    env.update({
        "DATABASE_URL": args.database_url, "DEBUG": "0", "SECRET_KEY": "load-test-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "TRUSTED_PROXY_COUNT": "1", "WEB_CONCURRENCY": str(args.workers), "PORT": str(args.port),
        "DJANGO_SETTINGS_MODULE": "bookrec_site.settings", "LOG_LEVEL": "INFO",
    })
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    return env


def prepare(env, n_readers):
    """Load readers with 12 ratings each, and the ids the virtual users pick from (run in a child process)."""
    script = f"""
import json, random, django
django.setup()
from allauth.account.models import EmailAddress
from accounts.models import Rating, User
from catalog.models import Book
from accounts.ratings import set_rating
rng = random.Random(1)
popular = list(Book.objects.order_by("-ratings_count").values_list("pk", flat=True)[:2000])
for n in range({n_readers}):
    user, created = User.objects.get_or_create(email=f"load-reader-{{n}}@bookrec.example")
    # Production requires a verified email to log in.
    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={{"verified": True, "primary": True}})
    if created:
        user.set_password({PASSWORD!r}); user.save()
        for pk in rng.sample(popular[:500], 12):
            set_rating(user, Book.objects.get(pk=pk), rng.choice([3, 4, 5, 5]))
rated = {{}}
for email, pk in Rating.objects.filter(rater__user__email__startswith="load-reader-").values_list("rater__user__email", "book_id"):
    rated.setdefault(email, []).append(pk)
print(json.dumps({{"books": popular, "rated": rated}}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode:
        sys.exit("preparing the load readers failed:\n" + result.stderr[-3000:])
    prepared = json.loads(result.stdout.strip().splitlines()[-1])
    return prepared["books"], prepared["rated"]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.errors = defaultdict(list)
        self.total = 0

    def record(self, page, seconds, error=None):
        with self.lock:
            self.total += 1
            self.latency[page].append(seconds)
            if error:
                self.errors[page].append(error)


class VirtualUser:
    def __init__(self, port, stats, books, rng, email=None, number=0, rated=()):
        self.port, self.stats, self.books, self.rng, self.email = port, stats, books, rng, email
        # What this reader has rated: like the site's cards, it never offers Want to read for those books.
        self.rated = set(rated)
        # Each virtual user is its own visitor behind one proxy (the server runs with TRUSTED_PROXY_COUNT=1),
        # so allauth's per-address login limit (30/min) applies per user, as in production.
        self.address = f"198.18.{number // 250}.{number % 250 + 1}"
        self.cookies = {}
        self.conn = None

    def request(self, method, path, page, body=None, expect=(200,), headers=None):
        all_headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", "Connection": "keep-alive",
                       "Referer": f"https://127.0.0.1:{self.port}/", "X-Forwarded-For": self.address}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            body = urlencode(body)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            if "csrftoken" in self.cookies:
                all_headers["X-CSRFToken"] = self.cookies["csrftoken"]
        all_headers.update(headers or {})
        started = time.perf_counter()
        error, data, status = None, b"", 0
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                data, status = response.read(), response.status
                for name, value in response.getheaders():
                    if name.lower() == "set-cookie":
                        cookie = value.split(";", 1)[0]
                        key, _, val = cookie.partition("=")
                        self.cookies[key.strip()] = val.strip()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A keep-alive connection the server closed while idle: reconnect once, as browsers do.
                self.conn = None
                if attempt:
                    error = f"{type(exc).__name__}"
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                self.conn, error = None, f"{type(exc).__name__}: {exc}"
                break
        elapsed = time.perf_counter() - started
        if error is None and status not in expect:
            error = f"HTTP {status}"
        if page:
            self.stats.record(page, elapsed, error)
        return status, data

    def log_in(self):
        _, html = self.request("GET", "/accounts/login/", None)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1).decode()
        status, _ = self.request("POST", "/accounts/login/", None, {"login": self.email, "password": PASSWORD,
                                                                    "csrfmiddlewaretoken": token}, expect=(302,))
        if status != 302:
            raise SystemExit(f"load reader {self.email} could not log in (HTTP {status})")

    def book(self):
        # Mostly popular books, like real traffic.
        return self.books[min(int(self.rng.expovariate(1 / 300)), len(self.books) - 1)]

    def anonymous_step(self):
        choice = self.rng.random()
        if choice < 0.15:
            self.request("GET", "/", "home")
        elif choice < 0.35:
            query = urlencode({"sort": self.rng.choice(SORTS), "page": self.rng.randint(1, 20)})
            self.request("GET", f"/books/?{query}", "browse")
        elif choice < 0.60:
            self.request("GET", f"/books/{self.book()}/", "book")
        elif choice < 0.85:
            self.request("GET", "/search/?" + urlencode({"q": self.rng.choice(MISSPELLED)}), "search")
        else:
            self.request("GET", "/search/suggest/?" + urlencode({"q": self.rng.choice(SUGGEST)}), "suggest")

    def reader_step(self):
        choice = self.rng.random()
        json_headers = {"Accept": "application/json"}
        if choice < 0.35:
            self.request("GET", "/recommendations/", "for you")
        elif choice < 0.55:
            self.request("GET", f"/books/{self.book()}/", "book (signed in)")
        elif choice < 0.75:
            book = self.book()
            self.request("POST", f"/books/{book}/rate/", "rate", {"value": self.rng.randint(1, 5)},
                         headers=json_headers)
            self.rated.add(book)
        elif choice < 0.90:
            action = self.rng.choice(["add", "remove"])
            book = self.book()
            while action == "add" and book in self.rated:  # a rated book stays on Read (its card has no such button)
                book = self.book()
            self.request("POST", f"/books/{book}/shelf/", "shelf", {"action": action}, headers=json_headers)
        else:
            self.request("GET", "/my-books/", "my books")


def run_load(args, books, rated):
    stats = Stats()
    stop = threading.Event()
    users = []
    for n in range(args.users):
        rng = random.Random(1000 + n)
        signed_in = n % 2 == 1
        email = f"load-reader-{n // 2}@bookrec.example" if signed_in else None
        user = VirtualUser(args.port, stats, books, rng, email=email, number=n, rated=rated.get(email, ()))
        if signed_in:
            user.log_in()
        users.append(user)

    low, _, high = args.think.partition("-")
    think = (float(low), float(high or low))

    def loop(user):
        step = user.reader_step if user.email else user.anonymous_step
        while not stop.is_set() and stats.total < args.max_requests:
            step()
            if think[1] > 0:
                stop.wait(user.rng.uniform(*think))

    threads = [threading.Thread(target=loop, args=(user,), daemon=True) for user in users]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    return stats, stop, threads, started


def wait_for_server(port, server, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited at start-up; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit("gunicorn did not answer /healthz in time")


def healthz_run(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
    return (json.loads(conn.getresponse().read())["model"] or {}).get("run")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    args = parse_args()
    env = server_env(args)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    books, rated = prepare(env, (args.users + 1) // 2)
    log = open(args.log, "w")
    # The Procfile's web line, with the port on loopback.
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bookrec_site.wsgi", "--workers", str(args.workers), "--bind",
         f"127.0.0.1:{args.port}", "--access-logfile", "-", "--timeout", "30", "--worker-class", args.worker_class,
         *(["--threads", str(args.threads)] if args.worker_class == "gthread" else [])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    retrain_info = {}
    try:
        wait_for_server(args.port, server)
        old_run = healthz_run(args.port)
        stats, stop, threads, started = run_load(args, books, rated)
        retrain = None
        while time.monotonic() - started < args.duration and stats.total < args.max_requests:
            elapsed = time.monotonic() - started
            if retrain is None and 0 <= args.retrain_at <= elapsed:
                retrain_started = elapsed
                retrain = subprocess.Popen([sys.executable, "manage.py", "retrain", *args.retrain_args.split()],
                                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if retrain is not None and "exit" not in retrain_info and retrain.poll() is not None:
                retrain_info.update(exit=retrain.returncode, finished_at=time.monotonic() - started,
                                    started_at=retrain_started, output=retrain.stdout.read().strip().splitlines()[-1:])
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(timeout=35)
        wall = time.monotonic() - started
        if retrain is not None and "exit" not in retrain_info:
            retrain.wait(timeout=600)
            retrain_info.update(exit=retrain.returncode, finished_at=time.monotonic() - started, started_at=retrain_started,
                                output=retrain.stdout.read().strip().splitlines()[-1:], note="finished after the load")
        time.sleep(6)  # one model-version check period, then every worker has had the chance to swap
        new_run = healthz_run(args.port)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    swaps = re.findall(r"Loaded model of run (\d+)", Path(args.log).read_text())
    report(args, stats, wall, old_run, new_run, retrain_info, swaps)


def report(args, stats, wall, old_run, new_run, retrain_info, swaps):
    print(f"\n{args.users} virtual users for {wall:.1f} s, think {args.think} s, gunicorn --workers {args.workers} "
          f"--worker-class {args.worker_class} --threads {args.threads}, cache {args.redis_url or 'locmem'}, DEBUG off\n")
    print("| page | requests | errors | req/s | p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    all_latency, all_errors = [], []
    for page in sorted(stats.latency, key=lambda p: -len(stats.latency[p])):
        values, errors = stats.latency[page], stats.errors[page]
        all_latency += values
        all_errors += errors
        print(f"| {page} | {len(values)} | {len(errors)} | {len(values) / wall:.1f} | {percentile(values, .5) * 1000:.0f} ms | "
              f"{percentile(values, .95) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |")
    print(f"| **all** | {len(all_latency)} | {len(all_errors)} | {len(all_latency) / wall:.1f} | "
          f"{percentile(all_latency, .5) * 1000:.0f} ms | {percentile(all_latency, .95) * 1000:.0f} ms | "
          f"{max(all_latency) * 1000:.0f} ms |")
    if all_errors:
        counts = defaultdict(int)
        for error in all_errors:
            counts[error] += 1
        print("\nErrors:", dict(counts))
    if retrain_info:
        print(f"\nRetrain: started at {retrain_info['started_at']:.0f} s, finished at {retrain_info['finished_at']:.0f} s, "
              f"exit {retrain_info['exit']} {retrain_info.get('note', '')}: {' '.join(retrain_info['output'])}")
    print(f"Active run before: #{old_run}, after: #{new_run}. Model loads in the gunicorn log, in order: "
          + ", ".join(f"#{run}" for run in swaps))
    swapped = sum(1 for run in swaps if str(run) == str(new_run))
    print(f"Workers that loaded the new run #{new_run}: {swapped} of {args.workers}")
    sys.exit(1 if all_errors or (retrain_info and retrain_info["exit"]) else 0)


if __name__ == "__main__":
    main()
