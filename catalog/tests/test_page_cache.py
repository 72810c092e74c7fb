"""Anonymous catalog pages come from the cache; readers and pages with messages never do."""

from catalog.models import Book


def test_anonymous_book_page_is_cached_for_a_minute(client, make_book):
    book = make_book("The Left Hand of Darkness", authors=("Ursula K. Le Guin",))
    assert "The Left Hand of Darkness" in client.get(book.get_absolute_url()).content.decode()
    Book.objects.filter(pk=book.pk).update(title="Renamed Meanwhile")
    assert "The Left Hand of Darkness" in client.get(book.get_absolute_url()).content.decode()


def test_signed_in_reader_always_gets_a_fresh_page(reader_client, make_book):
    book = make_book("The Left Hand of Darkness")
    reader_client.get(book.get_absolute_url())
    Book.objects.filter(pk=book.pk).update(title="Renamed Meanwhile")
    assert "Renamed Meanwhile" in reader_client.get(book.get_absolute_url()).content.decode()


def test_page_with_a_message_is_not_cached(client, make_book):
    make_book("Kindred")
    warned = client.get("/books/", {"year_min": "soon"})
    assert "This filter was ignored" in warned.content.decode()
    Book.objects.update(title="Renamed Meanwhile")
    assert "Renamed Meanwhile" in client.get("/books/", {"year_min": "soon"}).content.decode()


def page_entries():
    """The cached anonymous pages (the test settings use the local-memory cache), and their total size."""
    from django.core.cache import cache

    entries = {key: value for key, value in cache._cache.items() if ":anonymous-page:" in key}
    return len(entries), sum(len(value) for value in entries.values())


def test_junk_query_parameters_add_no_cache_entries(client, make_book):
    make_book("Kindred", authors=("Octavia E. Butler",))
    for n in range(1000):
        assert client.get("/books/", {f"utm_{n}": "x" * 50, "page": "1"}).status_code == 200
    assert page_entries()[0] == 1
    for n in range(200):
        client.get("/search/", {"q": "kindred", "junk": str(n)})
        client.get("/search/suggest/", {"q": "kindred", f"cb{n}": "1"})
    assert page_entries()[0] == 3
    # Normalized: the order of parameters, repeated spaces and leading zeros make the same page.
    client.get("/books/", {"sort": "title", "per_page": "12"})
    client.get("/books/?per_page=12&sort=title&x=1")
    client.get("/books/", {"per_page": "12", "sort": "title", "page": "001"})
    assert page_entries()[0] == 5  # + sort=title&per_page=12, + that with page=1


def test_invalid_parameter_values_are_not_stored(client, make_book):
    make_book("Kindred")
    for n in range(100):
        assert client.get("/books/", {"page": f"x{n}"}).status_code == 200
        assert client.get("/books/", {"sort": f"junk{n}"}).status_code == 200
        assert client.get("/books/", {"per_page": str(1000 + n)}).status_code == 200
    assert page_entries()[0] == 0


def test_cached_pages_still_follow_the_parameters_they_use(client, make_book):
    make_book("Kindred", authors=("Octavia E. Butler",))
    make_book("Dune", authors=("Frank Herbert",))
    assert "Dune" not in client.get("/books/", {"author": "Butler", "junk": "1"}).content.decode()
    assert "Kindred" not in client.get("/books/", {"author": "Herbert", "junk": "1"}).content.decode()
    assert "Kindred" in client.get("/books/", {"author": "Butler"}).content.decode()
    found = client.get("/search/", {"q": "dune", "utm_source": "x"}).content.decode()
    assert "Frank Herbert" in found and "Octavia" not in found
    # The page rendered for a junk URL carries none of the junk (in its links) to the next visitor.
    assert "utm_source" not in client.get("/search/", {"q": "dune"}).content.decode()


def test_the_local_memory_cache_holds_a_bounded_number_of_pages(client, make_book, settings):
    configured = settings.CACHES["default"]
    assert configured["BACKEND"].endswith("LocMemCache") and configured["OPTIONS"]["MAX_ENTRIES"] == 1000
    # The same backend with a bound small enough to reach quickly: every search is a page of its own.
    settings.CACHES = {"default": {**configured, "OPTIONS": {**configured["OPTIONS"], "MAX_ENTRIES": 30}}}
    make_book("Kindred", authors=("Octavia E. Butler",))
    for n in range(100):
        assert client.get("/search/", {"q": f"kindred {n}"}).status_code == 200
    count, _ = page_entries()
    assert 0 < count <= 30
    assert "Kindred" in client.get("/search/", {"q": "kindred 99"}).content.decode()  # the newest page survives
