"""Typo- and word-order-tolerant book search, shared by the search page and the header's suggestions.

On PostgreSQL, pg_trgm finds candidates through the GIN trigram index on Book.search_text
(`search_text %> query`, i.e. word_similarity above a threshold set for the one query) and ranks them.
On SQLite, candidates come from LIKE on word prefixes and suffixes, and are ranked in Python.
Either way the ranking is: closeness first, then popularity (ratings_count) as a gentle tie-breaker.
"""

import difflib
import math
import re

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import Count, F, Q, Window
from django.db.models.functions import Ln, Lower

from .models import Book, normalize_search_text
from .tabular import isbn10_is_valid, isbn10_to_isbn13, isbn13_is_valid

MAX_QUERY_CHARS = 200
# 10 or 13 digits (an ISBN-10 may end in X), as printed: "978-0-261-10357-3", "0 261 10357 1".
ISBN_QUERY = re.compile(r"[0-9](?:[ -]?[0-9]){8}[ -]?[0-9Xx]|[0-9](?:[ -]?[0-9]){12}")
SHORT_QUERY_CHARS = 4
MAX_RESULTS = 200  # nobody pages past this; it bounds the ranking work per query
# word_similarity(query, search_text) a book needs to be a result, and the looser bar for "did you mean".
MATCH_THRESHOLD = 0.3
ALTERNATIVE_THRESHOLD = 0.2
# PostgreSQL tries stricter thresholds first: a strict bar selects few rows through the index and is
# cheap, while 0.3 on a query full of common trigrams ("the …") rechecks thousands of rows.
# It loosens only while fewer than ENOUGH_MATCHES books are found.
THRESHOLD_STEPS = (0.6, 0.45)
ENOUGH_MATCHES = 8
# Candidate words this long (about 15 trigrams) seldom reach ENOUGH_MATCHES at the strictest step.
LONG_QUERY_CHARS = 13
# How much title closeness and popularity add to the word-similarity score.
TITLE_WEIGHT = 0.2
POPULARITY_WEIGHT = 0.03
SQLITE_CANDIDATES = 2000
STOPWORDS = {"a", "an", "and", "the", "of", "in", "on", "to", "for", "with", "our", "my", "is", "at", "by", "from",
             "de", "la", "el", "le", "les", "y", "et"}


def candidate_words(query):
    """The query without its common words, which select half the catalog and say little about the book."""
    kept = [word for word in query.split() if word not in STOPWORDS]
    return " ".join(kept) if any(len(word) >= 3 for word in kept) else query


def clean_query(raw):
    """The normalized form of what a reader typed: at most 200 characters of lowercase, accent-free words."""
    return normalize_search_text(str(raw or "")[: MAX_QUERY_CHARS * 4])[:MAX_QUERY_CHARS].strip()


def isbn_matches(raw_query):
    """The books an ISBN-10 or ISBN-13 query names (hyphens and spaces allowed), or None for any other query."""
    text = str(raw_query or "").strip()[:MAX_QUERY_CHARS]
    if not ISBN_QUERY.fullmatch(text):
        return None
    digits = text.replace("-", "").replace(" ", "").upper()
    if len(digits) == 13 and isbn13_is_valid(digits):
        wanted = Q(isbn13=digits)
    elif len(digits) == 10 and isbn10_is_valid(digits):
        wanted = Q(isbn10=digits) | Q(isbn13=isbn10_to_isbn13(digits))
    else:
        return None
    return list(Book.objects.filter(wanted).order_by("-ratings_count", "id").values_list("id", flat=True))


def search_book_ids(raw_query, limit=MAX_RESULTS, threshold=MATCH_THRESHOLD):
    """Ids of the books matching a query, best first. An ISBN finds its book through the ISBN indexes."""
    by_isbn = isbn_matches(raw_query)
    if by_isbn:
        return by_isbn[:limit]
    query = clean_query(raw_query)
    if not query:
        return []
    if len(query) < SHORT_QUERY_CHARS:
        return _search_short(query, limit)
    if connection.vendor == "postgresql":
        return _search_postgres(query, limit, threshold)
    return _search_python(query, limit, threshold)


def _search_short(query, limit):
    """"It", "Pi", "the": too short for typos to be guessable, and matching every book with trigram
    "the" is slow. Whole-word matches only, most popular first, which walks the popularity index."""
    matches = Book.objects.filter(
        Q(search_text=query) | Q(search_text__startswith=query + " ") | Q(search_text__contains=f" {query} ")
        | Q(search_text__endswith=" " + query)
    )
    return list(matches.order_by("-ratings_count", "id").values_list("id", flat=True)[:limit])


def books_in_order(book_ids):
    """The books with these ids, in that order, with what list pages show (constant number of queries)."""
    books = Book.objects.with_list_data().in_bulk(book_ids)
    return [books[pk] for pk in book_ids if pk in books]


def alternatives(raw_query, limit=5):
    """Titles a reader may have meant when a query finds nothing: looser matches of the same words."""
    query = clean_query(raw_query)
    if not query:
        return []
    ids = search_book_ids(query, limit=limit, threshold=ALTERNATIVE_THRESHOLD)
    if not ids:
        # Each longer word alone: "hary pottter zzz" still offers Harry Potter.
        words = [word for word in query.split() if len(word) > 3][:4]
        for word in words:
            ids.extend(i for i in search_book_ids(word, limit=limit, threshold=ALTERNATIVE_THRESHOLD) if i not in ids)
    return books_in_order(ids[:limit])


def _search_postgres(query, limit, threshold):
    steps = [step for step in THRESHOLD_STEPS if step > threshold] + [threshold]
    # Candidates come through the index on the distinctive words (search_text %> candidates, i.e.
    # word_similarity(candidates, search_text) above the session threshold); the ranking uses the whole query.
    candidates = candidate_words(query)
    enough = min(ENOUGH_MATCHES, limit)
    ranked = Book.objects.filter(search_text__trigram_word_similar=candidates).annotate(
        closeness=TrigramWordSimilarity(query, "search_text")
        + TITLE_WEIGHT * TrigramSimilarity(Lower("title"), query)
        + POPULARITY_WEIGHT * Ln(F("ratings_count") + 1)
    )
    # Each index scan costs about the same whatever it finds, and a long query rarely has enough matches at
    # the strictest step. So a long query's first scan is at the second step, and the strictest step's
    # matches are picked out of it when there are enough of them: the same books as two scans, for one.
    scans = [(steps[1], steps[0])] + [(step, None) for step in steps[2:]] if (
        len(candidates) >= LONG_QUERY_CHARS and len(steps) > 1) else [(step, None) for step in steps]
    # set_config(..., true) is SET LOCAL: the threshold lasts for this transaction only, so concurrent
    # requests on a pooled connection each keep their own.
    with transaction.atomic(), connection.cursor() as cursor:
        for scan_threshold, stricter in scans:
            cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(scan_threshold)])
            hits = ranked
            if stricter is not None:
                hits = ranked.annotate(
                    strictness=TrigramWordSimilarity(candidates, "search_text"),
                    strict_hits=Window(Count("pk", filter=Q(strictness__gte=stricter))),
                ).filter(Q(strictness__gte=stricter) | Q(strict_hits__lt=enough))
            ids = list(hits.order_by("-closeness", "id").values_list("id", flat=True)[:limit])
            if len(ids) >= enough:
                break
    return ids


def _search_python(query, limit, threshold):
    tokens = query.split()
    keys = [word for word in tokens if word not in STOPWORDS] or tokens
    fragments = set()
    for word in keys[:8]:
        if len(word) <= 3:
            fragments.add(word)
        else:  # a typo rarely hits both ends of a word: "rngs" still shares "ngs" with "rings"
            fragments.update({word[:3], word[-3:]})
    condition = " OR ".join(["search_text LIKE %s"] * len(fragments))
    params = [f"%{fragment}%" for fragment in sorted(fragments)]
    table = Book._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, search_text, title, ratings_count FROM {table} WHERE {condition} "
            f"ORDER BY ratings_count DESC, id LIMIT %s",
            [*params, SQLITE_CANDIDATES],
        )
        candidates = cursor.fetchall()
    closeness = _WordCloseness(tokens)
    scored = []
    for book_id, text, title, ratings_count in candidates:
        score = closeness.score(text.split())
        if score < threshold + 0.3:  # difflib ratios run higher than trigram similarity
            continue
        title_score = difflib.SequenceMatcher(None, query, normalize_search_text(title)).ratio()
        scored.append((score + TITLE_WEIGHT * title_score + POPULARITY_WEIGHT * math.log1p(ratings_count), book_id))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [book_id for _, book_id in scored[:limit]]


class _WordCloseness:
    """How well a book's words cover the query's words, forgiving typos and word order (0..1)."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.weights = [len(token) for token in tokens]
        self.total = sum(self.weights)
        self.cache = {}

    def _close(self, token, word):
        key = (token, word)
        if key not in self.cache:
            if token == word:
                value = 1.0
            elif word.startswith(token) and len(token) >= 3:
                value = 0.9  # as-you-type: "stormli" is most of "stormlight"
            else:
                matcher = difflib.SequenceMatcher(None, token, word)
                value = matcher.ratio() if matcher.real_quick_ratio() > 0.5 else 0.0
            self.cache[key] = value
        return self.cache[key]

    def score(self, words):
        if not words:
            return 0.0
        total = 0.0
        for token, weight in zip(self.tokens, self.weights, strict=True):
            total += weight * max(self._close(token, word) for word in words)
        return total / self.total

