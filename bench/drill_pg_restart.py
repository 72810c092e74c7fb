"""Drill: PostgreSQL goes down and comes back while gunicorn serves; the site must recover with no manual step.

It can't live in the test suite (restarting the PostgreSQL that other tests share would break them), so it
builds a private, throwaway PostgreSQL cluster on its own port, loads the demo data into it, serves it with
gunicorn (persistent connections, CONN_MAX_AGE=60), and requests pages throughout:

1. warm-up: every request answers 200;
2. the server is stopped for --outage seconds: /healthz must say 503 and pages a clean error page (500,
   no traceback), never hang;
3. the server is started again: within --recover seconds every page answers 200 again, on the same
   gunicorn workers (no restart), and stays that way.

    .venv/bin/python bench/drill_pg_restart.py        # exit 0 when the site recovered by itself

Needs the PostgreSQL server binaries (Debian: /usr/lib/postgresql/15/bin); run as root it uses the
postgres system user for the cluster. Everything it creates is removed at the end.
"""

import argparse
import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["/", "/books/", "/search/?q=hobit", "/healthz"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        sys.exit(f"drill needs the PostgreSQL server binaries ({name} not found under /usr/lib/postgresql)")
    return found[-1]


class PrivateCluster:
    def __init__(self, port):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="bookrec-pg-drill-"))
        self.data = self.dir / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")

    def run(self, *args):
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True, text=True)

    def init(self):
        self.run(pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self.run(pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "bookrec_drill")

    def start(self):
        self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self):
        self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def get(port, path):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        conn.request("GET", path, headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, f"{type(exc).__name__}: {exc}"


class Poller(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.log, self.stopped = port, [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            for path in PAGES:
                started = time.monotonic()
                status, body = get(self.port, path)
                self.log.append((started, path, status, time.monotonic() - started, body))
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=4.0, help="seconds PostgreSQL stays down")
    parser.add_argument("--recover", type=float, default=5.0, help="seconds allowed to recover after it is back")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    cluster = PrivateCluster(free_port())
    server = None
    try:
        cluster.init()
        env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}}
        env.update({"DATABASE_URL": f"postgres://postgres@127.0.0.1:{cluster.port}/bookrec_drill?connect_timeout=3",
                    "DEBUG": "0", "SECRET_KEY": "drill-" + "d" * 50, "ALLOWED_HOSTS": "127.0.0.1",
                    "CONN_MAX_AGE": "60", "DJANGO_SETTINGS_MODULE": "bookrec_site.settings"})
        for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"],
                        ["load_demo", "--readers", "60", "--allow-demo-logins"], ["retrain", "--epochs", "4", "--factors", "8"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "bookrec_site.wsgi", "--workers", str(args.workers),
                                   "--bind", f"127.0.0.1:{port}", "--timeout", "30"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if get(port, "/healthz")[0] == 200:
                break
            time.sleep(0.2)
        workers_before = sorted(child.pid for child in _children(server.pid))

        poller = Poller(port)
        poller.start()
        time.sleep(3)
        down_at = time.monotonic()
        cluster.stop()
        time.sleep(args.outage)
        cluster.start()
        up_at = time.monotonic()
        time.sleep(args.recover + 5)
        poller.stopped.set()
        poller.join(timeout=30)
        workers_after = sorted(child.pid for child in _children(server.pid))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        cluster.remove()

    warm = [entry for entry in poller.log if entry[0] < down_at]
    outage = [entry for entry in poller.log if down_at + 0.5 < entry[0] < up_at - 0.5]
    recovered = [entry for entry in poller.log if entry[0] > up_at + args.recover]
    first_ok = min((entry[0] for entry in poller.log if entry[0] > up_at and entry[2] == 200 and entry[1] == "/"), default=None)
    problems = []
    if any(entry[2] != 200 for entry in warm):
        problems.append("errors before the outage")
    health_down = {entry[2] for entry in outage if entry[1] == "/healthz"}
    pages_down = {entry[2] for entry in outage if entry[1] != "/healthz"}
    if health_down != {503}:
        problems.append(f"/healthz during the outage answered {sorted(health_down)}, expected only 503")
    if pages_down - {500}:
        problems.append(f"pages during the outage answered {sorted(pages_down)}, expected a clean 500 page")
    if any("Traceback" in entry[4] for entry in outage):
        problems.append("a traceback was shown during the outage")
    if any(entry[2] == 500 and "Something went wrong" not in entry[4] for entry in outage):
        problems.append("an outage page was not the site's error page")
    slowest = max((entry[3] for entry in outage), default=0)
    failed_after = [entry[:4] for entry in recovered if entry[2] != 200]
    if not recovered or failed_after:
        problems.append(f"{len(failed_after)} requests still failed {args.recover} s after PostgreSQL was back: {failed_after[:5]}")
    if workers_before != workers_after:
        problems.append("gunicorn workers were replaced; recovery should not need a restart")

    summary = {
        "requests": {"before": len(warm), "during outage": len(outage), "after recovery window": len(recovered)},
        "outage statuses": {"healthz": sorted(health_down), "pages": sorted(pages_down)},
        "slowest answer during the outage (s)": round(slowest, 2),
        "first 200 for / after PostgreSQL was back (s)": round(first_ok - up_at, 2) if first_ok else None,
        "errors after recovery window": len(failed_after),
        "same gunicorn workers": workers_before == workers_after,
        "problems": problems,
    }
    print(json.dumps(summary, indent=2))
    sys.exit(1 if problems else 0)


def _children(pid):
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [type("Child", (), {"pid": int(line)}) for line in out.split() if line.strip()]


if __name__ == "__main__":
    main()
