"""The shipped deployment files: nginx accepts deploy/nginx.conf, and the Procfile runs threaded workers."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx.conf"


def test_nginx_accepts_the_example_config():
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    result = subprocess.run([nginx, "-t", "-c", str(CONF), "-e", "stderr"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_nginx_config_buffers_and_limits_what_the_site_needs():
    text = CONF.read_text()
    assert re.search(r"client_max_body_size\s+6m;", text)  # the 5 MB Goodreads upload fits
    for directive in ("proxy_request_buffering on", "proxy_buffering on", "client_header_timeout", "client_body_timeout",
                      "proxy_set_header X-Forwarded-For $remote_addr", "proxy_set_header X-Forwarded-Proto $scheme"):
        assert directive in text


def test_procfile_serves_threaded_workers_and_says_a_proxy_is_required():
    text = (ROOT / "Procfile").read_text()
    web = next(line for line in text.splitlines() if line.startswith("web:"))
    assert "--worker-class gthread" in web and "--threads" in web
    assert "buffering proxy" in text
