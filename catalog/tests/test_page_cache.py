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
