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
    group = parser.add_argument_group("training")
    group.add_argument("--factors", type=int, help=f"Ranking factors per book and reader (default {DEFAULTS.factors}).")
    group.add_argument("--epochs", type=int, help=f"Most training epochs (default {DEFAULTS.epochs}).")
    group.add_argument(
        "--learning-rate", type=float, help=f"Step size, 1.0 is a full Newton/ALS step (default {DEFAULTS.learning_rate})."
    )
    group.add_argument("--regularization", type=float, help=f"Regularization strength (default {DEFAULTS.regularization}).")
    group.add_argument("--seed", type=int, help=f"Random seed; equal seeds give equal models (default {DEFAULTS.seed}).")


def train_params(options):
    """TrainParams from command options, or CommandError with a one-line reason (before any work starts)."""
    chosen = {
        "factors": options.get("factors"),
        "epochs": options.get("epochs"),
        "learning_rate": options.get("learning_rate"),
        "regularization": options.get("regularization"),
        "seed": options.get("seed"),
    }
    chosen = {name: value for name, value in chosen.items() if value is not None}
    if not 1 <= chosen.get("factors", 1) <= MAX_FACTORS:
        raise CommandError(f"--factors must be a whole number from 1 to {MAX_FACTORS}.")
    if not 1 <= chosen.get("epochs", 1) <= MAX_EPOCHS:
        raise CommandError(f"--epochs must be a whole number from 1 to {MAX_EPOCHS:,}.")
    # Each row's loss is quadratic, so a damped Newton step lowers it only for step sizes in (0, 2).
    # (NaN fails every comparison, so it lands here too.)
    if not 0 < chosen.get("learning_rate", 1.0) < 2:
        raise CommandError("--learning-rate must be greater than 0 and less than 2.")
    regularization = chosen.get("regularization", 0.0)
    if not (math.isfinite(regularization) and 0 <= regularization <= MAX_REGULARIZATION):
        raise CommandError(f"--regularization must be a number from 0 to {MAX_REGULARIZATION:g}, not {regularization:g}.")
    if not 0 <= chosen.get("seed", 0) <= MAX_SEED:
        raise CommandError(f"--seed must be a whole number from 0 to {MAX_SEED}.")
    try:
        train_threads()  # RECOMMENDER_TRAIN_THREADS, read by training
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return dataclasses.replace(DEFAULTS, **chosen)


def validation_fraction(value):
    """The --validation-fraction of retrain, checked, or CommandError."""
    if not (math.isfinite(value) and 0 < value < 1):
        raise CommandError("--validation-fraction must be between 0 and 1 (exclusive).")
    return value
