"""manage.py evaluate: offline train/test evaluation on CSV files; touches no table."""

import json

from django.core.management.base import BaseCommand, CommandError

from recommender.evaluation import evaluate, read_ratings_csv
from recommender.management.training_options import add_training_arguments, train_params


class Command(BaseCommand):
    help = "Train on TRAIN.csv and report rating and top-10 metrics on TEST.csv (user_id,book_id,rating)."

    def add_arguments(self, parser):
        parser.add_argument("--train", required=True, metavar="TRAIN.csv", help="Training ratings.")
        parser.add_argument("--test", required=True, metavar="TEST.csv", help="Test ratings.")
        parser.add_argument("--model", choices=["mf", "popularity"], default="mf", help="What to evaluate (default mf).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        add_training_arguments(parser)

    def handle(self, *args, **options):
        params = train_params(options)
        train_triples = self.read(options["train"])
        test_triples = self.read(options["test"])
        if len(train_triples[0]) == 0:
            raise CommandError(f"{options['train']}: no ratings to train on.")
        if not options["json"]:
            self.stdout.write(f"Training {options['model']} on {len(train_triples[0]):,} ratings…")
        try:
            result = evaluate(train_triples, test_triples, model=options["model"], params=params)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        for key, value in result.items():
            shown = "—" if value is None else f"{value:.4f}" if isinstance(value, float) else f"{value:,}"
            self.stdout.write(f"{key:>16}  {shown}")

    def read(self, path):
        try:
            return read_ratings_csv(path)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file.") from None
        except IsADirectoryError:
            raise CommandError(f"{path}: is a folder, not a CSV file.") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path}: not UTF-8 text.") from None
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0]) from None
