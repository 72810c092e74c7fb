"""manage.py evaluate: offline metrics from CSV files, without touching any table."""

import io
import json
import random

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Rating
from recommender.models import ModelRun

KEYS = {
    "rmse", "mae", "precision_at_10", "recall_at_10", "ndcg_at_10", "fit_seconds", "n_train", "n_test", "eval_users",
    "top10_mean_popularity", "catalog_coverage", "settings_choice",
}


@pytest.fixture
def split(tmp_path):
    """Two tastes, as in the taste catalog: readers 0–29 like books 0–14, readers 30–59 books 15–29."""
    rng = random.Random(5)
    train, test = ["user_id,book_id,rating"], ["user_id,book_id,rating"]
    for user in range(60):
        liked = list(range(15)) if user < 30 else list(range(15, 30))
        for n, book in enumerate(rng.sample(liked, 11)):
            (test if n < 2 else train).append(f"{user},{book},{rng.choice([4, 5])}")
    (tmp_path / "train.csv").write_text("\n".join(train) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(test) + "\n")
    return tmp_path


def evaluate(*args):
    out = io.StringIO()
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


def test_json_report_has_every_metric_and_touches_no_table(split, db):
    output = evaluate("--train", split / "train.csv", "--test", split / "test.csv", "--factors", "4",
                      "--epochs", "5", "--json")
    result = json.loads(output)
    assert set(result) == KEYS
    assert result["n_train"] == 540 and result["n_test"] == 120 and result["eval_users"] == 60
    assert result["recall_at_10"] > 0.5  # two clean tastes: most held-out books come back
    assert 0 < result["rmse"] < 2
    assert not ModelRun.objects.exists() and not Rating.objects.exists()


def test_popularity_model_has_no_star_metrics(split):
    result = json.loads(evaluate("--train", split / "train.csv", "--test", split / "test.csv", "--model",
                                 "popularity", "--json"))
    assert result["rmse"] is None and result["recall_at_10"] is not None


def test_table_output_names_each_metric(split):
    output = evaluate("--train", split / "train.csv", "--test", split / "test.csv", "--factors", "4", "--epochs", "2")
    assert "recall_at_10" in output and "eval_users" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user,book,stars\n1,2,3\n", "expected header"),
        ("user_id,book_id,rating\n1,2\n", "expected 3 columns"),
        ("user_id,book_id,rating\n1,2,9\n", "outside 1..5"),
        ("user_id,book_id,rating\n1,x,3\n", "must be integers"),
        (b"user_id,book_id,rating\n1,2,\xff\n", "not UTF-8"),
    ],
)
def test_bad_csv_is_a_one_line_error(split, content, message):
    bad = split / "bad.csv"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CommandError, match=message) as caught:
        evaluate("--train", bad, "--test", split / "test.csv")
    assert "\n" not in str(caught.value)


def test_missing_file_and_bad_options_are_clear(split):
    with pytest.raises(CommandError, match="no such file"):
        evaluate("--train", split / "nope.csv", "--test", split / "test.csv")
    with pytest.raises(CommandError, match="--factors must be a whole number from 1"):
        evaluate("--train", split / "train.csv", "--test", split / "test.csv", "--factors", "0")


def test_half_stars_are_evaluated_and_count_as_liked_from_four(tmp_path, db):
    """MovieLens-style half stars: 4.5 is liked (relevant), 3.5 is not, and RMSE is against the half stars."""
    rng = random.Random(3)
    train, test = ["user_id,book_id,rating"], ["user_id,book_id,rating"]
    for user in range(60):
        liked = list(range(15)) if user < 30 else list(range(15, 30))
        for n, book in enumerate(rng.sample(liked, 11)):
            (test if n < 2 else train).append(f"{user},{book},{rng.choice([4.5, 5, 4])}")
        other = list(range(15, 30)) if user < 30 else list(range(15))
        for book in rng.sample(other, 2):
            train.append(f"{user},{book},{rng.choice([1.5, 2.5, 3.5])}")
        test.append(f"{user},{rng.choice(other)},3.5")  # held out but not liked: never relevant
    (tmp_path / "train.csv").write_text("\n".join(train) + "\n")
    (tmp_path / "test.csv").write_text("\n".join(test) + "\n")
    result = json.loads(evaluate("--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv", "--factors", "4",
                                 "--epochs", "5", "--json"))
    assert result["eval_users"] == 60 and result["n_test"] == 180
    assert result["recall_at_10"] > 0.5
    assert 0 < result["rmse"] < 1.5
    assert result["settings_choice"]["chosen"] is not None


def test_a_rating_between_half_stars_is_refused_with_its_line(tmp_path, split):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,book_id,rating\n1,2,4.5\n1,3,3.75\n")
    with pytest.raises(CommandError, match=r"line 3: rating '3.75' is not a whole or half star"):
        evaluate("--train", bad, "--test", split / "test.csv")


def test_resplit_moves_ratings_between_the_files_but_keeps_them_all(split):
    first = json.loads(evaluate("--train", split / "train.csv", "--test", split / "test.csv", "--model", "popularity",
                                "--json", "--resplit", "1"))
    assert first["n_train"] + first["n_test"] == 660
    assert first["n_test"] == 60 * round(11 * 0.2)
