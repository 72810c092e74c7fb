"""Serving: the active model held in each worker's memory, personal rankings, fold-in and similar books."""

# Each worker process keeps one LoadedModel (numpy arrays + id maps) in a module global. Before
# using it, a request calls active_model(), which is cheap:
#   * retrain and the admin rollback announce a newly active run id in the Django cache; a worker
#     that sees a new announcement checks the database at once (instant with a shared Redis cache);
#   * otherwise it asks the database "which run is active?" at most every
#     RECOMMENDER_MODEL_CHECK_SECONDS (a one-row index lookup), which covers per-process caches.
# A new model is loaded completely before the global is replaced, so a request sees either the
# old model or the new one, and the old arrays are freed once no request holds them.

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.core.cache import cache

from accounts.models import Dismissal, Rating
from accounts.ratings import ratings_version
from catalog.models import Book

from . import blend, dismissals, factor_model, itemitem
from .activation import ACTIVE_RUN_CACHE_KEY
from .artifacts import unpack
from .models import ModelArtifact, ModelRun

log = logging.getLogger(__name__)

# A reader's folded-in vector is reused until their ratings or the model change.
FOLD_IN_CACHE_SECONDS = 24 * 3600
# Readers' "highly rated" books, which explain a recommendation, are rated at least this.
LIKED_STARS = 4


@dataclass
class LoadedModel:
    run_id: int
    trained_from: datetime  # ratings changed at or after this time are not in the model
    model: factor_model.FactorModel
    rater_ids: np.ndarray  # sorted Rater.pk per model row
    book_ids: np.ndarray  # sorted Book.pk per model column
    rater_rating_counts: np.ndarray
    item_item: itemitem.ItemItemModel | None = None  # the blend's item-item half (None: runs before the blend)

    def book_indices(self, book_ids):
        """(model column of each id, mask of ids the model knows)."""
        ids = np.asarray(book_ids, dtype=np.int64)
        if len(self.book_ids) == 0 or len(ids) == 0:
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        pos = np.minimum(np.searchsorted(self.book_ids, ids), len(self.book_ids) - 1)
        return pos, self.book_ids[pos] == ids

    def book_index(self, book_id):
        pos, known = self.book_indices([book_id])
        return int(pos[0]) if known[0] else None

    def rater_index(self, rater_id):
        if len(self.rater_ids) == 0:
            return None
        pos = int(np.searchsorted(self.rater_ids, rater_id))
        return pos if pos < len(self.rater_ids) and self.rater_ids[pos] == rater_id else None


_current: LoadedModel | None = None
_checked_at = float("-inf")
_seen_announcement = None
_load_lock = threading.Lock()


def forget_model():
    """Drop this process's model so the next request checks the database (tests, after a restore)."""
    global _current, _checked_at, _seen_announcement
    _current, _checked_at, _seen_announcement = None, float("-inf"), None


def active_model() -> LoadedModel | None:
    """The active run's model, loaded once per process and swapped when a newer run is activated."""
    global _current, _checked_at, _seen_announcement
    announced = cache.get(ACTIVE_RUN_CACHE_KEY)
    fresh_news = announced is not None and announced != _seen_announcement
    if not fresh_news and time.monotonic() - _checked_at < settings.RECOMMENDER_MODEL_CHECK_SECONDS:
        return _current
    _seen_announcement = announced
    active = ModelRun.objects.filter(is_active=True).values_list("pk", "started").first()
    _checked_at = time.monotonic()
    if active is None:
        _current = None
        return None
    current = _current
    if current is not None and current.run_id == active[0]:
        return current
    with _load_lock:
        if _current is not None and _current.run_id == active[0]:
            return _current
        _current = _load(*active) or current
    return _current


def _load(run_id, started):
    """The run's model, or None (logged) when it has no arrays or they can't be read.

    On None the caller keeps serving the model it had, or popular books, and tries again at the
    next check: one unreadable artifact must not turn every recommendation page into a 500.
    """
    data = ModelArtifact.objects.filter(run_id=run_id).values_list("data", flat=True).first()
    if data is None:
        log.error("Active run %s has no stored arrays; serving popular books", run_id)
        return None
    try:
        stored = unpack(data)
    except Exception:
        log.exception("The stored arrays of active run %s cannot be read; keeping the model already loaded", run_id)
        return None
    log.info("Loaded model of run %s (%d raters, %d books)", run_id, len(stored.rater_ids), len(stored.book_ids))
    return LoadedModel(
        run_id=run_id,
        trained_from=started,
        model=stored.model,
        rater_ids=stored.rater_ids,
        book_ids=stored.book_ids,
        rater_rating_counts=stored.rater_rating_counts,
        item_item=stored.item_item,
    )


# --------------------------------------------------------------------------- a reader's ratings


@dataclass
class ReaderRatings:
    rater_id: int | None
    book_ids: np.ndarray  # int64
    values: np.ndarray  # float32
    latest: datetime | None
    # "Not interested": never recommended, and a negative signal in the ranking (recommender/dismissals.py)
    dismissed_ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    dismissed_latest: datetime | None = None

    @classmethod
    def of(cls, user):
        """Two queries: every rating and dismissal of a site reader (empty for anonymous readers)."""
        if not user.is_authenticated:
            return cls(None, np.empty(0, np.int64), np.empty(0, np.float32), None)
        dismissed = list(Dismissal.objects.filter(user=user).values_list("book_id", "created"))
        marks = {
            "dismissed_ids": np.array([row[0] for row in dismissed], dtype=np.int64),
            "dismissed_latest": max((row[1] for row in dismissed), default=None),
        }
        rows = list(Rating.objects.filter(rater__user=user).values_list("rater_id", "book_id", "value", "updated"))
        if not rows:
            return cls(None, np.empty(0, np.int64), np.empty(0, np.float32), None, **marks)
        return cls(
            rater_id=rows[0][0],
            book_ids=np.array([row[1] for row in rows], dtype=np.int64),
            values=np.array([row[2] for row in rows], dtype=np.float32),
            latest=max(row[3] for row in rows),
            **marks,
        )

    def negatives(self):
        """Dismissed books the reader has not rated (a rating says more than a dismissal)."""
        return self.dismissed_ids[~np.isin(self.dismissed_ids, self.book_ids)]

    def __len__(self):
        return len(self.book_ids)

    def digest(self):
        order = np.argsort(self.book_ids)
        payload = self.book_ids[order].tobytes() + self.values[order].tobytes() + b"|"
        payload += np.sort(self.negatives()).tobytes()
        return hashlib.blake2b(payload, digest_size=12).hexdigest()


def reader_vector(loaded: LoadedModel, ratings: ReaderRatings):
    """The reader's state in model space: their trained vector while it is current, else folded in.

    A reader who is new, or whose ratings changed since the data was loaded for training, gets a
    vector solved from all their ratings against the fixed book factors. That result is cached
    under the model run, the rater's ratings_version and a digest of the ratings themselves (the
    digest keeps per-process caches correct, where another process bumped the version).
    """
    if len(ratings) == 0:
        return None
    row = loaded.rater_index(ratings.rater_id)
    negatives, negative_known = loaded.book_indices(ratings.negatives())
    negatives = negatives[negative_known]
    if (
        row is not None
        and int(loaded.rater_rating_counts[row]) == len(ratings) + len(negatives)
        and ratings.latest is not None
        and ratings.latest < loaded.trained_from
        and (ratings.dismissed_latest is None or ratings.dismissed_latest < loaded.trained_from)
    ):
        return factor_model.user_state(loaded.model, row)
    items, known = loaded.book_indices(ratings.book_ids)
    if not known.any():
        return None
    key = (
        f"recommender:fold-in:{loaded.run_id}:{ratings.rater_id}:{ratings_version(ratings.rater_id)}:{ratings.digest()}"
    )
    cached = cache.get(key)
    if cached is not None:
        vector, bias = cached
        return factor_model.FoldedUser(vector=np.frombuffer(vector, dtype=np.float32).copy(), bias=bias)
    state = dismissals.fold_in(loaded.model, items[known], ratings.values[known], negatives)
    cache.set(key, (np.asarray(state.vector, dtype=np.float32).tobytes(), float(state.bias)), FOLD_IN_CACHE_SECONDS)
    return state


# --------------------------------------------------------------------------- rankings


@dataclass
class PersonalRanking:
    """A reader's ranked book ids (rated and hidden books removed) and what explains them."""

    book_ids: list
    loaded: LoadedModel | None = None
    state: factor_model.FoldedUser | None = None
    ratings: ReaderRatings | None = None

    def predicted_stars(self, book_ids):
        if self.loaded is None or self.state is None or not book_ids:
            return {}
        items, known = self.loaded.book_indices(book_ids)
        stars = factor_model.predict_user(self.loaded.model, self.state, items)
        return {book_id: round(float(star), 1) for book_id, star, ok in zip(book_ids, stars, known, strict=True) if ok}

    def liked_book_behind(self, book_ids):
        """{recommended book id: id of the reader's highly rated book that contributes most to its score}."""
        if self.loaded is None or self.ratings is None or not book_ids:
            return {}
        rated, known = self.loaded.book_indices(self.ratings.book_ids)
        rated, values = rated[known], self.ratings.values[known]
        candidates, candidate_known = self.loaded.book_indices(book_ids)
        known_ids = [book_id for book_id, ok in zip(book_ids, candidate_known, strict=True) if ok]
        behind = blend.explain_picks(
            self.loaded.model, self.loaded.item_item, rated, values, candidates[candidate_known], min_rating=LIKED_STARS
        )
        reasons = {}
        for book_id, liked in zip(known_ids, behind, strict=True):
            if liked is not None:
                reasons[book_id] = int(self.loaded.book_ids[liked])
        return reasons


def personal_ranking(user, limit, ratings=None, exclude_ids=()) -> PersonalRanking | None:
    """The reader's top `limit` books by the model, or None when the model cannot rank for them.

    Rated, dismissed, hidden books and ``exclude_ids`` (e.g. the reader's shelves) are left out; books
    deleted since training drop out when fetched.
    """
    loaded = active_model()
    if loaded is None:
        return None
    ratings = ratings if ratings is not None else ReaderRatings.of(user)
    state = reader_vector(loaded, ratings)
    if state is None:
        return None
    rated, known = loaded.book_indices(ratings.book_ids)
    dismissed, dismissed_known = loaded.book_indices(ratings.dismissed_ids)
    negatives, negative_known = loaded.book_indices(ratings.negatives())
    excluded, excluded_known = loaded.book_indices(sorted(exclude_ids))
    # The served score: the factor part from the reader's vector, the item-item part straight from
    # their ratings and dismissals (so a new reader's picks follow their first few ratings at once).
    top, _ = blend.recommend(
        loaded.model,
        loaded.item_item,
        state,
        rated[known],
        ratings.values[known],
        n=limit,
        exclude=np.concatenate([rated[known], dismissed[dismissed_known], excluded[excluded_known], hidden_indices(loaded)]),
        dismissed_idx=negatives[negative_known],
    )
    ids = [int(book_id) for book_id in loaded.book_ids[top]]
    return PersonalRanking(book_ids=ids, loaded=loaded, state=state, ratings=ratings)


def similar_book_ids(book_id, limit, exclude_ids=()):
    """Nearest books in embedding space with a popularity prior, hidden books (and exclude_ids) left out. None: no model."""
    loaded = active_model()
    if loaded is None:
        return None
    index = loaded.book_index(book_id)
    if index is None:
        return None
    excluded, known = loaded.book_indices(list(exclude_ids))
    exclude = np.concatenate([hidden_indices(loaded), excluded[known]])
    top, _ = factor_model.similar_items(loaded.model, index, n=limit, exclude=exclude)
    return [int(other) for other in loaded.book_ids[top]]


def hidden_indices(loaded):
    """Model columns of the books staff hid from recommendations (one small query, always current)."""
    hidden = list(Book.objects.filter(hidden_from_recommendations=True).values_list("pk", flat=True))
    columns, known = loaded.book_indices(hidden)
    return columns[known]
