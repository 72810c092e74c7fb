"""Fixtures shared by every app's tests: readers, staff and a small catalog."""

import pytest
from django.db import connection

from accounts.models import User


def pytest_collection_modifyitems(config, items):
    # Tests marked postgres skip on any other database, with the reason in the report.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://…")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def reader(db):
    return User.objects.create_user(email="reader@example.com", password="correct-horse-battery", display_name="Rita")


@pytest.fixture
def other_reader(db):
    return User.objects.create_user(email="other@example.com", password="correct-horse-battery", display_name="Otto")


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(email="staff@example.com", password="correct-horse-battery")


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skips when Chromium is not installed."""
    import os
    import shutil

    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if not executable:
        pytest.skip("browser tests need Chromium: apt-get install chromium (CI installs it)")
    # Playwright's sync API runs an event loop in this thread; the test thread still uses the ORM.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page, tmp_path_factory):
    """Save a full-page screenshot under the session's temporary folder; returns its path."""
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)

    def take(name):
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache: cached pages, rate limits and model versions don't leak."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
