"""Site-wide middleware: the Content-Security-Policy header, NUL stripping, private caching for signed-in readers."""

from django.conf import settings
from django.utils.cache import patch_vary_headers


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header that every page is written to satisfy (no inline script or style)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        # The admin ships inline scripts and styles of its own; it is staff-only.
        if self.policy and not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class StripNulMiddleware:
    """Removes NUL characters from every query parameter and form field before any view sees them.

    PostgreSQL refuses NUL in text, so a single %00 in a filter or search parameter would otherwise turn
    into a 500 wherever the value reaches a query (the admin's list filters included). No reader types
    a NUL on purpose, so dropping it loses nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.GET = _without_nul(request.GET)
        if request.method == "POST" and request.content_type in {
            "application/x-www-form-urlencoded", "multipart/form-data",
        }:
            request.POST = _without_nul(request.POST)
        return self.get_response(request)


def _without_nul(params):
    if not any("\x00" in key or any("\x00" in value for value in values if isinstance(value, str))
               for key, values in params.lists()):
        return params
    cleaned = params.copy()  # a mutable QueryDict
    cleaned.clear()
    for key, values in params.lists():
        cleaned.setlist(key.replace("\x00", ""),
                        [value.replace("\x00", "") if isinstance(value, str) else value for value in values])
    cleaned._mutable = False
    return cleaned


class PrivateCacheMiddleware:
    """Responses to a signed-in reader are private: no shared cache or browser history keeps them.

    A response that sets its own Cache-Control keeps it. HTML may be revalidated (private, max-age=0
    would do too), but no-store everywhere is the simple rule: exports and profile pages hold
    personal data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-store"
            patch_vary_headers(response, ("Cookie",))
        return response
