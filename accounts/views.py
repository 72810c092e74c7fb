"""A reader's own pages: My books, profile, ratings and shelf actions, imports and exports."""

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
from django.db.models import Count, Prefetch
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Book, BookAuthor, Genre
from catalog.series import series_starts
from recommender.api import popular_books

from . import goodreads
from .api import reader_book_state
from .forms import DeleteAccountForm, GoodreadsImportForm, ProfileForm
from .models import Dismissal, GoodreadsImport, Rating, ShelfEntry
from .ratings import remove_all_ratings, remove_rating, set_rating

PAGE_SIZE = 20
RATING_SORTS = {
    "recent": ("-updated", "-id"),
    "stars": ("-value", "-updated", "-id"),
    "title": ("book__title", "book_id"),
}
GOODREADS_IMPORTS_PER_HOUR = 10
ONBOARDING_GENRES = 6
ONBOARDING_BOOKS_PER_GENRE = 4


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
            return JsonResponse({"error": "Log in to rate books and keep a want-to-read shelf."}, status=403)
        return redirect_to_login(safe_next(request, reverse("catalog:book_detail", args=[pk])))

    return wrapper


def bad_request(request, message):
    if wants_json(request):
        return JsonResponse({"error": message}, status=400)
    return render(request, "accounts/bad_request.html", {"message": message}, status=400)


def book_state_response(request, book, message):
    state = reader_book_state(request.user, [book])[book.pk]
    if wants_json(request):
        rated = Rating.objects.filter(rater__user=request.user).count()
        return JsonResponse({"book": book.pk, **state, "rated_count": rated, "message": message})
    messages.success(request, message)
    return HttpResponseRedirect(safe_next(request, book.get_absolute_url()))


@require_POST
@reader_action
def rate(request, pk):
    book = get_object_or_404(Book, pk=pk)
    if request.POST.get("remove"):
        with transaction.atomic():
            removed = remove_rating(request.user, book)
        return book_state_response(request, book, f"Removed your rating of {book.title}." if removed else "")
    value = request.POST.get("value", "").strip()
    if value not in {"1", "2", "3", "4", "5"}:
        return bad_request(request, "A rating is a whole number of stars from 1 to 5.")
    with transaction.atomic():
        set_rating(request.user, book, int(value))
        # A book the reader has rated leaves their want-to-read shelf.
        ShelfEntry.objects.filter(user=request.user, book=book).delete()
    stars = "star" if value == "1" else "stars"
    return book_state_response(request, book, f"You rated {book.title} {value} {stars}.")


@require_POST
@reader_action
def shelf(request, pk):
    book = get_object_or_404(Book, pk=pk)
    action = request.POST.get("action")
    if action not in {"add", "remove"}:
        return bad_request(request, "Choose to add the book to want-to-read or remove it.")
    with transaction.atomic():
        if action == "add":
            ShelfEntry.objects.get_or_create(user=request.user, book=book)
            message = f"Added {book.title} to want-to-read."
        else:
            ShelfEntry.objects.filter(user=request.user, book=book).delete()
            message = f"Removed {book.title} from want-to-read."
    return book_state_response(request, book, message)


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


@login_required
def my_books(request):
    showing_shelf = request.GET.get("list") == "want"
    showing_dismissed = request.GET.get("list") == "dismissed"
    sort = request.GET.get("sort") if request.GET.get("sort") in RATING_SORTS else "recent"
    stars = request.GET.get("stars") if request.GET.get("stars") in {"1", "2", "3", "4", "5"} else ""
    rated_total = Rating.objects.filter(rater__user=request.user).count()
    shelf_total = ShelfEntry.objects.filter(user=request.user).count()
    dismissed_total = Dismissal.objects.filter(user=request.user).count()
    if showing_dismissed:
        entries = (
            Dismissal.objects.filter(user=request.user)
            .select_related("book")
            .prefetch_related(_author_prefetch("book__"))
            .order_by("-created", "-id")
        )
        total = dismissed_total
    elif showing_shelf:
        entries = (
            ShelfEntry.objects.filter(user=request.user)
            .select_related("book")
            .prefetch_related(_author_prefetch("book__"))
            .order_by("-added", "-id")
        )
        total = shelf_total
    else:
        entries = (
            Rating.objects.filter(rater__user=request.user)
            .select_related("book")
            .prefetch_related(_author_prefetch("book__"))
            .order_by(*RATING_SORTS[sort])
        )
        total = rated_total
        if stars:
            entries = entries.filter(value=int(stars))
            total = None  # the paginator counts the filtered list
    paginator = Paginator(entries, PAGE_SIZE)
    if total is not None:
        paginator.count = total  # already counted above; saves a query
    page = paginator.get_page(request.GET.get("page"))
    books = [entry.book for entry in page.object_list]
    state = reader_book_state(request.user, books)
    rows = [{"entry": entry, "book": entry.book, "state": state[entry.book.pk]} for entry in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/my_books.html",
        {
            "showing_shelf": showing_shelf,
            "showing_dismissed": showing_dismissed,
            "dismissed_total": dismissed_total,
            "sort": sort,
            "sorts": [("recent", "Recently rated"), ("stars", "Stars"), ("title", "Title")],
            "stars": stars,
            "rated_total": rated_total,
            "shelf_total": shelf_total,
            "page": page,
            "rows": rows,
            "page_query": query.urlencode(),
        },
    )


# Profile, export and deletion --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
        messages.success(request, "Your display name is saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "rated_total": Rating.objects.filter(rater__user=request.user).count(),
            "shelf_total": ShelfEntry.objects.filter(user=request.user).count(),
            "dismissed_total": Dismissal.objects.filter(user=request.user).count(),
            "last_import": GoodreadsImport.objects.filter(user=request.user).first(),
        },
        status=400 if form.errors else 200,
    )


def _export_rows(user):
    """Every rating, want-to-read entry and dismissal of a reader, as flat dicts (three queries plus author prefetches)."""
    ratings = (
        Rating.objects.filter(rater__user=user)
        .select_related("book")
        .prefetch_related(_author_prefetch("book__"))
        .order_by("book__title", "book_id")
    )
    shelf_entries = (
        ShelfEntry.objects.filter(user=user)
        .select_related("book")
        .prefetch_related(_author_prefetch("book__"))
        .order_by("book__title", "book_id")
    )

    def book_fields(book):
        return {
            "book_id": book.pk,
            "title": book.title,
            "authors": book.author_names,
            "goodreads_book_id": book.goodreads_book_id,
            "isbn13": book.isbn13,
            "isbn10": book.isbn10,
        }

    rated = [
        {**book_fields(r.book), "stars": r.value, "rated": r.created.isoformat(), "updated": r.updated.isoformat()}
        for r in ratings
    ]
    shelved = [{**book_fields(e.book), "added": e.added.isoformat()} for e in shelf_entries]
    dismissals = (
        Dismissal.objects.filter(user=user)
        .select_related("book")
        .prefetch_related(_author_prefetch("book__"))
        .order_by("book__title", "book_id")
    )
    dismissed = [{**book_fields(d.book), "dismissed": d.created.isoformat()} for d in dismissals]
    return rated, shelved, dismissed


def _download_name(user, extension):
    return f"bookrec-{user.pk}-{timezone.now():%Y%m%d}.{extension}"


@login_required
@require_GET
def export_json(request):
    rated, shelved, dismissed = _export_rows(request.user)
    user = request.user
    data = {
        "account": {
            "email": user.email,
            "display_name": user.display_name,
            "joined": user.date_joined.isoformat(),
        },
        "exported": timezone.now().isoformat(),
        "ratings": rated,
        "want_to_read": shelved,
        "not_interested": dismissed,
    }
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(user, "json")}"'
    return response


@login_required
@require_GET
def export_csv(request):
    rated, shelved, dismissed = _export_rows(request.user)
    columns = [
        "list", "title", "authors", "goodreads_book_id", "isbn13", "isbn10", "stars", "rated", "updated", "added",
        "dismissed",
    ]  # fmt: skip
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(request.user, "csv")}"'
    writer = csv.DictWriter(response, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rated:
        writer.writerow({"list": "rated", **row})
    for row in shelved:
        writer.writerow({"list": "want-to-read", **row})
    for row in dismissed:
        writer.writerow({"list": "not-interested", **row})
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        with transaction.atomic():
            # The ratings go first, each book's summary moving by the same deltas as removing one
            # rating; deleting the user then deletes its Rater, shelf, dismissals and import history (CASCADE),
            # so the next retrain no longer sees this reader.
            remove_all_ratings(user)
            user.delete()
        logout(request)
        messages.success(request, "Your account, ratings and shelf have been deleted.")
        return redirect("catalog:home")
    return render(request, "accounts/delete_account.html", {"form": form}, status=400 if form.errors else 200)


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


@login_required
def goodreads_import_result(request, pk):
    result = get_object_or_404(GoodreadsImport, pk=pk, user=request.user)
    counts = result.report.get("counts", {})
    summary = [
        (label, counts.get(key, 0))
        for key, label in [
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
    ]
    return render(
        request,
        "accounts/goodreads_import_result.html",
        {"result": result, "summary": summary, "skipped": result.report.get("skipped", [])},
    )


# Onboarding --------------------------------------------------------------------------------------


@login_required
def onboarding(request):
    """"Rate a few books to start": popular books from the biggest genres, rated in place."""
    needed = settings.ONBOARDING_MIN_RATINGS
    rated = Rating.objects.filter(rater__user=request.user).count()
    genres = Genre.objects.annotate(n=Count("books")).filter(n__gt=0).order_by("-n", "name")[:ONBOARDING_GENRES]
    sections, seen = [], set()
    for genre in genres:
        # First volumes only: a reader can say whether they liked a series' first book, rarely its fifth.
        popular = [rec.book for rec in popular_books(limit=4 * ONBOARDING_BOOKS_PER_GENRE, genre=genre, exclude_ids=seen)]
        picks = [book for book in series_starts(popular, 2 * ONBOARDING_BOOKS_PER_GENRE) if book.pk not in seen]
        picks = picks[:ONBOARDING_BOOKS_PER_GENRE]
        seen.update(book.pk for book in picks)
        if picks:
            sections.append({"title": genre.name, "books": picks})
    if not sections:
        popular = [rec.book for rec in popular_books(limit=4 * ONBOARDING_GENRES * ONBOARDING_BOOKS_PER_GENRE)]
        picks = series_starts(popular, ONBOARDING_GENRES * ONBOARDING_BOOKS_PER_GENRE)
        if picks:
            sections.append({"title": "Popular with readers", "books": picks})
    all_books = [book for section in sections for book in section["books"]]
    state = reader_book_state(request.user, all_books)
    for section in sections:
        section["rows"] = [{"book": book, "state": state[book.pk]} for book in section["books"]]
    return render(
        request,
        "accounts/onboarding.html",
        {"sections": sections, "rated": rated, "needed": needed, "enough": rated >= needed},
    )
