"""Merging duplicate books: every row that points at a duplicate moves to the kept book, then the duplicates go.

The merge walks the relations pointing at Book (``Book._meta.get_fields``), so rows of a model another app
adds (ratings, shelves, imports) move without the catalog importing that app. Where moving a row would break a
unique constraint (one reader, one rating per book), the row that survives is the one the owning app's rule
ranks highest; apps register their rules at start-up (``accounts/apps.py``). Without a rule the kept book's
row survives, then the oldest. The duplicates' URLs keep working: each becomes a BookRedirect.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import models, transaction

from .models import Book, BookAuthor, BookRedirect

# Book fields copied from a duplicate when the kept book has them blank.
FILLABLE_FIELDS = ["original_title", "series", "series_position", "publication_year", "isbn10", "isbn13",
                   "goodreads_book_id", "language", "cover_url", "description"]


@dataclass(frozen=True)
class MergeRule:
    """How one model's rows behave in a merge.

    ``rank(row, keep_id)`` orders rows that would clash on the kept book; the highest survives.
    ``after(keep, moved_ids)`` runs once the rows are moved (recounts, cache keys, ordering).
    """

    rank: object = None
    after: object = None


_rules = {}


def register_merge_rule(model, *, rank=None, after=None):
    """Called by the app that owns ``model`` (in its AppConfig.ready) to say which clashing row survives."""
    _rules[model._meta.label] = MergeRule(rank=rank, after=after)


def keep_book_first(row, keep_id):
    """The default rank: the kept book's row, then the oldest."""
    return (getattr(row, "book_id", None) == keep_id, -row.pk)


@dataclass
class Moved:
    moved: int = 0
    dropped: int = 0


@dataclass
class MergeResult:
    kept: Book
    merged: int = 0
    # verbose_name_plural of each related model → how many of its rows moved and how many clashed and went
    rows: dict[str, Moved] = field(default_factory=dict)

    def of(self, model):
        return self.rows.get(str(model._meta.verbose_name_plural), Moved())

    def summary(self):
        parts = []
        for name, counts in self.rows.items():
            if counts.moved or counts.dropped:
                dropped = f" ({counts.dropped} duplicate{'s' if counts.dropped != 1 else ''} dropped)" if counts.dropped else ""
                parts.append(f"{counts.moved} {name} moved{dropped}")
        return ", ".join(parts) or "nothing else to move"


def book_relations():
    """The foreign keys and one-to-ones of other models that point at Book, hidden ones included."""
    return [
        relation.field
        for relation in Book._meta.get_fields(include_hidden=True)
        if relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)
        and not relation.related_model._meta.auto_created  # the genres table is a many-to-many of Book itself
    ]


@transaction.atomic
def merge_books(keep, duplicates):
    """Fold duplicate books into ``keep``: no rating, shelf entry or link is lost or doubled."""
    duplicate_ids = sorted({book.pk for book in duplicates} - {keep.pk})
    result = MergeResult(kept=keep)
    if not duplicate_ids:
        return result
    # Lock in id order, as every writer that locks several books does, so two merges cannot deadlock.
    list(Book.objects.select_for_update().filter(pk__in=[keep.pk, *duplicate_ids]).order_by("pk").values_list("pk"))
    afters = []
    for foreign_key in book_relations():
        model = foreign_key.model
        rule = _rules.get(model._meta.label, MergeRule())
        moved_ids, dropped = _move_rows(foreign_key, keep.pk, duplicate_ids, rule.rank or keep_book_first)
        result.rows[str(model._meta.verbose_name_plural)] = Moved(len(moved_ids), dropped)
        if rule.after is not None:
            afters.append((rule.after, moved_ids))

    keep.refresh_from_db()
    dupes = list(Book.objects.filter(pk__in=duplicate_ids))
    filled = []
    for name in FILLABLE_FIELDS:
        if getattr(keep, name) in ("", None):
            value = next((getattr(d, name) for d in dupes if getattr(d, name) not in ("", None)), None)
            if value is not None:
                setattr(keep, name, value)
                filled.append(name)
    for m2m in Book._meta.many_to_many:
        if m2m.remote_field.through._meta.auto_created:  # authors go through BookAuthor, moved above
            through = m2m.remote_field.through
            source, target = m2m.m2m_field_name(), m2m.m2m_reverse_field_name()
            values = through.objects.filter(**{f"{source}_id__in": duplicate_ids}).values_list(f"{target}_id", flat=True)
            getattr(keep, m2m.name).add(*set(values))
    Book.objects.filter(pk__in=duplicate_ids).delete()  # nothing points at them any more
    BookRedirect.objects.bulk_create([BookRedirect(old_id=old_id, book=keep) for old_id in duplicate_ids])
    # Only what the merge fills in: the rating summary is the rules' to recount.
    keep.save(update_fields=[*filled, "updated"])  # also rebuilds search_text with the authors
    for after, moved_ids in afters:
        after(keep, moved_ids)
    result.merged = len(duplicate_ids)
    return result


def _move_rows(foreign_key, keep_id, duplicate_ids, rank):
    """Point ``foreign_key``'s rows at the kept book; of rows that would then clash, keep the best ranked.

    Returns (ids of the rows moved, number of rows deleted).
    """
    model, name = foreign_key.model, foreign_key.name
    groups = _clash_fields(foreign_key)
    rows = model.objects.filter(**{f"{foreign_key.attname}__in": [keep_id, *duplicate_ids]})
    if groups is None:
        moved = list(rows.exclude(**{foreign_key.attname: keep_id}).values_list("pk", flat=True))
        model.objects.filter(pk__in=moved).update(**{name: keep_id})
        return moved, 0
    by_owner = defaultdict(list)
    for row in rows:
        by_owner[tuple(getattr(row, attname) for attname in groups)].append(row)
    losers, moved = [], []
    for owner_rows in by_owner.values():
        winner = max(owner_rows, key=lambda row: rank(row, keep_id))
        losers += [row.pk for row in owner_rows if row is not winner]
        if getattr(winner, foreign_key.attname) != keep_id:
            moved.append(winner.pk)
    model.objects.filter(pk__in=losers).delete()
    model.objects.filter(pk__in=moved).update(**{name: keep_id})
    return moved, len(losers)


def _clash_fields(foreign_key):
    """The other columns of the first unique constraint that includes ``foreign_key`` (None when none does)."""
    if foreign_key.unique:
        return ()
    meta = foreign_key.model._meta
    candidates = [
        constraint.fields for constraint in meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields and constraint.condition is None
    ] + [tuple(fields) for fields in meta.unique_together]
    for fields in candidates:
        if foreign_key.name in fields:
            return tuple(meta.get_field(other).attname for other in fields if other != foreign_key.name)
    return None


def _append_moved_authors(keep, moved_ids):
    """Authors that came from a duplicate follow the kept book's own, in their old order."""
    position = BookAuthor.objects.filter(book=keep).exclude(pk__in=moved_ids).aggregate(n=models.Max("position"))["n"]
    position = -1 if position is None else position
    for link in BookAuthor.objects.filter(pk__in=moved_ids).order_by("position", "pk"):
        position += 1
        BookAuthor.objects.filter(pk=link.pk).update(position=position)
    if moved_ids:
        Book.objects.filter(pk=keep.pk).rebuild_search_text()  # search text names every author


register_merge_rule(BookAuthor, after=_append_moved_authors)
