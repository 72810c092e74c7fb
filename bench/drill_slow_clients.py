"""Drill: slow clients that trickle one header line every few seconds, while /healthz is timed.

Starts gunicorn on a fresh SQLite database on loopback (sync workers as before, or gthread as the Procfile
now runs it), optionally behind nginx with deploy/nginx.conf (ports rewritten to loopback ones), opens
--slow sockets that each send one header line every --trickle seconds, and times /healthz once a second.

    .venv/bin/python bench/drill_slow_clients.py --worker-class sync              # before: no proxy
    .venv/bin/python bench/drill_slow_clients.py --worker-class gthread           # threads alone
    .venv/bin/python bench/drill_slow_clients.py --worker-class gthread --nginx   # as deployed
"""

import argparse
import http.client
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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--nginx", action="store_true", help="put nginx with deploy/nginx.conf in front")
    parser.add_argument("--slow", type=int, default=20, help="slow clients")
    parser.add_argument("--trickle", type=float, default=5.0, help="seconds between a slow client's header lines")
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--port", type=int, default=8771)
    return parser.parse_args()


def wait_up(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"nothing answered /healthz on port {port}")


def slow_client(port, trickle, stop):
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        n = 0
        while not stop.wait(trickle):
            n += 1
            sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
    except OSError:
        pass  # the server (or nginx) hung up on it: that is the point
    finally:
        sock.close()


def nginx_config(directory, listen, upstream):
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = text.replace("listen 80 default_server;", f"listen 127.0.0.1:{listen + 1} default_server;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    text = text.replace("server_name bookrec.example.com;", "server_name 127.0.0.1;")
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    text = text.replace("pid /tmp/bookrec-nginx.pid;", f"pid {directory}/nginx.pid;")
    text = text.replace("http {", f"http {{\n    client_body_temp_path {directory}/body;\n    proxy_temp_path {directory}/proxy;")
    path = Path(directory) / "nginx.conf"
    path.write_text(text)
    return path


def main():
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="bookrec-drill-")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3", "DEBUG": "0", "SECRET_KEY": "drill-" + "k" * 50,
                "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0", "TRUSTED_PROXY_COUNT": "1" if args.nginx else "0",
                "DJANGO_SETTINGS_MODULE": "bookrec_site.settings"})
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    gunicorn_port = args.port + 10 if args.nginx else args.port
    command = [sys.executable, "-m", "gunicorn", "bookrec_site.wsgi", "--workers", str(args.workers),
               "--worker-class", args.worker_class, "--bind", f"127.0.0.1:{gunicorn_port}", "--timeout", "30"]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    log = open(f"{tmp}/gunicorn.log", "w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proxy = None
    stop = threading.Event()
    try:
        wait_up(gunicorn_port)
        if args.nginx:
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            conf = nginx_config(tmp, args.port, gunicorn_port)
            proxy = subprocess.Popen([nginx, "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                                     stdout=log, stderr=subprocess.STDOUT)
            wait_up(args.port)
        clients = [threading.Thread(target=slow_client, args=(args.port, args.trickle, stop), daemon=True)
                   for _ in range(args.slow)]
        for client in clients:
            client.start()
        time.sleep(1)
        timings = []
        started = time.monotonic()
        while time.monotonic() - started < args.duration:
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
                conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                status = conn.getresponse().status
            except OSError as error:
                status = type(error).__name__
            timings.append((time.monotonic() - t0, status))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    finally:
        stop.set()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        server.terminate()
        server.wait(timeout=30)
        log.close()
    seconds = sorted(t for t, _ in timings)
    statuses = {}
    for _, status in timings:
        statuses[status] = statuses.get(status, 0) + 1
    setup = f"{args.worker_class} x{args.workers}" + (f" ({args.threads} threads)" if args.worker_class == "gthread" else "")
    print(f"{args.slow} slow clients (a header line every {args.trickle:g} s), gunicorn {setup}, "
          f"{'behind nginx (deploy/nginx.conf)' if args.nginx else 'no proxy'}: {len(timings)} /healthz requests, "
          f"statuses {statuses}, median {seconds[len(seconds) // 2] * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms")
    sys.exit(0 if seconds[-1] <= 1.0 and set(statuses) == {200} else 1)


if __name__ == "__main__":
    main()
