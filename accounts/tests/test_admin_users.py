"""Staff create and edit readers in the admin; an email differing only in case is the same reader."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User


def test_staff_add_a_reader_with_a_lowercased_email(staff_client):
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {"email": "New.Reader@Example.COM", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 302
    assert User.objects.filter(email="new.reader@example.com").exists()


def test_admin_refuses_an_email_differing_only_in_case(staff_client, reader):
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {"email": reader.email.upper(), "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact=reader.email).count() == 1


def test_database_refuses_an_email_differing_only_in_case(reader):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email=reader.email.upper())


def test_staff_see_a_readers_email_preference(staff_client, reader):
    reader.digest_frequency = "weekly"
    reader.save()
    page = staff_client.get(reverse("admin:accounts_user_change", args=[reader.pk])).content.decode()
    assert "Recommendation emails" in page and 'value="weekly" selected' in page
