"""Sign up, log in by email, log out, passwords, email verification and rate limits (django-allauth)."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

User = get_user_model()
PASSWORD = "correct-horse-battery"


def logged_in_user(client):
    return client.get(reverse("accounts:profile")).context["user"]


def test_sign_up_with_email_and_password(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "New.Reader@Example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"},
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new.reader@example.com"
    assert user.check_password("a-long-new-password")
    assert logged_in_user(client) == user


def test_sign_up_page_uses_the_site_layout(client, db):
    html = client.get(reverse("account_signup")).content.decode()
    assert "Create your BookRec account" in html
    assert 'class="site-header"' in html
    assert 'name="username"' not in html


def test_sign_up_rejects_a_taken_email_and_weak_passwords(client, reader):
    response = client.post(
        reverse("account_signup"), {"email": reader.email, "password1": "another-password-1", "password2": "another-password-1"}
    )
    assert response.status_code == 200
    assert User.objects.count() == 1
    response = client.post(reverse("account_signup"), {"email": "x@example.com", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert not User.objects.filter(email="x@example.com").exists()


def test_log_in_by_email(client, reader):
    response = client.post(reverse("account_login"), {"login": "READER@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user(client) == reader


def test_wrong_password_does_not_log_in(client, reader):
    response = client.post(reverse("account_login"), {"login": reader.email, "password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_log_out_is_a_post(reader_client):
    reader_client.post(reverse("account_logout"))
    assert reader_client.get(reverse("accounts:profile")).status_code == 302


def test_change_password(reader_client, reader):
    response = reader_client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-brand-new-secret", "password2": "a-brand-new-secret"},
    )
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.check_password("a-brand-new-secret")


def test_password_reset_by_email(client, reader):
    response = client.post(reverse("account_reset_password"), {"email": reader.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]  # allauth swaps the key for a session token
    response = client.post(form_url, {"password1": "a-reset-password-9", "password2": "a-reset-password-9"})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.check_password("a-reset-password-9")


def test_email_verification_is_optional_in_tests(client, db):
    client.post(reverse("account_signup"), {"email": "o@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"})
    assert logged_in_user(client).email == "o@example.com"
    assert len(mail.outbox) == 1  # a verification email is still sent


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_verification_blocks_log_in_until_verified(client, db):
    response = client.post(
        reverse("account_signup"), {"email": "m@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"}
    )
    assert response["Location"] == reverse("account_email_verification_sent")
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert "confirm" in mail.outbox[0].body.lower()


def test_repeated_failed_logins_are_rate_limited(client, reader):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": reader.email, "password": "wrong"})
    # Even the right password is refused until the limit expires.
    response = client.post(reverse("account_login"), {"login": reader.email, "password": PASSWORD})
    assert response.status_code == 200  # allauth shows the limit as a form error
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_rate_limit_is_per_account_and_cleared_between_tests(client, reader):
    # The autouse fixture cleared the cache, so this first attempt succeeds.
    response = client.post(reverse("account_login"), {"login": reader.email, "password": PASSWORD})
    assert response.status_code == 302


def test_admin_login_goes_through_allauth(client, staff):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # Posting credentials straight to the admin login does not log in either.
    client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})
    assert client.get("/admin/").status_code == 302


def test_admin_login_shares_the_rate_limit(client, staff):
    for _ in range(5):
        client.post(reverse("account_login") + "?next=/admin/", {"login": staff.email, "password": "wrong"})
    response = client.post(reverse("account_login") + "?next=/admin/", {"login": staff.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_staff_reach_the_admin_after_logging_in(client, staff):
    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert client.get("/admin/").status_code == 200


def test_pages_have_no_inline_script_or_style(client, db):
    for name in ("account_login", "account_signup", "account_reset_password"):
        html = client.get(reverse(name)).content.decode()
        assert "<script>" not in html and "style=" not in html and " onclick=" not in html


def test_a_new_reader_lands_on_onboarding(client, db):
    response = client.post(
        reverse("account_signup"), {"email": "n@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"}
    )
    assert response["Location"] == reverse("accounts:onboarding")
    assert "Rate a few books to start" in client.get(response["Location"]).content.decode()


def test_a_sign_up_link_with_next_still_goes_there(client, db):
    response = client.post(
        reverse("account_signup") + "?next=/books/",
        {"email": "n@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"},
    )
    assert response["Location"] == "/books/"


def test_logging_in_again_goes_home_not_to_onboarding(client, reader):
    response = client.post(reverse("account_login"), {"login": reader.email, "password": PASSWORD})
    assert response["Location"] == "/"


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_with_mandatory_verification_a_new_reader_lands_on_onboarding_after_confirming(client, db):
    client.post(
        reverse("account_signup"), {"email": "m@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"}
    )
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+)", mail.outbox[0].body).group(1)
    response = client.post(link)
    assert response.status_code == 302
    # Confirmed in the browser that signed up: the pending sign-up completes and onboarding follows.
    assert response["Location"] == reverse("accounts:onboarding")
    assert logged_in_user(client).email == "m@example.com"


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_a_confirmation_link_opened_in_another_browser_logs_nobody_in(client, db):
    client.post(
        reverse("account_signup"), {"email": "m@example.com", "password1": "a-long-new-password", "password2": "a-long-new-password"}
    )
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+)", mail.outbox[0].body).group(1)
    elsewhere = Client()
    response = elsewhere.post(link)
    assert response["Location"] == reverse("account_login")
    assert elsewhere.get(reverse("accounts:profile")).status_code == 302
