"""Pure tests of the offline evaluation protocol: hand-computed metrics and CSV validation (no DB)."""

import math

import numpy as np
import pytest

from recommender.evaluation import RESULT_KEYS, evaluate, read_ratings_csv
from recommender.factor_model import TrainParams
from recommender.metrics import rating_metrics, topn_metrics


def test_topn_metrics_hand_computed():
    # user 0: relevant {1, 5, 20}; hits at ranks 2 and 6
    # user 1: relevant {9}; hit at rank 10
    # user 2: 12 relevant items, 3 hits at ranks 1, 2, 3
    top = np.array(
        [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 10],
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [30, 31, 32, 0, 1, 2, 3, 4, 5, 6],
        ]
    )
    relevant = [np.array([1, 5, 20]), np.array([9]), np.arange(30, 42)]
    precision, recall, ndcg = topn_metrics(top, relevant, n=10)
    d = [1 / math.log2(r + 1) for r in range(1, 11)]
    assert precision == pytest.approx([0.2, 0.1, 0.3])
    assert recall == pytest.approx([2 / 3, 1.0, 3 / 10])  # denominator min(10, #relevant)
    assert ndcg[0] == pytest.approx((d[1] + d[5]) / (d[0] + d[1] + d[2]))
    assert ndcg[1] == pytest.approx(d[9] / d[0])
    assert ndcg[2] == pytest.approx((d[0] + d[1] + d[2]) / sum(d))


def test_topn_metrics_no_hits_is_zero():
    p, r, g = topn_metrics(np.array([[0, 1, 2]]), [np.array([7])], n=3)
    assert p[0] == 0 and r[0] == 0 and g[0] == 0


def test_rating_metrics_clip_predictions():
    rmse, mae = rating_metrics(np.array([6.0, 0.0, 3.5]), np.array([5.0, 1.0, 3.0]))
    assert rmse == pytest.approx(math.sqrt(0.25 / 3))
    assert mae == pytest.approx(0.5 / 3)


def _triples(rows):
    a = np.array(rows, dtype=np.float64)
    return a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.float32)


def test_evaluate_popularity_protocol_by_hand():
    # book counts in train: 10 -> 3, 11 -> 2, 12 -> 2, 13 -> 1
    train = _triples([(1, 10, 5), (2, 10, 4), (3, 10, 3), (2, 11, 4), (3, 11, 2), (1, 12, 5), (5, 12, 4), (4, 13, 2)])
    test = _triples(
        [
            (1, 11, 5),  # user 1 saw 10, 12: best unseen by popularity = 11 -> hit at rank 1
            (1, 99, 4),  # unknown book: relevant, can never be hit (and is not in rmse)
            (2, 13, 5),  # user 2 saw 10, 11: ranking 12, 13 -> 13 at rank 2
            (3, 12, 2),  # below 4: not relevant; user 3 has no relevant test book -> not evaluated
            (7, 10, 5),  # unknown user: skipped
        ]
    )
    res = evaluate(train, test, model="popularity")
    assert tuple(res) == RESULT_KEYS
    assert res["rmse"] is None and res["mae"] is None
    assert res["eval_users"] == 2 and res["n_train"] == 8 and res["n_test"] == 5
    d = [1 / math.log2(r + 1) for r in range(1, 11)]
    assert res["precision_at_10"] == pytest.approx((1 / 10 + 1 / 10) / 2)
    assert res["recall_at_10"] == pytest.approx((1 / 2 + 1 / 1) / 2)
    assert res["ndcg_at_10"] == pytest.approx((d[0] / (d[0] + d[1]) + d[1] / d[0]) / 2)


def test_evaluate_mf_returns_all_metrics():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 8)
    books = np.concatenate([rng.choice(20, 8, replace=False) + (0 if u < 20 else 20) for u in range(40)])
    stars = rng.integers(3, 6, len(users)).astype(np.float32)
    test_mask = np.arange(len(users)) % 4 == 0
    res = evaluate(
        (users[~test_mask], books[~test_mask], stars[~test_mask]),
        (users[test_mask], books[test_mask], stars[test_mask]),
        params=TrainParams(factors=4, star_factors=2, epochs=5, regularization=0.1),
    )
    assert tuple(res) == RESULT_KEYS
    assert 0 < res["rmse"] < 2 and 0 < res["mae"] <= res["rmse"]
    assert res["recall_at_10"] > 0.3  # planted two disjoint groups
    assert 0 < res["fit_seconds"] < 60
    # Every test reader with a rating of 4 or more is scored (all 40 occur in train).
    assert res["eval_users"] == len(set(users[test_mask & (stars >= 4)]))


def test_evaluate_rejects_unknown_model():
    t = _triples([(1, 1, 5)])
    with pytest.raises(ValueError, match="unknown model"):
        evaluate(t, t, model="ease")


def write(tmp_path, text, name="r.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_ratings_csv_ok(tmp_path):
    u, b, r = read_ratings_csv(write(tmp_path, "user_id,book_id,rating\n1,10,5\n2,11,3.5\n\n"))
    assert u.tolist() == [1, 2] and b.tolist() == [10, 11] and r.tolist() == [5.0, 3.5]
    assert u.dtype == np.int64 and r.dtype == np.float32


@pytest.mark.parametrize(
    "text, message",
    [
        ("user,book,rating\n1,2,3\n", "line 1: expected header"),
        ("", "line 1: expected header"),
        ("user_id,book_id,rating\n1,2,3\nx,2,3\n", "line 3: user_id and book_id must be integers"),
        ("user_id,book_id,rating\n1,2,good\n", "line 2: rating is not a number"),
        ("user_id,book_id,rating\n1,2,3\n1,3,6\n", "line 3: rating '6' outside 1..5"),
        ("user_id,book_id,rating\n1,2,0\n", "line 2: rating '0' outside 1..5"),
        ("user_id,book_id,rating\n1,2\n", "line 2: expected 3 columns"),
        ("user_id,book_id,rating\n1,2,3.5\n1,3,3.7\n", "line 3: rating '3.7' is not a whole or half star"),
        ("user_id,book_id,rating\n1,2,4.25\n", "line 2: rating '4.25' is not a whole or half star"),
        ("user_id,book_id,rating\n1,2,0.5\n", "line 2: rating '0.5' outside 1..5"),
    ],
)
def test_read_ratings_csv_rejects_bad_rows_with_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        read_ratings_csv(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
