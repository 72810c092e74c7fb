"""Recommendation emails: opt-in on the profile, send_digests (cadence, never the same pick twice), one-click unsubscribe."""

import io
import re
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import digests as subscriptions
from accounts.models import ShelfEntry, User
from accounts.ratings import set_rating
from recommender.models import DigestPick


def send(*args):
    out = io.StringIO()
    call_command("send_digests", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def subscribe(user, frequency="weekly", last_sent=None):
    user.digest_frequency = frequency
    user.digest_last_sent = last_sent
    user.save()


def titles_in(message):
    return re.findall(r"^\d+\. (.+?)(?: by .+)?$", message.body, re.M)


@pytest.fixture
def fantasy_reader(reader, trained):
    for book in trained.fantasy[:5]:
        set_rating(reader, book, 5)
    return reader


def test_reader_opts_in_on_the_profile(reader_client, reader):
    page = reader_client.get(reverse("accounts:profile")).content.decode()
    assert 'name="digest_frequency" value="weekly"' in page
    response = reader_client.post(reverse("accounts:profile"), {"display_name": "Rita", "digest_frequency": "monthly"})
    assert response.status_code == 302
    reader.refresh_from_db()
    assert reader.digest_frequency == "monthly"
    response = reader_client.post(reverse("accounts:profile"), {"display_name": "Rita", "digest_frequency": "daily"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    reader.refresh_from_db()
    assert reader.digest_frequency == "monthly"


def test_digest_mail_has_picks_reasons_both_bodies_and_unsubscribe_headers(fantasy_reader, trained, settings):
    settings.SITE_NAME = "Shelf Life"
    settings.SITE_URL = "https://reading.example.net"
    subscribe(fantasy_reader)
    output = send()
    assert "Sent 1 email (5 picks)" in output
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [fantasy_reader.email]
    assert message.subject == "Shelf Life: 5 new books picked for you"
    titles = titles_in(message)
    assert len(titles) == 5
    # Personal picks for a fantasy reader: unread fantasy, each with its reason.
    assert all(title.startswith("Dragon Tale") for title in titles), titles
    assert not set(titles) & {book.title for book in trained.fantasy[:5]}
    assert message.body.count("Because you liked Dragon Tale") + message.body.count("Matches the books you rated") == 5
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert all(title in html for title in titles)
    assert "Because you liked" in html or "Matches the books you rated" in html
    unsubscribe = subscriptions.unsubscribe_url(fantasy_reader)
    assert unsubscribe.startswith("https://reading.example.net/email/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in message.body and unsubscribe in html
    assert "https://reading.example.net/books/" in message.body
    assert "testserver" not in message.body + html and "BookRec" not in message.subject
    assert set(DigestPick.objects.filter(user=fantasy_reader).values_list("book__title", flat=True)) == set(titles)


def test_cadence_and_never_the_same_pick_twice(fantasy_reader, trained):
    subscribe(fantasy_reader, "weekly")
    send()
    first = set(titles_in(mail.outbox[0]))
    # A second run the same day (or cron firing twice) sends nothing.
    assert "Sent 0 emails" in send()
    assert len(mail.outbox) == 1
    # Six days on: still not due. A week on: the next email, with none of the first one's books.
    User.objects.filter(pk=fantasy_reader.pk).update(digest_last_sent=timezone.now() - timedelta(days=6))
    send()
    assert len(mail.outbox) == 1
    User.objects.filter(pk=fantasy_reader.pk).update(digest_last_sent=timezone.now() - timedelta(days=7))
    send()
    assert len(mail.outbox) == 2
    second = set(titles_in(mail.outbox[1]))
    assert len(second) == 5 and not first & second


def test_monthly_readers_wait_a_month(fantasy_reader, trained):
    subscribe(fantasy_reader, "monthly", last_sent=timezone.now() - timedelta(days=8))
    send()
    assert mail.outbox == []
    User.objects.filter(pk=fantasy_reader.pk).update(digest_last_sent=timezone.now() - timedelta(days=30))
    send("--frequency", "weekly")
    assert mail.outbox == []  # not a weekly reader
    send("--frequency", "monthly")
    assert len(mail.outbox) == 1


def test_reader_with_nothing_new_is_skipped(fantasy_reader, trained):
    subscribe(fantasy_reader, "weekly")
    # Every other book has been sent already, or is on the want-to-read shelf.
    rated = {book.pk for book in trained.fantasy[:5]}
    others = [book for book in trained.books if book.pk not in rated]
    ShelfEntry.objects.create(user=fantasy_reader, book=others[0])
    DigestPick.objects.bulk_create(
        [DigestPick(user=fantasy_reader, book=book, sent=timezone.now() - timedelta(days=30)) for book in others[1:]]
    )
    output = send()
    assert mail.outbox == []
    assert "Sent 0 emails (0 picks); 1 reader had nothing new." in output
    fantasy_reader.refresh_from_db()
    assert fantasy_reader.digest_last_sent is None  # checked again next run, when there may be something new


def test_only_subscribed_active_readers_get_mail(fantasy_reader, other_reader, trained):
    inactive = User.objects.create_user(email="gone@example.com", password="x-long-password-1", is_active=False)
    subscribe(inactive, "weekly")
    send()
    assert mail.outbox == []  # fantasy_reader and other_reader never opted in
    subscribe(other_reader, "weekly")
    send()
    assert [message.to for message in mail.outbox] == [[other_reader.email]]


def test_dry_run_sends_and_records_nothing(fantasy_reader, trained):
    subscribe(fantasy_reader)
    assert "Would send 1 email (5 picks)" in send("--dry-run")
    assert mail.outbox == [] and not DigestPick.objects.exists()
    fantasy_reader.refresh_from_db()
    assert fantasy_reader.digest_last_sent is None


def test_one_reader_by_email(fantasy_reader, other_reader, trained):
    subscribe(fantasy_reader)
    subscribe(other_reader)
    send("--email", fantasy_reader.email.upper())
    assert [message.to for message in mail.outbox] == [[fantasy_reader.email]]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--picks", "0"], "'0' is not a whole number of picks from 1 to 20"),
        (["--picks", "many"], "'many' is not a whole number of picks from 1 to 20"),
        (["--frequency", "daily"], "invalid choice: 'daily'"),
        (["--email", "nobody@example.com"], "No reader has the email address 'nobody@example.com'."),
    ],
)
def test_bad_arguments_get_a_clear_message(db, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        send(*args)
    assert mail.outbox == []


def test_without_site_url_nothing_is_sent(fantasy_reader, trained, settings):
    settings.SITE_URL = ""
    subscribe(fantasy_reader)
    with pytest.raises(CommandError, match="SITE_URL is not set"):
        send()
    assert mail.outbox == []


def unsubscribe_path(user):
    return reverse("accounts:unsubscribe", args=[subscriptions.unsubscribe_token(user)])


def test_unsubscribe_link_asks_then_unsubscribes_without_logging_in(reader):
    subscribe(reader, "weekly")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(unsubscribe_path(reader))
    assert page.status_code == 200
    assert "Stop recommendation emails?" in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    reader.refresh_from_db()
    assert reader.digest_frequency == "weekly"  # a GET (a mail scanner following links) changes nothing
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    done = browser.post(unsubscribe_path(reader), {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    reader.refresh_from_db()
    assert reader.digest_frequency == ""


def test_rfc_8058_one_click_post(reader):
    subscribe(reader, "monthly")
    mail_client = Client(enforce_csrf_checks=True)  # a mail provider: no cookies, no CSRF token
    response = mail_client.post(unsubscribe_path(reader), "List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.digest_frequency == ""


def test_forged_or_stale_unsubscribe_links_do_nothing(reader, other_reader):
    subscribe(reader, "weekly")
    token = subscriptions.unsubscribe_token(reader)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [forged, "not-a-token", subscriptions.unsubscribe_token(other_reader)[:-1]]:
        response = Client().post(reverse("accounts:unsubscribe", args=[bad]))
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    # A link stops working for an address the account no longer has.
    reader.email = "new-address@example.com"
    reader.save()
    assert Client().post(reverse("accounts:unsubscribe", args=[token])).status_code == 400
    reader.refresh_from_db()
    assert reader.digest_frequency == "weekly"


def test_sent_picks_go_with_the_account(reader_client, fantasy_reader, trained):
    subscribe(fantasy_reader)
    send()
    assert DigestPick.objects.filter(user=fantasy_reader).exists()
    reader_client.post(reverse("accounts:delete_account"), {"password": "correct-horse-battery"})
    assert not DigestPick.objects.exists()


class RefusesOneAddressBackend(locmem.EmailBackend):
    """The locmem backend, except that the server refuses one recipient (as SMTP would a dead mailbox)."""

    def send_messages(self, messages):
        if any("refused@example.com" in message.to for message in messages):
            raise smtplib.SMTPRecipientsRefused({"refused@example.com": (550, b"no such mailbox")})
        return super().send_messages(messages)


def test_a_failed_email_is_retried_and_does_not_stop_the_others(fantasy_reader, trained, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusesOneAddressBackend"
    refused = User.objects.create_user(email="refused@example.com", password="x-long-password-1")
    for book in trained.mystery[:5]:
        set_rating(refused, book, 5)
    subscribe(refused)
    subscribe(fantasy_reader)
    with pytest.raises(CommandError, match="1 email could not be sent; the next run tries again."):
        send()
    assert [message.to for message in mail.outbox] == [[fantasy_reader.email]]
    refused.refresh_from_db()
    assert refused.digest_last_sent is None and not DigestPick.objects.filter(user=refused).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send()
    assert [message.to for message in mail.outbox] == [[fantasy_reader.email], [refused.email]]
