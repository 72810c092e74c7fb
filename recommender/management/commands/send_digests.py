"""manage.py send_digests: mail each subscribed reader their new For you picks when their weekly or monthly email is due."""

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import digests as subscriptions
from accounts.models import User
from recommender.digests import PICKS_PER_EMAIL, DigestRun

MAX_PICKS = 20


def picks_per_email(raw):
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PICKS:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of picks from 1 to {MAX_PICKS}")
    return int(raw)


class Command(BaseCommand):
    help = "Email subscribed readers their new recommendations, weekly or monthly as each chose (safe to run from cron daily)."

    def add_arguments(self, parser):
        parser.add_argument("--frequency", choices=sorted(subscriptions.CADENCE), help="Only readers with this cadence.")
        parser.add_argument("--email", help="Only this reader (who must have opted in and be due).")
        parser.add_argument("--picks", type=picks_per_email, default=PICKS_PER_EMAIL,
                            help=f"Books per email, 1 to {MAX_PICKS} (default {PICKS_PER_EMAIL}).")
        parser.add_argument("--dry-run", action="store_true", help="Count who would get which picks; send and record nothing.")

    def handle(self, *args, **options):
        if not settings.SITE_URL:
            raise CommandError("SITE_URL is not set: emails need the site's address for their links, e.g. SITE_URL=https://books.example.org.")
        run = DigestRun(picks_per_email=options["picks"], dry_run=options["dry_run"])
        readers = subscriptions.due_readers(run.now, options["frequency"])
        if options["email"]:
            email = options["email"].strip().lower()
            if not User.objects.filter(email__iexact=email).exists():
                raise CommandError(f"No reader has the email address {email!r}.")
            readers = readers.filter(email__iexact=email)
        failed = 0
        for reader in User.objects.filter(pk__in=list(readers.values_list("pk", flat=True))).order_by("pk"):
            try:
                run.send_to(reader)
            except Exception as exc:  # one bad address or SMTP hiccup must not stop everyone else's email
                failed += 1
                self.stderr.write(f"Email to reader #{reader.pk} failed, nothing recorded, retried next run: {type(exc).__name__}: {exc}")
        counts = run.counts
        verb = "Would send" if run.dry_run else "Sent"
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {counts['sent']} email{'s' if counts['sent'] != 1 else ''} ({counts['picks']} picks); "
            f"{counts['nothing_new']} reader{'s' if counts['nothing_new'] != 1 else ''} had nothing new."
        ))
        if failed:
            raise CommandError(f"{failed} email{'s' if failed != 1 else ''} could not be sent; the next run tries again.")
