"""Catalog pages: home, browse, search, book, author and genre pages, and generated covers."""

import hashlib
import textwrap
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts.api import book_reviews, rated_count, reader_book_state
from recommender import api as recommender_api

from . import search as book_search
from .caching import cache_for_anonymous, one_of, page_number, text
from .filters import RATING_CHOICES, SORTS, BookFilter
from .models import Author, Book, BookRedirect, Genre

PAGE_SIZES = (12, 24, 48, 96)
DEFAULT_PAGE_SIZE = 24
SEARCH_PAGE_SIZE = 20
SUGGESTIONS = 8
HOME_PICKS = 12

# The query parameters each cached page reads (see catalog/caching.py); anything else is ignored.
BROWSE_PARAMS = {
    "page": page_number, "per_page": one_of(*PAGE_SIZES), "genre": text, "author": text, "series": text,
    "year_min": text, "year_max": text, "min_rating": one_of(*(value for value, _ in RATING_CHOICES[1:])),
    "language": text, "sort": one_of(*SORTS),
}
SEARCH_PARAMS = {"q": text, "page": page_number}


def reader_states(request, *book_lists):
    """The signed-in reader's rating and shelf for every book a page lists, in one call: cards then cost no query.

    Empty for an anonymous visitor (whose cached page must not carry anyone's controls).
    """
    if not request.user.is_authenticated:
        return {}
    return reader_book_state(request.user, [book for books in book_lists for book in books])


def page_size(request):
    try:
        size = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


@cache_for_anonymous()
def home(request):
    most_read = Book.objects.recommendable().with_list_data()[:12]
    top_rated = recommender_api.popular_books(limit=12)
    picks, rated, needed = [], 0, settings.ONBOARDING_MIN_RATINGS
    if request.user.is_authenticated:
        rated = rated_count(request.user)
        if rated >= needed:
            # "Picked for you" never repeats "Top rated" (the popular fallback would, card for card).
            top_ids = {pick.book.pk for pick in top_rated}
            picks = recommender_api.recommendations_for(request.user, limit=HOME_PICKS + len(top_ids))
            picks = [pick for pick in picks if pick.book.pk not in top_ids][:HOME_PICKS]
    most_read = list(most_read)
    states = reader_states(request, most_read, [pick.book for pick in top_rated + picks])
    return render(request, "catalog/home.html", {
        "most_read": most_read, "top_rated": top_rated, "picks": picks, "book_states": states,
        # Too few ratings for picks of their own: the home page sends the reader to onboarding instead.
        "start_onboarding": request.user.is_authenticated and rated < needed,
        "ratings_to_go": needed - rated, "rated": rated,
    })


def browse(request, genre=None):
    data = request.GET.copy()
    if genre is not None:
        data["genre"] = genre.slug
    filterset = BookFilter(data, queryset=Book.objects.all())
    if filterset.form.is_bound and not filterset.form.is_valid():
        for field, errors in filterset.form.errors.items():
            label = filterset.form.fields[field].label if field in filterset.form.fields else field
            messages.warning(request, f"{label}: {' '.join(errors)} This filter was ignored.")
    paginator = Paginator(filterset.qs.with_list_data(), page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "catalog/book_list.html", {
        "book_states": reader_states(request, page.object_list),
        "filter": filterset,
        "page": page,
        "genre": genre,
        "series": filterset.form.cleaned_data.get("series") if hasattr(filterset.form, "cleaned_data") else "",
        "query_string": query.urlencode(),
        "page_sizes": PAGE_SIZES,
    })


@cache_for_anonymous(BROWSE_PARAMS)
def book_list(request):
    return browse(request)


@cache_for_anonymous(BROWSE_PARAMS)
def genre_detail(request, slug):
    return browse(request, genre=get_object_or_404(Genre, slug=slug))


@cache_for_anonymous()
def book_detail(request, pk):
    book = Book.objects.with_list_data().prefetch_related("genres").filter(pk=pk).first()
    if book is None:
        # A book merged into another keeps its URL: links and bookmarks land on the book that absorbed it.
        merged_into = BookRedirect.objects.filter(old_id=pk).values_list("book_id", flat=True).first()
        if merged_into is None:
            raise Http404("No such book.")
        return redirect("catalog:book_detail", pk=merged_into, permanent=True)
    similar = recommender_api.similar_books(book)
    # One call for the book and its similar books' cards (an anonymous visitor's state is all "unrated").
    states = reader_book_state(request.user, [book] + [pick.book for pick in similar])
    reviews = book_reviews(book, request.user)
    return render(request, "catalog/book_detail.html", {
        "book": book, "state": states[book.pk], "similar": similar, "book_states": states, "reviews": reviews,
    })


@cache_for_anonymous({"page": page_number})
def author_detail(request, slug):
    author = get_object_or_404(Author, slug=slug)
    books = Book.objects.filter(pk__in=author.bookauthor_set.values("book_id")).order_by("-ratings_count", "id")
    page = Paginator(books.with_list_data(), DEFAULT_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    return render(request, "catalog/author_detail.html", {
        "author": author, "page": page, "book_states": reader_states(request, page.object_list),
    })


@require_GET
@cache_for_anonymous(SEARCH_PARAMS)
def search(request):
    raw = request.GET.get("q", "").replace("\x00", "")
    query = book_search.clean_query(raw)
    context = {"search_query": raw[:book_search.MAX_QUERY_CHARS], "query": query,
               "query_string": urlencode({"q": raw[:book_search.MAX_QUERY_CHARS]})}
    if query:
        ids = book_search.search_book_ids(query)
        page = Paginator(ids, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
        page.object_list = book_search.books_in_order(list(page.object_list))
        context.update(page=page, capped=len(ids) >= book_search.MAX_RESULTS)
        if not ids:
            context["alternatives"] = book_search.alternatives(query)
    if not query or not context.get("page") or not context["page"].paginator.count:
        context["popular"] = list(Book.objects.recommendable().with_list_data()[:12])
    results = context["page"].object_list if context.get("page") else []
    context["book_states"] = reader_states(request, results, context.get("popular", []))
    return render(request, "catalog/search.html", context)


@require_GET
@cache_for_anonymous({"q": text})
def suggest(request):
    ids = book_search.search_book_ids(request.GET.get("q", ""), limit=SUGGESTIONS)
    results = [
        {
            "id": book.pk,
            "title": book.title,
            "authors": book.author_list,
            "year": book.publication_year,
            "goodreads_book_id": book.goodreads_book_id,
            "cover_url": book.display_cover_url,
            "url": book.get_absolute_url(),
        }
        for book in book_search.books_in_order(ids)
    ]
    return JsonResponse({"results": results})


COVER_COLOURS = [("#7a2e1f", "#f3e6dc"), ("#1f4e5f", "#e3f0f3"), ("#3d5a1e", "#eef3e2"), ("#5b2a6e", "#f1e6f5"),
                 ("#7a5a12", "#fbf0d9"), ("#2c3e70", "#e6eaf6"), ("#6b1f3a", "#f7e4ea"), ("#1e5b4a", "#e2f3ee")]


@require_GET
@cache_control(public=True, max_age=86400)
def book_cover(request, pk):
    """A cover drawn from the title and main author, for books without a cover image."""
    book = get_object_or_404(Book.objects.with_list_data(), pk=pk)
    digest = int(hashlib.sha1(str(book.pk).encode()).hexdigest(), 16)
    background, ink = COVER_COLOURS[digest % len(COVER_COLOURS)]
    title_lines = textwrap.wrap(book.title, width=16, max_lines=5, placeholder="…") or [""]
    authors = book.author_list
    svg = render_to_string("catalog/cover.svg", {
        "title_lines": [(150 + 34 * i, line) for i, line in enumerate(title_lines)],
        "author": (authors[0] if authors else "")[:28],
        "background": background,
        "ink": ink,
    })
    return HttpResponse(svg, content_type="image/svg+xml")


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
