"""The training options `retrain` and `evaluate` share, checked and turned into TrainParams."""

import dataclasses

from django.core.management.base import CommandError

from recommender.factorization import TrainParams

DEFAULTS = TrainParams()


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
    """TrainParams from command options, or CommandError with a one-line reason."""
    chosen = {
        "factors": options.get("factors"),
        "epochs": options.get("epochs"),
        "learning_rate": options.get("learning_rate"),
        "regularization": options.get("regularization"),
        "seed": options.get("seed"),
    }
    chosen = {name: value for name, value in chosen.items() if value is not None}
    if chosen.get("factors", 1) < 1:
        raise CommandError("--factors must be at least 1.")
    if chosen.get("epochs", 1) < 1:
        raise CommandError("--epochs must be at least 1.")
    # Each row's loss is quadratic, so a damped Newton step lowers it only for step sizes in (0, 2).
    if not 0 < chosen.get("learning_rate", 1.0) < 2:
        raise CommandError("--learning-rate must be greater than 0 and less than 2.")
    if not chosen.get("regularization", 0.0) >= 0:
        raise CommandError("--regularization must be a number, not negative.")
    if chosen.get("seed", 0) < 0:
        raise CommandError("--seed must not be negative.")
    return dataclasses.replace(DEFAULTS, **chosen)
