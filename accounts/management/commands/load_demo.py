"""`manage.py load_demo`: the catalog, readers, ratings and logins that `make run` shows a newcomer."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEFAULT_READERS, MAX_READERS, DemoDataError, load_demo


class Command(BaseCommand):
    help = (
        "Load ~300 real books, genre-shaped demo readers with ~20k ratings, a demo login and a staff "
        "account. Safe to run again: it only adds what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--readers", type=int, default=DEFAULT_READERS,
            help=f"How many simulated demo readers to create (default {DEFAULT_READERS}).",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="Load everything, report, then roll back.")
        parser.add_argument(
            "--allow-demo-logins", action="store_true",
            help="Load even with DEBUG off. The demo and staff logins have published passwords: never on a public site.",
        )  # fmt: skip

    def handle(self, *args, readers, dry_run, allow_demo_logins, **options):
        if not settings.DEBUG and not allow_demo_logins:
            raise CommandError(
                "load_demo creates a staff login whose password is in the README; it runs only with DEBUG=1 "
                "(or --allow-demo-logins on a private machine)."
            )
        if isinstance(readers, bool) or not isinstance(readers, int) or not 1 <= readers <= MAX_READERS:
            raise CommandError(f"--readers must be a whole number from 1 to {MAX_READERS}, not {readers!r}.")
        try:
            summary = load_demo(readers=readers, dry_run=dry_run, progress=self.stdout.write)
        except DemoDataError as error:
            raise CommandError(f"Demo data is broken: {error}") from error
        for line in summary.lines():
            self.stdout.write(line)
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was saved."))
        else:
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
