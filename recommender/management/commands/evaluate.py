"""manage.py evaluate: offline train/test evaluation on CSV files; touches no table."""

import json

from django.core.management.base import BaseCommand, CommandError

from recommender.evaluation import MODELS, evaluate, read_ratings_csv, resplit
from recommender.management.training_options import add_training_arguments, train_params


class Command(BaseCommand):
    help = "Train on TRAIN.csv and report rating and top-10 metrics on TEST.csv (user_id,book_id,rating)."

    def add_arguments(self, parser):
        parser.add_argument("--train", required=True, metavar="TRAIN.csv", help="Training ratings.")
        parser.add_argument("--test", required=True, metavar="TEST.csv", help="Test ratings.")
        parser.add_argument(
            "--model",
            choices=MODELS,
            default="served",
            help="served: what retrain trains and For you serves (default); mf: its factor model alone; "
            "popularity: train rating counts.",
        )
        parser.add_argument(
            "--resplit",
            type=int,
            metavar="SEED",
            help="Pool TRAIN and TEST and split them again at random with this seed (20%% of each reader with "
            "5 or more ratings to test), to check that a result is not an artefact of one split.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        add_training_arguments(parser)

    def handle(self, *args, **options):
        params = train_params(options)
        train_triples = self.read(options["train"])
        test_triples = self.read(options["test"])
        if options["resplit"] is not None:
            if options["resplit"] < 0:
                raise CommandError("--resplit must be a whole number 0 or more.")
            train_triples, test_triples = resplit(train_triples, test_triples, options["resplit"])
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
        choice = result.pop("settings_choice") or {}
        for key, value in result.items():
            shown = "—" if value is None else f"{value:.4f}" if isinstance(value, float) else f"{value:,}"
            self.stdout.write(f"{key:>16}  {shown}")
        chosen = choice.get("chosen")
        if chosen:
            self.stdout.write(
                f"{'blend':>16}  liked weight {chosen['liked_weight']:g}, factor weight {chosen['mf_weight']:g} "
                f"(chosen on a validation split of TRAIN)"
            )

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

