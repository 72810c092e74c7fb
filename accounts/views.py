"""A reader's own pages: My books, stats, profile, ratings, shelf and review actions, imports and exports."""

import calendar
import csv
import json
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, OuterRef, Prefetch, Subquery
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import search as book_search
from catalog.caching import forget_anonymous_page
from catalog.models import Book, BookAuthor, Genre
from catalog.series import series_starts
from catalog.svg_charts import bar_chart
from recommender.api import popular_books

from . import digests, goodreads, library_export
from . import stats as reading
from .api import rated_count, reader_book_state
from .forms import (
    DeleteAccountForm,
    GoodreadsImportForm,
    ImportRowsForm,
    MyBooksForm,
    ProfileForm,
    RateForm,
    ReadingGoalForm,
    ReviewForm,
    ShelfForm,
    first_error,
)
from .models import Dismissal, GoodreadsImport, Rating, ReadingGoal, Review, Shelf, ShelfEntry
from .ratings import remove_all_ratings, remove_rating, set_rating
from .shelves import ShelfError, move_to_shelf

PAGE_SIZE = 20
GOODREADS_IMPORTS_PER_HOUR = 10
ONBOARDING_GENRES = 6
ONBOARDING_BOOKS_PER_GENRE = 4
ONBOARDING_MAX_ROUNDS = 5
ONBOARDING_SEARCH_RESULTS = 10


# Rating and shelf actions -------------------------------------------------------------------------


def wants_json(request):
    return "application/json" in request.headers.get("Accept", "")


def safe_next(request, fallback):
    """The local path in ``next`` if it is safe to send the reader back to, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    # Only site paths: a bare word such as "0" would be taken for a URL name by redirect().
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def reader_action(view):
    """Anonymous visitors are sent to log in (and back to the page they were on); fetch gets a 403."""

    @wraps(view)
    def wrapper(request, pk, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, pk, *args, **kwargs)
        if wants_json(request):
            return JsonResponse({"error": "Log in to rate books and keep your shelves."}, status=403)
        return redirect_to_login(safe_next(request, reverse("catalog:book_detail", args=[pk])))

    return wrapper


def bad_request(request, message):
    if wants_json(request):
        return JsonResponse({"error": message}, status=400)
    return render(request, "accounts/bad_request.html", {"message": message}, status=400)


def book_state_response(request, book, message):
    state = reader_book_state(request.user, [book])[book.pk]
    if wants_json(request):
        rated = rated_count(request.user)
        return JsonResponse({"book": book.pk, **state, "rated_count": rated, "message": message})
    messages.success(request, message)
    return HttpResponseRedirect(safe_next(request, book.get_absolute_url()))


@require_POST
@reader_action
def rate(request, pk):
    book = get_object_or_404(Book, pk=pk)
    form = RateForm(request.POST)
    if not form.is_valid():
        return bad_request(request, first_error(form))
    if form.cleaned_data["remove"]:
        with transaction.atomic():
            removed = remove_rating(request.user, book)
        # The book stays on its shelf: the reader still read it.
        return book_state_response(request, book, f"Removed your rating of {book.title}." if removed else "")
    value = form.cleaned_data["value"]
    with transaction.atomic():
        set_rating(request.user, book, value)  # and puts it on Read
    stars = "star" if value == 1 else "stars"
    return book_state_response(request, book, f"You rated {book.title} {value} {stars}.")


@require_POST
@reader_action
def shelf(request, pk):
    book = get_object_or_404(Book, pk=pk)
    form = ShelfForm(request.POST)
    if not form.is_valid():
        return bad_request(request, first_error(form))
    target = form.target_shelf
    with transaction.atomic():
        before = ShelfEntry.objects.filter(user=request.user, book=book).first()
        if target is None and form.legacy_remove:
            # The first version's "✓ Want to read" toggle: off want-to-read only, never off Read.
            if before is not None and before.shelf != Shelf.TO_READ:
                return book_state_response(request, book, "")
        try:
            entry = move_to_shelf(request.user, book, target, **form.details())
        except ShelfError as error:
            transaction.set_rollback(True)
            return bad_request(request, str(error))
    if entry is None:
        message = f"Removed {book.title} from your shelves." if before is not None else ""
    elif before is None:
        message = f"Added {book.title} to {entry.get_shelf_display()}."
    elif before.shelf != entry.shelf:
        message = f"Moved {book.title} to {entry.get_shelf_display()}."
    elif form.details():
        message = f"Saved the dates of {book.title}."
    else:
        message = f"{book.title} is on {entry.get_shelf_display()}."
    return book_state_response(request, book, message)


# Reviews -----------------------------------------------------------------------------------------


def _review_page(request, book, form, review=None):
    return render(
        request,
        "accounts/review_form.html",
        {"book": book, "form": form, "review": review},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def write_review(request, pk):
    """The reader's review of a book: written here the first time; an existing one is edited instead."""
    book = get_object_or_404(Book, pk=pk)
    existing = Review.objects.filter(user=request.user, book=book).first()
    if existing is not None:
        if request.method == "GET":
            return redirect("accounts:edit_review", pk=existing.pk)
        # A second submission of the "write" form (another tab, a double click) edits the one review.
        return edit_review(request, existing.pk)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            review, created = Review.objects.get_or_create(
                user=request.user, book=book, defaults={"text": form.cleaned_data["text"]}
            )
            if not created:  # a concurrent submission won the race: this one is the newer text
                review.text = form.cleaned_data["text"]
                review.save(update_fields=["text", "updated"])
            # A reviewed book is one the reader has read: unshelved, it goes on Read without a date (as a rated
            # one does), so it is in their library and the export carries the review. After the review's insert,
            # which a concurrent submission waits on, so the two can't both add the entry.
            if not ShelfEntry.objects.filter(user=request.user, book=book).exists():
                move_to_shelf(request.user, book, Shelf.READ)
        forget_anonymous_page(book.get_absolute_url())  # visitors see it now, not in a minute
        messages.success(request, f"Your review of {book.title} is published.")
        return HttpResponseRedirect(book.get_absolute_url() + "#your-review")
    return _review_page(request, book, form)


@login_required
@require_http_methods(["GET", "POST"])
def edit_review(request, pk):
    # Another reader's review is a 404: its existence is not theirs to learn.
    review = get_object_or_404(Review.objects.select_related("book"), pk=pk, user=request.user)
    form = ReviewForm(request.POST or None, instance=review)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
        forget_anonymous_page(review.book.get_absolute_url())
        messages.success(request, f"Your review of {review.book.title} is saved.")
        return HttpResponseRedirect(review.book.get_absolute_url() + "#your-review")
    return _review_page(request, review.book, form, review)


@login_required
@require_POST
def delete_review(request, pk):
    review = get_object_or_404(Review.objects.select_related("book"), pk=pk, user=request.user)
    book = review.book
    with transaction.atomic():
        review.delete()
    forget_anonymous_page(book.get_absolute_url())
    messages.success(request, f"Your review of {book.title} is deleted.")
    return HttpResponseRedirect(book.get_absolute_url())


# Not interested ----------------------------------------------------------------------------------


@require_POST
@reader_action
def dismiss(request, pk):
    """"Not interested" on a recommendation card, and its undo: the book leaves (or may return to) the reader's lists."""
    book = get_object_or_404(Book, pk=pk)
    action = request.POST.get("action", "dismiss")
    if action not in {"dismiss", "undo"}:
        return bad_request(request, "Choose to mark the book as not interested or to undo that.")
    with transaction.atomic():
        if action == "dismiss":
            Dismissal.objects.get_or_create(user=request.user, book=book)
            message = f"{book.title} won't be recommended to you again."
        else:
            Dismissal.objects.filter(user=request.user, book=book).delete()
            message = f"{book.title} may be recommended to you again."
    dismissed = action == "dismiss"
    if wants_json(request):
        return JsonResponse({"book": book.pk, "dismissed": dismissed, "message": message})
    # The message of a dismissal carries an Undo button for its book (templates/base.html, |dismissed_book).
    messages.success(request, message, extra_tags=f"dismissed-{book.pk}" if dismissed else "")
    return HttpResponseRedirect(safe_next(request, reverse("recommender:for_you")))


# My books ----------------------------------------------------------------------------------------


def _author_prefetch(prefix):
    return Prefetch(
        f"{prefix}bookauthor_set", queryset=BookAuthor.objects.select_related("author").order_by("position")
    )


def shelf_counts(user):
    """[(shelf, label, books on it)] in Goodreads' order, in one query."""
    counts = dict(ShelfEntry.objects.filter(user=user).order_by().values_list("shelf").annotate(n=Count("id")))
    return [(value, label, counts.get(value, 0)) for value, label in Shelf.choices]


def _my_books_order(user, sort):
    """ORDER BY for one of MyBooksForm.SORTS, with the annotations it needs. Undated and unrated books go last."""
    if sort == "title":
        return {}, ["book__title", "book_id"]
    if sort == "author":
        first_author = BookAuthor.objects.filter(book=OuterRef("book_id")).order_by("position").values("author__name")
        return {"first_author": Subquery(first_author[:1])}, [F("first_author").asc(nulls_last=True), "book__title", "book_id"]
    if sort == "rating":
        stars = Rating.objects.filter(rater__user=user, book=OuterRef("book_id")).values("value")
        return {"my_stars": Subquery(stars[:1])}, [F("my_stars").desc(nulls_last=True), "-added", "-id"]
    if sort == "read":
        return {}, [F("date_read").desc(nulls_last=True), "-added", "-id"]
    return {}, ["-added", "-id"]


@login_required
def my_books(request):
    form = MyBooksForm(request.GET)
    showing_dismissed = request.GET.get("list") == "dismissed"
    for problem in form.problems():
        messages.warning(request, problem)
    shelf = form.value("shelf", Shelf.READ)
    sort = form.value("sort", "added")
    stars = form.value("stars", "")
    tabs = shelf_counts(request.user)
    counts = {value: count for value, _, count in tabs}
    dismissed_total = Dismissal.objects.filter(user=request.user).count()
    if showing_dismissed:
        stars = ""
        entries = (
            Dismissal.objects.filter(user=request.user)
            .select_related("book")
            .prefetch_related(_author_prefetch("book__"))
            .order_by("-created", "-id")
        )
    else:
        annotations, order = _my_books_order(request.user, sort)
        entries = (
            ShelfEntry.objects.filter(user=request.user, shelf=shelf)
            .annotate(**annotations)
            .select_related("book")
            .prefetch_related(_author_prefetch("book__"))
            .order_by(*order)
        )
        if stars:
            entries = entries.filter(book__ratings__rater__user=request.user, book__ratings__value=int(stars))
    paginator = Paginator(entries, PAGE_SIZE)
    if showing_dismissed:
        paginator.count = dismissed_total
    elif not stars:
        paginator.count = counts.get(shelf, 0)  # already counted above; saves a query
    page = paginator.get_page(form.value("page", 1))
    books = [entry.book for entry in page.object_list]
    state = reader_book_state(request.user, books)
    rows = [{"entry": entry, "book": entry.book, "state": state[entry.book.pk]} for entry in page.object_list]
    query = request.GET.copy()
    for name in ("page", "list", "shelf"):
        query.pop(name, None)
    if showing_dismissed:
        query["list"] = "dismissed"
    else:
        query["shelf"] = shelf
    return render(
        request,
        "accounts/my_books.html",
        {
            "shelf": shelf,
            "shelf_label": Shelf(shelf).label,
            "tabs": tabs,
            "showing_dismissed": showing_dismissed,
            "dismissed_total": dismissed_total,
            "sort": sort,
            "sorts": list(MyBooksForm.SORTS.items()),
            "stars": stars,
            "page": page,
            "rows": rows,
            "page_query": query.urlencode(),
        },
    )


# Reading stats and the yearly goal --------------------------------------------------------------


def _chart_year(request, stats_years, this_year):
    """The year whose months are charted: ?year= if it is one the reader can pick, else this year."""
    raw = request.GET.get("year", "").strip()
    if not raw:
        return this_year
    choices = {year for year, _, _ in stats_years} | {this_year}
    if raw.isascii() and raw.isdigit() and int(raw) in choices:
        return int(raw)
    messages.warning(request, f"There is no reading year “{raw[:20]}” to show; showing {this_year}.")
    return this_year


def _goal_progress(goal, read, today):
    if goal is None:
        return None
    days = 366 if calendar.isleap(today.year) else 365
    expected = goal.books * today.timetuple().tm_yday / days
    return {
        "goal": goal.books,
        "read": read,
        "percent": min(100, round(100 * read / goal.books)),
        "left": max(0, goal.books - read),
        "ahead": read - round(expected),
        "done": read >= goal.books,
    }


def _stats_page(request, goal_form=None):
    today = timezone.localdate()
    stats = reading.reading_stats(request.user)
    month_year = _chart_year(request, stats.years, today.year)
    if month_year != stats.month_year:
        stats = reading.reading_stats(request.user, month_year=month_year)
    goal = ReadingGoal.objects.filter(user=request.user, year=today.year).first()
    goal_form = goal_form or ReadingGoalForm(instance=goal)
    show_pages = stats.pages_known > 0
    charts = {
        "years": bar_chart([(year, books) for year, books, _ in stats.years], "Books read per year"),
        "year_pages": bar_chart([(year, pages) for year, _, pages in stats.years], "Pages read per year",
                                colour="#1f5a7a") if show_pages else "",
        "months": bar_chart([(name, books) for name, books, _ in stats.months], f"Books read per month in {month_year}"),
        "month_pages": bar_chart([(name, pages) for name, _, pages in stats.months],
                                 f"Pages read per month in {month_year}", colour="#1f5a7a") if show_pages else "",
        "genres": bar_chart([(name, percent) for name, _, percent in stats.genres], "Share of books read per genre",
                            colour="#1e6b3a", value_format="{}%"),
        "stars": bar_chart([(f"{value} star{'s' if value != 1 else ''}", count) for value, count in stats.stars],
                           "Your ratings by number of stars", colour="#b26a00"),
        "authors": bar_chart(stats.authors, "Authors you have read most", colour="#5b2a6e"),
    }
    return render(
        request,
        "accounts/stats.html",
        {
            "stats": stats,
            "charts": charts,
            "show_pages": show_pages,
            "month_year": month_year,
            "year_choices": [year for year, books, _ in stats.years if books] or [today.year],
            "this_year": today.year,
            "goal_form": goal_form,
            "goal": _goal_progress(goal, stats.read_in(today.year), today),
        },
        status=400 if goal_form.errors else 200,
    )


@login_required
@require_GET
def reading_stats(request):
    return _stats_page(request)


@login_required
@require_POST
def reading_goal(request):
    year = timezone.localdate().year
    goal = ReadingGoal.objects.filter(user=request.user, year=year).first()
    if request.POST.get("remove"):
        if goal is not None:
            with transaction.atomic():
                goal.delete()
            messages.success(request, f"Your {year} reading goal is removed.")
        return redirect("accounts:reading_stats")
    form = ReadingGoalForm(request.POST, instance=goal or ReadingGoal(user=request.user, year=year))
    if not form.is_valid():
        return _stats_page(request, goal_form=form)
    with transaction.atomic():
        ReadingGoal.objects.update_or_create(
            user=request.user, year=year, defaults={"books": form.cleaned_data["books"]}
        )
    books = form.cleaned_data["books"]
    messages.success(request, f"Your goal: {books} book{'s' if books != 1 else ''} in {year}.")
    return redirect("accounts:reading_stats")


# Profile, export and deletion --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
        messages.success(request, "Your profile is saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "rated_total": rated_count(request.user),
            "shelf_counts": [(label, count) for _, label, count in shelf_counts(request.user)],
            "dismissed_total": Dismissal.objects.filter(user=request.user).count(),
            "last_import": GoodreadsImport.objects.filter(user=request.user).first(),
        },
        status=400 if form.errors else 200,
    )


def _book_fields(book):
    """How the JSON export names a book, wherever it lists one (authors prefetched)."""
    return {
        "book_id": book.pk,
        "title": book.title,
        "authors": book.author_names,
        "goodreads_book_id": book.goodreads_book_id,
        "isbn13": book.isbn13,
        "isbn10": book.isbn10,
    }


def _rating_rows(user):
    """Every rating of a reader, with when it was made and changed (the library rows carry only the stars)."""
    ratings = (
        Rating.objects.filter(rater__user=user)
        .select_related("book")
        .prefetch_related(_author_prefetch("book__"))
        .order_by("book__title", "book_id")
    )
    return [
        {
            **_book_fields(r.book),
            "stars": r.value,
            "rated": r.created.isoformat(),
            "updated": r.updated.isoformat(),
        }
        for r in ratings
    ]


def _export_reviews(user):
    """A reader's reviews for the JSON export, hidden ones included (they are still the reader's)."""
    reviews = Review.objects.filter(user=user).select_related("book").order_by("book__title", "book_id")
    return [
        {
            "book_id": review.book_id,
            "title": review.book.title,
            "goodreads_book_id": review.book.goodreads_book_id,
            "text": review.text,
            "created": review.created.isoformat(),
            "updated": review.updated.isoformat(),
            "hidden_by_staff": review.hidden,
        }
        for review in reviews
    ]


def _export_dismissals(user):
    """The books a reader marked "Not interested", for the JSON export (Goodreads' CSV format has no place for them)."""
    dismissals = (
        Dismissal.objects.filter(user=user)
        .select_related("book")
        .prefetch_related(_author_prefetch("book__"))
        .order_by("book__title", "book_id")
    )
    return [
        {
            **_book_fields(d.book),
            "dismissed": d.created.isoformat(),
        }
        for d in dismissals
    ]


def _download_name(user, extension):
    return f"bookrec-{user.pk}-{timezone.now():%Y%m%d}.{extension}"


@login_required
@require_GET
def export_json(request):
    user = request.user
    library = []
    for row in library_export.library_rows(user):
        # The CSV's data, typed: ISBNs without Goodreads' spreadsheet quoting, dates as ISO dates.
        row = {**row, "ISBN": library_export.plain_isbn(row["ISBN"]), "ISBN13": library_export.plain_isbn(row["ISBN13"])}
        for column in ("Date Read", "Date Added"):
            row[column] = row[column].replace("/", "-") or None
        library.append(row)
    data = {
        "account": {
            "email": user.email,
            "display_name": user.display_name,
            "joined": user.date_joined.isoformat(),
            "recommendation_emails": user.digest_frequency or "off",
        },
        "exported": timezone.now().isoformat(),
        "library": library,
        "ratings": _rating_rows(user),
        "reviews": _export_reviews(user),
        "reading_goals": [
            {"year": year, "books": books}
            for year, books in ReadingGoal.objects.filter(user=user).order_by("year").values_list("year", "books")
        ],
        "not_interested": _export_dismissals(user),
    }
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(user, "json")}"'
    return response


@login_required
@require_GET
def export_csv(request):
    """Goodreads' library export format: its columns in its order, ="…" ISBNs and yyyy/mm/dd dates."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(request.user, "csv")}"'
    writer = csv.DictWriter(response, fieldnames=library_export.COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(library_export.library_rows(request.user))
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        with transaction.atomic():
            # The ratings go first, each book's summary moving by the same deltas as removing one
            # rating; deleting the user then deletes its Rater, shelf, reviews, goals, dismissals and import history
            # (CASCADE),
            # so the next retrain no longer sees this reader.
            remove_all_ratings(user)
            user.delete()
        logout(request)
        messages.success(request, "Your account, ratings, shelves and reviews have been deleted.")
        return redirect("catalog:home")
    return render(request, "accounts/delete_account.html", {"form": form}, status=400 if form.errors else 200)


# Recommendation emails ---------------------------------------------------------------------------


@csrf_exempt  # the signed token is the proof; mail clients' RFC 8058 one-click POST carries no CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """Stop recommendation emails from the link in one, signed in or not: GET asks, POST unsubscribes."""
    reader = digests.reader_for_token(token)
    if reader is None:
        return render(request, "accounts/unsubscribe.html", {"invalid": True}, status=400)
    done = False
    if request.method == "POST":
        with transaction.atomic():
            reader.digest_frequency = ""
            reader.save(update_fields=["digest_frequency"])
        done = True
    return render(
        request,
        "accounts/unsubscribe.html",
        {"reader": reader, "done": done, "site_name": settings.SITE_NAME},
    )


# Goodreads import --------------------------------------------------------------------------------


def _import_allowed(user):
    # Keyed on the signed-in reader, not the address, so a shared proxy address changes nothing.
    key = f"goodreads-import:{user.pk}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        return True
    # None: the cache is down (django-redis ignores the error). Rate limits fail open (README).
    return count is None or count <= GOODREADS_IMPORTS_PER_HOUR


@login_required
@require_http_methods(["GET", "POST"])
def goodreads_import(request):
    form = GoodreadsImportForm()
    status = 200
    if request.method == "POST":
        form = GoodreadsImportForm(request.POST, request.FILES)
        if not _import_allowed(request.user):
            form.add_error(None, "You have imported several times in the last hour. Please wait a while and try again.")
            status = 429
        elif form.is_valid():
            upload = form.cleaned_data["export"]
            # The size is known from the upload's headers; don't read an oversized file at all.
            if upload.size > goodreads.MAX_BYTES:
                form.add_error("export", "That file is over 5 MB. A Goodreads library export is much smaller; is it the right file?")
            else:
                try:
                    result = goodreads.run_import(request.user, upload.read(goodreads.MAX_BYTES + 1), upload.name)
                except goodreads.ImportError_ as error:
                    form.add_error("export", str(error))
                else:
                    return redirect("accounts:goodreads_import_result", pk=result.pk)
        if status == 200:
            status = 400
    return render(
        request,
        "accounts/goodreads_import.html",
        {"form": form, "imports": GoodreadsImport.objects.filter(user=request.user)[:5]},
        status=status,
    )


IMPORT_ROWS_PER_PAGE = 200
# The counts of imports made before the report listed every row.
FIRST_REPORT_LABELS = [
    ("imported", "New ratings"),
    ("updated", "Ratings updated from Goodreads"),
    ("shelved", "Added to want-to-read"),
    ("unchanged", "Already up to date"),
    ("kept", "Kept your BookRec rating"),
    ("not_in_catalog", "Not in our catalog"),
    ("ambiguous", "Ambiguous match"),
    ("duplicate", "Duplicate rows"),
    ("bad_rating", "Unreadable rating"),
    ("nothing", "Not rated, not to-read"),
]


@login_required
def goodreads_import_result(request, pk):
    result = get_object_or_404(GoodreadsImport, pk=pk, user=request.user)
    report = result.report
    counts = report.get("counts", {})
    if report.get("version", 1) < 2:
        return render(
            request,
            "accounts/goodreads_import_result.html",
            {
                "result": result,
                "summary": [(label, counts.get(key, 0)) for key, label in FIRST_REPORT_LABELS],
                "skipped": report.get("skipped", []),
            },
        )
    outcome_form = ImportRowsForm(request.GET)
    shown = outcome_form.value("outcome", "")
    rows = [row for row in report.get("rows", []) if not shown or row["outcome"] == shown]
    page = Paginator(rows, IMPORT_ROWS_PER_PAGE).get_page(outcome_form.value("page", 1))
    for row in page.object_list:
        row["outcome_label"] = goodreads.OUTCOMES.get(row["outcome"], row["outcome"])
        row["shelf_label"] = goodreads.SHELF_NAMES.get(row["shelf"], "")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/goodreads_import_result.html",
        {
            "result": result,
            "summary": [(key, label, counts.get(key, 0)) for key, label in goodreads.OUTCOMES.items()],
            "unrated": sum(1 for row in report.get("rows", []) if row["shelf"] and not row["rating"]),
            "problems": sorted(report.get("problems", {}).items()),
            "shown": shown,
            "shown_label": goodreads.OUTCOMES.get(shown, ""),
            "page": page,
            "page_query": query.urlencode(),
            "listed": True,
        },
    )


# Onboarding --------------------------------------------------------------------------------------


def _onboarding_rounds(raw):
    """How many batches of books onboarding shows: ?more=N, clamped to 1..ONBOARDING_MAX_ROUNDS."""
    try:
        return min(max(int(raw), 1), ONBOARDING_MAX_ROUNDS)
    except (TypeError, ValueError):
        return 1


@login_required
def onboarding(request):
    """"Rate a few books to start": a search, then popular books from the biggest genres, rated in place.

    "Show more" (?more=N) adds a batch of each genre's next most popular books; the link lands on the new
    batch (#more-N), and each rating's redirect lands on the rated book (#book-<pk>), so a reader without
    JavaScript never has to scroll back to where they were.
    """
    needed = settings.ONBOARDING_MIN_RATINGS
    rated = rated_count(request.user)
    rounds = _onboarding_rounds(request.GET.get("more"))
    search_text = request.GET.get("q", "")[: book_search.MAX_QUERY_CHARS]
    query = book_search.clean_query(search_text)
    results = book_search.books_in_order(book_search.search_book_ids(query, limit=ONBOARDING_SEARCH_RESULTS)) if query else []
    # A book is listed once per page: search results first, then each genre's books not shown yet.
    seen = {book.pk for book in results}
    per_round = ONBOARDING_BOOKS_PER_GENRE
    # One query per genre whatever the number of rounds: each genre's top books, cut into rounds.
    columns = []
    genres = Genre.objects.annotate(n=Count("books")).filter(n__gt=0).order_by("-n", "name")[:ONBOARDING_GENRES]
    for genre in genres:
        # First volumes only: a reader can say whether they liked a series' first book, rarely its fifth.
        popular = [rec.book for rec in popular_books(limit=4 * per_round * rounds, genre=genre, exclude_ids=seen)]
        picks = [book for book in series_starts(popular, 2 * per_round * rounds) if book.pk not in seen]
        picks = picks[: per_round * rounds]
        seen.update(book.pk for book in picks)
        columns.append((genre.name, picks))
    if not any(picks for _, picks in columns):
        popular = [rec.book for rec in popular_books(limit=4 * ONBOARDING_GENRES * per_round * rounds, exclude_ids=seen)]
        picks = series_starts(popular, ONBOARDING_GENRES * per_round * rounds)
        columns = [("Popular with readers", picks)]
        per_round = ONBOARDING_GENRES * per_round
    batches = []
    for number in range(1, rounds + 1):
        start = (number - 1) * per_round
        sections = [
            {"title": title, "books": picks[start : start + per_round]}
            for title, picks in columns
            if picks[start : start + per_round]
        ]
        if sections:
            batches.append({"number": number, "sections": sections})
    all_books = results + [book for batch in batches for section in batch["sections"] for book in section["books"]]
    state = reader_book_state(request.user, all_books)
    for batch in batches:
        for section in batch["sections"]:
            section["rows"] = [{"book": book, "state": state[book.pk]} for book in section["books"]]
    # "Show more" only while the last batch was full: a short one means the genres have run out.
    last_full = bool(batches) and len(batches) == rounds and all(
        len(section["books"]) == per_round for section in batches[-1]["sections"]
    )
    more_url = ""
    if last_full and rounds < ONBOARDING_MAX_ROUNDS:
        more_query = {"more": rounds + 1, **({"q": search_text} if query else {})}
        more_url = f"?{urlencode(more_query)}#more-{rounds + 1}"
    return render(
        request,
        "accounts/onboarding.html",
        {
            "batches": batches,
            "sections": [section for batch in batches for section in batch["sections"]],
            "search_text": search_text,
            "query": query,
            "results": [{"book": book, "state": state[book.pk]} for book in results],
            "more_url": more_url,
            "rated": rated,
            "rated_shown": min(rated, needed),
            "needed": needed,
            "enough": rated >= needed,
        },
    )
