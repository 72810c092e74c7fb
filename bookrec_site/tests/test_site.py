import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 60 + "production-like-secret-for-check-deploy",
    "ALLOWED_HOSTS": "bookrec.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://bookrec@db.example.com:5432/bookrec",
    "DJANGO_SETTINGS_MODULE": "bookrec_site.settings",
}


def run_manage(*args, env):
    full_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "SECURE_SSL_REDIRECT", "REDIS_URL", "DATABASE_URL",
                                                         # set by the browser fixture for this process only
                                                         "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def test_home_page_renders_with_navigation(client, db):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="search"' in html
    for label in ("Browse", "For you", "My books", "Log in"):
        assert label in html


def test_healthz_reports_database_and_no_model(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "model": None}


def test_healthz_is_503_and_pages_are_clean_when_database_is_down():
    # A real outage: a process whose DATABASE_URL points at a port where no server listens.
    script = (
        "import django, json; django.setup();"
        "from django.test import Client; c = Client(raise_request_exception=False);"
        "h = c.get('/healthz'); p = c.get('/');"
        "print(json.dumps([h.status_code, h.json(), p.status_code, p.content.decode()]))"
    )
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:9/unreachable?connect_timeout=2",
           "DJANGO_SETTINGS_MODULE": "bookrec_site.test_settings"}
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60)
    health_status, health, page_status, page = json.loads(result.stdout.strip().splitlines()[-1])
    assert health_status == 503
    assert health["database"] == "unavailable"
    assert page_status == 500
    assert "Something went wrong" in page
    assert "Traceback" not in page


def test_unknown_url_gets_friendly_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_security_headers_on_pages(client, db):
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_check_deploy_is_clean_under_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_a_shared_cache():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"}
    result = run_manage("check", "--deploy", env=env)
    assert "bookrec.W001" in result.stderr + result.stdout
    assert "REDIS_URL" in result.stderr + result.stdout


def test_manage_py_never_switches_debug_on_by_itself():
    # A cron retrain whose environment went missing stops with one line instead of training SQLite.
    result = run_manage("retrain", env={})
    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: SECRET_KEY must be set when DEBUG is off."


def test_makemigrations_check_runs_on_a_bare_checkout():
    # Migrations are code: checking them needs no deployment variables, and DEBUG stays off.
    result = run_manage("makemigrations", "--check", "--dry-run", env={})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_development_mode_is_explicit():
    result = run_manage("makemigrations", "--check", "--dry-run", env={"DEBUG": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


@pytest.mark.parametrize(("variable", "value"), [
    ("SECURE_SSL_REDIRECT", "ture"), ("DEBUG", "maybe"), ("EMAIL_USE_TLS", "yess"),
    ("DATABASE_URL", "mysql://db.example.com/bookrec"), ("DATABASE_URL", "postgres://db:notaport/x"),
    ("TRUSTED_PROXY_COUNT", "one"), ("REDIS_URL", "http://cache.example.com"), ("SECURE_HSTS_SECONDS", "1y"),
    ("SITE_URL", "books.example.org"), ("SITE_URL", "ftp://books.example.org"), ("SITE_URL", "https://books.example.org/?a=1"),
])
def test_bad_setting_stops_start_up_with_one_line_naming_it(variable, value):
    result = run_manage("check", env=PRODUCTION_ENV | {variable: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ") and variable in lines[0]


def test_production_without_database_url_stops():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DATABASE_URL must be set" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_start_up_names_a_missing_variable(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_pages_link_hashed_static_files_that_whitenoise_serves(tmp_path):
    # No REDIS_URL: the test must pass on a machine without Redis.
    env = {
        **{k: v for k, v in PRODUCTION_ENV.items() if k != "REDIS_URL"},
        "ALLOWED_HOSTS": "testserver",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    for command in (["collectstatic", "--noinput", "-v0"], ["migrate", "--noinput", "-v0"]):
        result = run_manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    script = (
        "import django, json, re; django.setup();"
        "from django.test import Client; c = Client();"
        "page = c.get('/', secure=True); html = page.content.decode();"
        "css = re.search(r'href=\"(/static/css/site\\.[0-9a-f]{12}\\.css)\"', html).group(1);"
        "served = c.get(css, secure=True, HTTP_ACCEPT_ENCODING='gzip');"
        "print(json.dumps([page.status_code, css, served.status_code, served.get('Content-Encoding'),"
        " served.get('Cache-Control')]))"
    )
    full_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"}} | env
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page_status, css_url, css_status, encoding, cache_control = json.loads(result.stdout.strip().splitlines()[-1])
    assert page_status == 200
    assert css_status == 200
    assert encoding == "gzip"  # compressed at collectstatic time
    assert "immutable" in cache_control  # hashed names are cached forever
