"""Series rules over a ranked list: no cold sequels, one omnibus rule, at most two volumes of a series per page."""

# Applied after the model has ranked (whatever the model is): the ranking says which books suit the
# reader, these rules say in which order a reader can pick a series up.
#  * A later volume of a series the reader has not started (no earlier volume rated or on any of
#    their shelves: read, currently reading, or want to read, which says they mean to start it) is
#    replaced by that series' first volume, once, at the place of the best-ranked such volume. A
#    series whose first volume the reader dismissed is left out.
#  * An omnibus edition (position "1-3", "Boxed Set", "Complete", ...) is left out for a reader
#    who rated a volume it binds.
#  * A page holds at most MAX_PER_SERIES volumes of one series; the others move to later pages.

from dataclasses import dataclass, field, replace

import numpy as np

from catalog.series import Volume, first_volume, reading_key, series_volumes, volumes_of_books

MAX_PER_SERIES = 2


@dataclass
class ReaderBooks:
    """The reader's own books, as the rules need them: rated (with stars), shelved (any shelf), read (on the Read
    shelf, rated or not) and dismissed ids."""

    rated: dict = field(default_factory=dict)  # book id -> stars
    shelved: set = field(default_factory=set)
    dismissed: set = field(default_factory=set)
    read: set = field(default_factory=set)

    @property
    def finished(self):
        """Books the reader has read: on Read, or rated (a Goodreads import can leave a rated book elsewhere)."""
        return set(self.rated) | self.read

    @property
    def started(self):
        """Books that show the reader has begun a series: rated or planned."""
        return set(self.rated) | self.shelved

    @property
    def excluded(self):
        """Books never recommended to this reader on For you: rated, shelved (their own row) and dismissed."""
        return set(self.rated) | self.shelved | self.dismissed


def series_aware(ranked_ids, reader: ReaderBooks):
    """(The ranked ids with the reader's own books removed, cold sequels swapped for first volumes and omnibuses
    pruned; {book id: Volume} of every book of each series among them and among the reader's rated books, for
    ``paged`` and ``continue_series``). Two queries."""
    excluded = reader.excluded
    candidates = [book_id for book_id in ranked_ids if book_id not in excluded]
    # The reader's rated books come along in the same two queries, for continue_series.
    volumes = volumes_of_books([*candidates, *reader.rated])
    all_volumes = series_volumes({volume.series for volume in volumes.values()})
    known = {volume.pk: volume for series in all_volumes.values() for volume in series}
    started = reader.started
    out, emitted = [], set()
    for book_id in candidates:
        volume = volumes.get(book_id)
        pick = book_id if volume is None else _series_pick(volume, all_volumes[volume.series], reader, started)
        if pick is not None and pick not in emitted and pick not in excluded:
            out.append(pick)
            emitted.add(pick)
    return out, known


def _series_pick(volume, series, reader, started):
    """What to show in the place of ``volume``: itself, its series' first volume, or nothing (None)."""
    if volume.is_omnibus and any(other.pk in reader.rated and volume.contains(other) for other in series):
        return None
    earlier = [other for other in series if other.span is not None and other.start < volume.start]
    if not earlier or any(other.pk in started for other in earlier):
        return volume.pk
    first = first_volume(series)
    if first is None or first.pk in reader.dismissed:
        return None
    return first.pk


def paged(ids, volumes, page_size, max_per_series=MAX_PER_SERIES):
    """``ids`` reordered so that no page of ``page_size`` holds more than ``max_per_series`` books of one series.

    A book that would overfill its page moves to the first later page with room, keeping the order
    otherwise. Every page but the last is full; books left over once a page can no longer be filled
    (all of them from series already twice on it) are dropped. ``volumes``: {book id: Volume} of the
    series books among ids (others count as books of no series).
    """
    pending, out = list(ids), []
    while pending:
        page, counts, rest = [], {}, []
        for book_id in pending:
            name = volumes[book_id].series if book_id in volumes else None
            if len(page) < page_size and (name is None or counts.get(name, 0) < max_per_series):
                page.append(book_id)
                if name is not None:
                    counts[name] = counts.get(name, 0) + 1
            else:
                rest.append(book_id)
        out += page
        if len(page) < page_size:
            break
        pending = rest
    return out


def prefer_single_volumes(ranking, behind, liked_books):
    """``behind`` ({pick: liked book that explains it}) with omnibus editions replaced by a single liked volume.

    "Because you liked The Wheel of Time: Boxed Set #1" says less than the volume itself: where the
    reader also liked single volumes, the pick is explained again from those, and keeps the omnibus
    only when no single volume explains it. ``liked_books``: {id: Book} of the books in ``behind``
    (already fetched by the caller), so that the usual case, no omnibus, costs no query.
    """
    ratings = ranking.ratings
    explained_by_omnibus = [
        pick for pick, liked in behind.items() if liked in liked_books and Volume.of(liked_books[liked]).is_omnibus
    ]
    if ratings is None or not explained_by_omnibus:
        return behind
    rated = [int(book_id) for book_id in ratings.book_ids]
    omnibus = {pk for pk, volume in volumes_of_books(rated).items() if volume.is_omnibus}
    keep = np.array([book_id not in omnibus for book_id in rated], dtype=bool)
    singles = replace(ratings, book_ids=ratings.book_ids[keep], values=ratings.values[keep])
    again = replace(ranking, ratings=singles).liked_book_behind(explained_by_omnibus)
    return {**behind, **again}


def continue_series(reader: ReaderBooks, limit=12, known=None):
    """The next unread volume of each series the reader rated a volume of 4 stars or more, best-loved series first.

    The reader has read a volume they rated or put on Read (unrated); the next volume is the first one after the
    furthest volume read that they have not read. When that volume is on want-to-read or currently-reading the
    series is left out: it is planned already, and the want-to-read row shows it (no card twice on a page).

    ``known``: the volumes series_aware returned for this reader (then no query is made), else looked up.
    """
    liked = [book_id for book_id, stars in reader.rated.items() if stars >= 4]
    if known is None:
        volumes = volumes_of_books(liked)
        by_series = series_volumes({volume.series for volume in volumes.values()})
    else:
        volumes = {book_id: known[book_id] for book_id in liked if book_id in known}
        by_series = {volume.series: [] for volume in volumes.values()}
        for volume in known.values():
            if volume.series in by_series:
                by_series[volume.series].append(volume)
        for series in by_series.values():
            series.sort(key=reading_key)
    love = {}
    for book_id, volume in volumes.items():
        love[volume.series] = max(love.get(volume.series, 0), reader.rated[book_id])
    finished = reader.finished
    planned = reader.shelved - finished  # want to read or currently reading
    picks = []
    for name in sorted(by_series, key=lambda name: (-love[name], name)):
        series = by_series[name]
        read_up_to = max((other.span[1] for other in series if other.pk in finished and other.span), default=None)
        if read_up_to is None:
            continue
        following = [
            other
            for other in series
            if other.span is not None and other.start > read_up_to and not other.is_omnibus and not other.hidden
        ]
        upcoming = next((other for other in following if other.pk not in finished), None)
        # Already planned (on another shelf) or refused (dismissed): that series has nothing to offer here.
        if upcoming is not None and upcoming.pk not in planned and upcoming.pk not in reader.dismissed:
            picks.append(upcoming.pk)
        if len(picks) >= limit:
            break
    return picks
