"""Redis down and a proxy in front: pages keep working, rate limits key on the real visitor."""

from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from accounts.models import Rating, User
from bookrec_site.settings import redis_cache
from catalog.models import Author, Book, BookAuthor

# Nothing listens on port 1 of the loopback: every Redis call fails at once with "connection refused".
UNREACHABLE_REDIS = {"default": redis_cache("redis://127.0.0.1:1/5")}


@pytest.fixture
def book(db):
    book = Book.objects.create(title="Dune")
    author = Author.objects.create(name="Frank Herbert", slug="frank-herbert")
    BookAuthor.objects.create(book=book, author=author, position=0)
    return book


@pytest.fixture
def redis_down():
    with override_settings(CACHES=UNREACHABLE_REDIS):
        yield


@pytest.mark.django_db
def test_pages_work_while_redis_is_unreachable(redis_down, client, book, reader):
    for url in [reverse("catalog:home"), reverse("catalog:book_list"), reverse("catalog:book_detail", args=[book.pk]),
                reverse("catalog:search") + "?q=dune", reverse("catalog:suggest") + "?q=du"]:
        assert client.get(url).status_code == 200, url
    response = client.post(reverse("account_login"), {"login": reader.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get(reverse("recommender:for_you"), follow=True).status_code == 200


@pytest.mark.django_db
def test_rating_post_succeeds_when_redis_is_down_after_the_write(redis_down, reader_client, reader, book):
    response = reader_client.post(reverse("accounts:rate", args=[book.pk]), {"value": "4"})
    assert response.status_code in (200, 302)
    assert Rating.objects.get(book=book).value == 4


@pytest.mark.django_db
def test_goodreads_import_works_while_redis_is_down(redis_down, reader_client):
    upload = SimpleUploadedFile("goodreads.csv", (DATA / "goodreads_library_export.csv").read_bytes(), content_type="text/csv")
    response = reader_client.post(reverse("accounts:goodreads_import"), {"export": upload})
    assert response.status_code in (200, 302)


@pytest.mark.django_db
def test_healthz_reports_the_cache_error_and_stays_up(redis_down, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["cache"].startswith("error:") and "onnect" in body["cache"]


@pytest.mark.django_db
def test_healthz_cache_ok_with_a_working_redis(client):
    with override_settings(CACHES={"default": redis_cache("redis://127.0.0.1:6379/5")}):
        try:
            cache.client.get_client(write=True).ping()
        except Exception:
            pytest.skip("no Redis at 127.0.0.1:6379")
        assert client.get("/healthz").json()["cache"] == "ok"


# Behind a proxy -----------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "accounts" / "tests" / "data"
PROXY = "10.0.0.2"  # what REMOTE_ADDR is for every visitor behind nginx


LOCKED = b"Too many failed login attempts"


def _login(client, email, password, visitor):
    return client.post(reverse("account_login"), {"login": email, "password": password},
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=visitor)


@pytest.fixture
def victim(db):
    return User.objects.create_user(email="victim@example.com", password="victims-own-secret")


@pytest.mark.django_db
@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_one_visitors_failed_logins_do_not_lock_out_another(client, reader, victim):
    cache.clear()
    for _ in range(6):
        _login(client, victim.email, "wrong-guess", visitor="203.0.113.7")
    # The attacker's own address is now refused, even with the right password.
    assert LOCKED in _login(client, victim.email, "victims-own-secret", visitor="203.0.113.7").content
    # A second visitor behind the same proxy signs in.
    other = client.__class__()
    assert _login(other, reader.email, "correct-horse-battery", visitor="198.51.100.4").status_code == 302
    # The attacked account stays protected from fresh addresses too (the per-account limit).
    third = client.__class__()
    assert LOCKED in _login(third, victim.email, "victims-own-secret", visitor="192.0.2.99").content


@pytest.mark.django_db
def test_without_trusted_proxy_count_every_visitor_shares_the_proxy_address(client, reader, victim):
    # The default (0): the header is not believed, so the proxy's address is the one that gets locked out.
    cache.clear()
    for _ in range(6):
        _login(client, victim.email, "wrong-guess", visitor="203.0.113.7")
    other = client.__class__()
    assert LOCKED in _login(other, reader.email, "correct-horse-battery", visitor="198.51.100.4").content
