"""A reader's recommendation-email subscription: who is due for one, and the signed link that unsubscribes."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Q
from django.urls import reverse

from .models import User

# How long after the last email the next one is due. A run a little early (cron jitter, a slow run the
# previous time) still counts, so a daily cron job keeps a steady weekday.
CADENCE = {"weekly": timedelta(days=7), "monthly": timedelta(days=30)}
EARLY_BY = timedelta(hours=2)
UNSUBSCRIBE_SALT = "bookrec.digest-unsubscribe"


def due_readers(now, frequency=None):
    """Active readers who asked for recommendation emails and whose next one is due at ``now``."""
    due = Q()
    for name, interval in CADENCE.items():
        if frequency in (None, name):
            due |= Q(digest_frequency=name) & (
                Q(digest_last_sent__isnull=True) | Q(digest_last_sent__lte=now - interval + EARLY_BY)
            )
    return User.objects.filter(due, is_active=True).order_by("pk")


def is_due(user, now):
    interval = CADENCE.get(user.digest_frequency)
    if interval is None or not user.is_active:
        return False
    return user.digest_last_sent is None or user.digest_last_sent <= now - interval + EARLY_BY


def unsubscribe_token(user):
    # The email is signed too: a link keeps working for its reader only while the address is theirs.
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"u": user.pk, "e": user.email.lower()}, compress=True)


def reader_for_token(token):
    """The reader an unsubscribe token was made for, or None when it is forged, mangled or stale."""
    try:
        data = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    user = User.objects.filter(pk=data.get("u")).first()
    if user is None or user.email.lower() != data.get("e"):
        return None
    return user


def unsubscribe_url(user):
    """The absolute one-click unsubscribe address (SITE_URL, not any request's host)."""
    return settings.SITE_URL + reverse("accounts:unsubscribe", args=[unsubscribe_token(user)])
