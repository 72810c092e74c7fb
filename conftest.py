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
