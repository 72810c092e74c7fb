"""The training options `retrain` and `evaluate` share, checked up front and turned into TrainParams."""

import dataclasses
import math

from django.core.management.base import CommandError

from recommender.factor_model import TrainParams
from recommender.kernel import train_threads

DEFAULTS = TrainParams()
# Bounds that keep every intermediate value a finite float32. Wider models than this do not fit a
# web worker's memory at 10k books anyway, and a regularization this strong already pins every
# factor at zero (the tuned value is 0.015).
MAX_FACTORS = 4096
MAX_EPOCHS = 100_000
MAX_REGULARIZATION = 1e6
MAX_SEED = 2**32 - 1


def add_training_arguments(parser):
    # Read as text and checked by train_params, so "--factors x" gets the same one-line message as
    # "--factors 0" instead of argparse's usage block.
    group = parser.add_argument_group("training")
    group.add_argument("--factors", help=f"Ranking factors per book and reader (default {DEFAULTS.factors}).")
    group.add_argument("--epochs", help=f"Most training epochs (default {DEFAULTS.epochs}).")
    group.add_argument(
        "--learning-rate", help=f"Step size, 1.0 is a full Newton/ALS step (default {DEFAULTS.learning_rate})."
    )
    group.add_argument("--regularization", help=f"Regularization strength (default {DEFAULTS.regularization}).")
    group.add_argument("--seed", help=f"Random seed; equal seeds give equal models (default {DEFAULTS.seed}).")


def train_params(options):
    """TrainParams from command options, or CommandError with a one-line reason (before any work starts)."""
    chosen = {}
    for name, kind, low, high, rule in (
        ("factors", int, 1, MAX_FACTORS, f"a whole number from 1 to {MAX_FACTORS}"),
        ("epochs", int, 1, MAX_EPOCHS, f"a whole number from 1 to {MAX_EPOCHS:,}"),
        ("seed", int, 0, MAX_SEED, f"a whole number from 0 to {MAX_SEED}"),
        ("regularization", float, 0, MAX_REGULARIZATION, f"a number from 0 to {MAX_REGULARIZATION:g}"),
        # Each row's loss is quadratic, so a damped Newton step lowers it only for step sizes in (0, 2).
        ("learning_rate", float, 0, 2, "greater than 0 and less than 2"),
    ):
        raw = options.get(name)
        if raw is None:
            continue
        try:
            value = kind(str(raw).strip())
        except ValueError:
            value = None
        exclusive = name == "learning_rate"
        # NaN fails every comparison, and inf is out of range, so both land here too.
        if value is None or not math.isfinite(value) or not (low < value < high if exclusive else low <= value <= high):
            option = "--" + name.replace("_", "-")
            raise CommandError(f"{option} must be {rule}, not {str(raw)[:40]!r}.")
        chosen[name] = value
    try:
        train_threads()  # RECOMMENDER_TRAIN_THREADS, read by training
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return dataclasses.replace(DEFAULTS, **chosen)


def validation_fraction(raw):
    """The --validation-fraction of retrain, checked, or CommandError."""
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1):
        raise CommandError(f"--validation-fraction must be between 0 and 1 (exclusive), not {str(raw)[:40]!r}.")
    return value
