"""manage.py retrain: train a new model on every rating and activate it if it is good enough."""

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from recommender.activation import RetrainError
from recommender.management.training_options import add_training_arguments, train_params, validation_fraction
from recommender.training import Retrain
from recommender.validation import DEFAULT_VALIDATION_FRACTION


class Command(BaseCommand):
    help = "Train the recommender on all ratings, store the run and activate it (safe to run from cron)."

    def add_arguments(self, parser):
        add_training_arguments(parser)
        parser.add_argument(
            "--validation-fraction",
            default=DEFAULT_VALIDATION_FRACTION,  # checked by validation_fraction(), like the training options
            help=f"Share of each reader's ratings held out for early stopping and metrics (default {DEFAULT_VALIDATION_FRACTION}).",
        )
        parser.add_argument(
            "--no-early-stopping",
            action="store_true",
            help="Train every --epochs epoch even when validation stops improving (benchmarks, drills).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Train and report, but store nothing.")
        parser.add_argument(
            "--force", action="store_true", help="Retrain even if no rating changed, and activate even if worse."
        )

    def handle(self, *args, **options):
        params = train_params(options)
        fraction = validation_fraction(options["validation_fraction"])
        _interrupt_on_sigterm()
        retrain = Retrain(
            params,
            validation_fraction=fraction,
            early_stopping=not options["no_early_stopping"],
            dry_run=options["dry_run"],
            force=options["force"],
            report=self.say,
        )
        try:
            outcome = retrain.run()
        except RetrainError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt as exc:
            reason = str(exc) or "interrupted"
            raise CommandError(f"Retrain stopped ({reason}); the run is marked failed and the previous model keeps serving.") from exc
        except Exception as exc:
            raise CommandError(f"Retrain failed and the previous model keeps serving: {type(exc).__name__}: {exc}") from exc
        style = {"activated": self.style.SUCCESS, "rejected": self.style.WARNING}.get(outcome.status, self.style.NOTICE)
        self.stdout.write(style(outcome.message))

    def say(self, line):
        self.stdout.write(line)
        self.stdout.flush()


def _interrupt_on_sigterm():
    """Let SIGTERM (cron timeouts, deploys) unwind like Ctrl-C, so the run is marked failed."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
