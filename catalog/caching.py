"""Short-lived caching of the catalog pages that every anonymous visitor sees alike."""

import hashlib
from functools import wraps
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import QueryDict

ANONYMOUS_PAGE_SECONDS = 60
MAX_PAGE_NUMBER = 10_000
MAX_PARAMETER_CHARS = 200


def page_number(value):
    """A page number as the paginator reads it, normalized ("007" -> "7"); None when it isn't one."""
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_PAGE_NUMBER:
        return str(int(value))
    return None


def text(value):
    """Free text (a search, an author filter): trimmed, runs of spaces collapsed, capped; NUL is invalid."""
    if "\x00" in value:
        return None
    return " ".join(value.split())[:MAX_PARAMETER_CHARS]


def one_of(*allowed):
    allowed = {str(choice) for choice in allowed}
    return lambda value: value if value in allowed else None


def cache_for_anonymous(params=None):
    """Serve an anonymous visitor's GET from the cache for a minute.

    ``params`` maps each query parameter the page reads to a function that normalizes its value (None means
    the value is invalid). Every other parameter is dropped before the view runs, so a URL with junk in it
    renders, and is stored as, the same page as the clean URL: the number of entries grows with the
    parameters' meaningful values, not with what a client appends. A page for an invalid value is served
    but not stored.

    Signed-in readers see their own ratings, shelves and picks on these pages, so they always get a
    fresh page. A page carrying a flash message or setting a cookie is never stored.
    """
    params = params or {}

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method != "GET" or request.user.is_authenticated or "messages" in request.COOKIES:
                return view(request, *args, **kwargs)
            used, storable = canonical_query(request.GET, params)
            query_string = urlencode(used)
            if query_string != request.META.get("QUERY_STRING", ""):
                request.GET = QueryDict(query_string)
                request.META["QUERY_STRING"] = query_string
            key = page_key(request.path, query_string)
            response = cache.get(key) if storable else None
            if response is not None:
                return response
            response = view(request, *args, **kwargs)
            storage = getattr(request, "_messages", None)
            if (storable and response.status_code == 200 and not response.cookies
                    and not getattr(storage, "added_new", False)):
                cache.set(key, response, ANONYMOUS_PAGE_SECONDS)
            return response

        return wrapped

    return decorator


def page_key(path, query_string=""):
    return "anonymous-page:" + hashlib.sha256(f"{path}?{query_string}".encode()).hexdigest()


def forget_anonymous_page(path):
    """Drop the cached anonymous copy of a page without parameters (a book page whose reviews changed)."""
    cache.delete(page_key(path))


def canonical_query(query, params):
    """The (name, value) pairs a page uses, sorted and normalized, and whether they are all valid."""
    used, valid = [], True
    for name in sorted(params):
        value = query.get(name, "")  # the last value, as the views read it
        if not value.strip():
            continue
        normalized = params[name](value)
        if normalized is None:
            valid = False
            normalized = value[:MAX_PARAMETER_CHARS]
        if normalized:
            used.append((name, normalized))
    return used, valid
