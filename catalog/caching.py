"""Short-lived caching of the catalog pages that every anonymous visitor sees alike."""

import hashlib
from functools import wraps

from django.core.cache import cache

ANONYMOUS_PAGE_SECONDS = 60


def cache_for_anonymous(view):
    """Serve an anonymous visitor's GET from the cache for a minute.

    Signed-in readers see their own ratings, shelves and picks on these pages, so they always get a
    fresh page. A page carrying a flash message or setting a cookie is never stored.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET" or request.user.is_authenticated or "messages" in request.COOKIES:
            return view(request, *args, **kwargs)
        key = "anonymous-page:" + hashlib.sha256(request.get_full_path().encode()).hexdigest()
        response = cache.get(key)
        if response is not None:
            return response
        response = view(request, *args, **kwargs)
        storage = getattr(request, "_messages", None)
        if response.status_code == 200 and not response.cookies and not getattr(storage, "added_new", False):
            cache.set(key, response, ANONYMOUS_PAGE_SECONDS)
        return response

    return wrapped
