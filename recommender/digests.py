"""Recommendation emails: a reader's new For you picks with their reasons, mailed weekly or monthly, never twice.

send_digests (the management command) is a thin loop over DigestRun.send_to, which tests also call.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import digests as subscriptions
from accounts.models import ShelfEntry, User

from . import api
from .models import DigestPick

PICKS_PER_EMAIL = 5
# Picks are drawn from this deep into the reader's ranking, so earlier emails' books can be skipped.
CANDIDATES = 60


@dataclass
class DigestRun:
    now: object = field(default_factory=timezone.now)
    picks_per_email: int = PICKS_PER_EMAIL
    dry_run: bool = False
    counts: dict = field(default_factory=lambda: {"sent": 0, "nothing_new": 0, "not_due": 0, "picks": 0})

    def send_to(self, user):
        """Mail one reader their new picks if they are due; returns "sent", "nothing_new" or "not_due".

        The reader's row is locked while the picks are chosen, recorded and mailed, so two overlapping
        runs cannot both mail them. If sending fails nothing is recorded and the next run tries again.
        """
        with transaction.atomic():
            user = User.objects.select_for_update().get(pk=user.pk)
            if not subscriptions.is_due(user, self.now):
                return self._count("not_due")
            picks = new_picks(user, self.picks_per_email)
            if not picks:
                return self._count("nothing_new")
            if not self.dry_run:
                DigestPick.objects.bulk_create(
                    [DigestPick(user=user, book=pick.book, sent=self.now, reason=pick.reason[:300]) for pick in picks]
                )
                user.digest_last_sent = self.now
                user.save(update_fields=["digest_last_sent"])
                digest_email(user, picks).send()
            self.counts["picks"] += len(picks)
            return self._count("sent")

    def _count(self, outcome):
        self.counts[outcome] += 1
        return outcome


def new_picks(user, limit):
    """The reader's best For you picks that no earlier email sent and that are not already on their shelf."""
    already = set(DigestPick.objects.filter(user=user).values_list("book_id", flat=True))
    already |= set(ShelfEntry.objects.filter(user=user).values_list("book_id", flat=True))
    picks = [pick for pick in api.recommendations_for(user, limit=CANDIDATES) if pick.book.pk not in already]
    return picks[:limit]


def digest_email(user, picks):
    """The email itself: text and HTML bodies, and the one-click unsubscribe headers (RFC 2369 and 8058)."""
    unsubscribe = subscriptions.unsubscribe_url(user)
    context = {
        "user": user,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "picks": [
            {
                "title": pick.book.title,
                "authors": pick.book.author_names,
                "reason": pick.reason,
                "url": settings.SITE_URL + pick.book.get_absolute_url(),
            }
            for pick in picks
        ],
        "for_you_url": settings.SITE_URL + reverse("recommender:for_you"),
        "profile_url": settings.SITE_URL + reverse("accounts:profile"),
        "unsubscribe_url": unsubscribe,
        "frequency": user.get_digest_frequency_display().lower(),
    }
    count = len(picks)
    subject = f"{settings.SITE_NAME}: {count} new book{'s' if count != 1 else ''} picked for you"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("recommender/digest_email.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(render_to_string("recommender/digest_email.html", context), "text/html")
    return message
