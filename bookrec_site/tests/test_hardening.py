"""Production hardening: NUL in parameters, whitespace passwords, private caching, bad Host logging."""

import logging

import pytest
from django.urls import reverse

from accounts.models import GoodreadsImport, User

# The rater admin is about to move apps; the changelist is reversed by name so only this changes.
RATER_CHANGELIST = "admin:accounts_rater_changelist"


def _admin_urls():
    return [
        reverse("admin:catalog_book_changelist") + "?decade=%C2%B2",
        reverse("admin:catalog_book_changelist") + "?language=%00",
        reverse("admin:catalog_book_changelist") + "?title__startswith=%00",
        reverse("admin:recommender_modelrun_changelist") + "?status__exact=%00",
        reverse(RATER_CHANGELIST) + "?source=%00",
    ]


@pytest.mark.django_db
def test_admin_filters_with_nul_or_superscript_digits_answer(staff_client):
    for url in _admin_urls():
        response = staff_client.get(url)
        assert response.status_code in (200, 302), url


@pytest.mark.postgres
@pytest.mark.django_db
def test_admin_filters_with_nul_answer_on_postgres(staff_client):
    # PostgreSQL refuses NUL in text: without the middleware these were 500s there.
    for url in _admin_urls():
        assert staff_client.get(url).status_code in (200, 302), url


@pytest.mark.django_db
def test_nul_is_stripped_from_search_and_form_fields(client, reader):
    assert client.get(reverse("catalog:search") + "?q=du%00ne").status_code == 200
    response = client.post(reverse("account_login"), {"login": "reader@example.com\x00", "password": "correct-horse-battery"})
    # The NUL is gone, so the reader's real address signs in.
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("password", [" " * 12, "\t \n" * 5])
def test_signup_refuses_whitespace_only_password(client, password):
    response = client.post(reverse("account_signup"), {"email": "w@example.com", "password1": password, "password2": password})
    assert response.status_code == 200
    assert "can&#x27;t be only spaces" in response.content.decode()
    assert not User.objects.filter(email="w@example.com").exists()


@pytest.mark.django_db
def test_signup_still_refuses_common_and_similar_passwords(client):
    for password in ("password123", "w@example.com"):
        client.post(reverse("account_signup"), {"email": "w@example.com", "password1": password, "password2": password})
        assert not User.objects.filter(email="w@example.com").exists()
    client.post(reverse("account_signup"), {"email": "w@example.com", "password1": "a  spaced   secret", "password2": "a  spaced   secret"})
    assert User.objects.filter(email="w@example.com").exists()


@pytest.mark.django_db
def test_private_pages_are_not_stored(reader_client, reader):
    run = GoodreadsImport.objects.create(user=reader, filename="x.csv")
    urls = [
        reverse("accounts:profile"),
        reverse("accounts:export_json"),
        reverse("accounts:export_csv"),
        reverse("accounts:my_books"),
        reverse("accounts:goodreads_import_result", args=[run.pk]),
        reverse("recommender:for_you"),
    ]
    for url in urls:
        response = reader_client.get(url, follow=True)
        assert response.status_code == 200, url
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, url
        assert "Cookie" in response["Vary"], url


@pytest.mark.django_db
def test_anonymous_pages_stay_cacheable(client):
    response = client.get(reverse("catalog:home"))
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.django_db
def test_bad_host_is_one_short_warning(client, caplog):
    host = "evil-" + "x" * 300 + ".example"
    with caplog.at_level(logging.WARNING, logger="django.security.DisallowedHost"):
        response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    message = record.getMessage()
    assert "evil-xxx" in message
    assert "x" * 101 not in message and len(message) < 200
