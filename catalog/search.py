"""Typo- and word-order-tolerant book search, shared by the search page and the header's suggestions.

A book matches when word_similarity(query, search_text) reaches a threshold, and matches are ranked by
closeness first, then popularity (ratings_count) as a gentle tie-breaker.

On PostgreSQL the candidates come in two stages:
1. Spellings. The query's longest words are looked up among the catalog's words (SearchWord, kept by triggers):
   each stands for itself and the catalog words one typo away, and the word being typed also for the words it
   begins. The candidates are the books holding a spelling of every word (a GIN index on the books' words) and,
   when those are few, the most-rated books holding a spelling of some word. At a million books this reads far
   fewer index entries than stage 2, whose cost is the posting lists of every trigram of the query.
2. When stage 1 finds nothing (no word near a catalog word, or words run together), the GIN trigram index on
   search_text (`search_text %> query`) looks among all books.
Both stages keep the books at the same threshold steps and rank them the same way.
On SQLite, candidates come from LIKE on word prefixes and suffixes, and are ranked in Python.
"""

import difflib
import math
import re

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import Count, F, Func, Q, TextField, Value, Window
from django.db.models.functions import Ln, Lower

from .models import Book, SearchWord, normalize_search_text
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
# Stage 1 (PostgreSQL): how many query words it looks up (the longest), how short a word it ignores, the
# longest word the vocabulary holds (migration 0006), the word_similarity(query word, catalog word) a spelling
# found by trigrams needs, and the letters an edit may add or change.
MAX_SPELLED_WORDS = 4
MIN_SPELLED_CHARS = 3
MAX_WORD_CHARS = 60
SPELLING_THRESHOLD = 0.5
MIN_TRIGRAM_SPELLED_CHARS = 7  # a shorter word is trigram-close to too many others: "thef" to "there", "these"
SHORT_WORD_CHARS = 4
MAX_EDITED_CHARS = 20  # a longer word's ~1,000 edits would only bloat the query; trigrams still find its typos
# When few books hold every word, this many of the most-rated books holding some of them may fill the list.
PARTIAL_MATCHES = 300
EDIT_LETTERS = "abcdefghijklmnopqrstuvwxyz"
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


class BookWords(Func):
    """A book's search_text as an array of words: the expression migration 0006's GIN index is built on."""

    function = "string_to_array"
    output_field = ArrayField(TextField())

    def __init__(self):
        super().__init__(F("search_text"), Value(" "))


def set_word_similarity_threshold(cursor, threshold):
    """The threshold of pg_trgm's %> for the rest of this transaction: set_config(..., true) is SET LOCAL, so
    concurrent requests on a pooled connection each keep their own."""
    cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(threshold)])


def _keyboard_neighbours():
    """Each letter's neighbours on a QWERTY keyboard: the keys a finger slips to."""
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    # Each row sits half a key right of the one above: row r's key c touches row r-1's keys c and c+1.
    neighbours = {}
    for r, row in enumerate(rows):
        for c, letter in enumerate(row):
            near = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
            neighbours[letter] = "".join(rows[i][j] for i, j in near if 0 <= i < len(rows) and 0 <= j < len(rows[i]))
    return neighbours


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()


def one_edit_away(word, mistypes=True):
    """The strings one typo away from the word: a letter left out, one too many and, with mistypes, two
    neighbours swapped or a letter mistyped. In a word of SHORT_WORD_CHARS or fewer, a mistyped letter is only a
    neighbouring key: a short word has too many real words one letter away ("hary" is one from "hard", "mary"
    and "harm", and "harry" with a letter left out), while "farn" for "farm" is a slip of the finger."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = ({left + letter + right for left, right in splits for letter in EDIT_LETTERS}
             | {left + right[1:] for left, right in splits if right})
    if mistypes:
        short = len(word) <= SHORT_WORD_CHARS
        edits |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
        edits |= {left + letter + right[1:] for left, right in splits if right
                  for letter in (KEYBOARD_NEIGHBOURS.get(right[0], "") if short else EDIT_LETTERS)}
    return edits - {word}


def spelled_words(candidates):
    """The query words stage 1 looks up: the longest few, in the query's order."""
    words = [word for word in dict.fromkeys(candidates.split()) if MIN_SPELLED_CHARS <= len(word) <= MAX_WORD_CHARS]
    longest = set(sorted(words, key=len, reverse=True)[:MAX_SPELLED_WORDS])
    return [word for word in words if word in longest]


def catalog_spellings(words, typed):
    """For each query word, the catalog words it may stand for.

    A query word stands for itself and the catalog words one typo away (a catalog word only for those one letter
    shorter or longer: "pie" also for "pi", "love" not for "live"); a long word that is no catalog word, also for
    those close by trigrams (two typos, or a typo in a word over MAX_EDITED_CHARS).
    The word being typed also stands for every catalog word it begins. Common words (STOPWORDS) never do.
    """
    catalog_words = SearchWord.objects.exclude(word__in=STOPWORDS)
    edits = {word: {word, *(one_edit_away(word) if len(word) <= MAX_EDITED_CHARS else ())} for word in words}
    found = set(catalog_words.filter(word__in=set().union(*edits.values())).values_list("word", flat=True))
    # A catalog word typed is seldom another word mistyped ("love" for "live"); it may be a letter short or over.
    spellings = {word: found & ({word, *one_edit_away(word, mistypes=False)} if word in found else edits[word])
                 for word in words}
    # One query per word and kind: ORed together, a trigram condition is checked on every catalog word.
    misspelled = [word for word in words if len(word) >= MIN_TRIGRAM_SPELLED_CHARS and word not in found]
    if misspelled:
        with connection.cursor() as cursor:
            set_word_similarity_threshold(cursor, SPELLING_THRESHOLD)
    for word in misspelled:
        close = catalog_words.alias(lowered=Lower("word")).filter(lowered__trigram_word_similar=word)
        spellings[word].update(close.values_list("word", flat=True))
    if typed in spellings:
        spellings[typed].update(catalog_words.filter(word__startswith=typed).values_list("word", flat=True))
    return [sorted(spellings[word]) for word in words]


def _search_postgres(query, limit, threshold):
    steps = [step for step in THRESHOLD_STEPS if step > threshold] + [threshold]
    # Books are found on the distinctive words (word_similarity(candidates, search_text) above a step);
    # the ranking uses the whole query.
    candidates = candidate_words(query)
    enough = min(ENOUGH_MATCHES, limit)
    closeness = (
        TrigramWordSimilarity(query, "search_text")
        + TITLE_WEIGHT * TrigramSimilarity(Lower("title"), query)
        + POPULARITY_WEIGHT * Ln(F("ratings_count") + 1)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        spellings = catalog_spellings(spelled_words(candidates), typed=query.split()[-1])
        ids = _search_spellings(spellings, candidates, closeness, steps, enough, limit)
        if ids:
            return ids
        return _search_trigram_index(cursor, candidates, closeness, steps, enough, limit)


def _search_spellings(spellings, candidates, closeness, steps, enough, limit):
    """Stage 1: the books holding a spelling of every looked-up word and, when they are too few, the most-rated
    books holding a spelling of some of them; kept at the strictest step with enough matches (the loosest step
    when none has), as stage 2 keeps them, best first."""
    if not any(spellings):
        return []
    books = Book.objects.alias(words=BookWords())
    # word_similarity() as a function, not the %> operator: only these books are looked at.
    strictness = TrigramWordSimilarity(candidates, "search_text")
    matches = {}
    if all(spellings):
        every_word = books
        for each in spellings:
            every_word = every_word.filter(words__overlap=each)
        matches = dict(every_word.annotate(strictness=strictness).order_by().values_list("id", "strictness"))
    if len(matches) < enough and len(spellings) > 1:
        some_words = books.filter(words__overlap=[spelling for each in spellings for spelling in each])
        # The similarity of only those few: as columns of the sorted query, it would be computed for them all.
        # "+ 0": sorted by the popularity index, the planner would walk it past every book holding none.
        popular = some_words.order_by((F("ratings_count") + 0).desc(), "id").values("pk")[:PARTIAL_MATCHES]
        matches.update(Book.objects.filter(pk__in=popular).annotate(strictness=strictness).order_by()
                       .values_list("id", "strictness"))
    for step in steps:
        kept = [book_id for book_id, book_strictness in matches.items() if book_strictness >= step]
        if len(kept) >= enough or step == steps[-1]:
            hits = Book.objects.filter(pk__in=kept).annotate(closeness=closeness)
            return list(hits.order_by("-closeness", "id").values_list("id", flat=True)[:limit])


def _search_trigram_index(cursor, candidates, closeness, steps, enough, limit):
    """Stage 2: the books matching through the GIN trigram index on search_text, at the strictest step that
    has enough of them, best first."""
    ranked = Book.objects.filter(search_text__trigram_word_similar=candidates).annotate(closeness=closeness)
    # Each index scan costs about the same whatever it finds, and a long query rarely has enough matches at
    # the strictest step. So a long query's first scan is at the second step, and the strictest step's
    # matches are picked out of it when there are enough of them: the same books as two scans, for one.
    scans = [(steps[1], steps[0])] + [(step, None) for step in steps[2:]] if (
        len(candidates) >= LONG_QUERY_CHARS and len(steps) > 1) else [(step, None) for step in steps]
    for scan_threshold, stricter in scans:
        set_word_similarity_threshold(cursor, scan_threshold)
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

