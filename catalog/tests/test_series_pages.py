"""A series in reading order: the list on a book's page and the series browse list, numbered by position."""

import re

from django.urls import reverse


def test_book_page_lists_the_series_in_numeric_order_with_numbers(client, make_book):
    # Created (and popular) out of order, with a number that sorts wrongly as text and a novella.
    third = make_book("The Return of the King", series="The Lord of the Rings", series_position="3", ratings_count=900)
    first = make_book("The Fellowship of the Ring", series="The Lord of the Rings", series_position="1", ratings_count=10)
    make_book("The Two Towers", series="The Lord of the Rings", series_position="2", ratings_count=500)
    make_book("Tales of the Tenth", series="The Lord of the Rings", series_position="10")
    make_book("A Prelude", series="The Lord of the Rings", series_position="0.5")
    make_book("Another series' book", series="Earthsea", series_position="1")
    page = client.get(reverse("catalog:book_detail", args=[third.pk])).content.decode()
    listed = re.findall(r'<span class="series-number">#([\d.]+)</span>\s*(?:<strong[^>]*>|<a [^>]*>)([^<]+)<', page)
    assert listed == [
        ("0.5", "A Prelude"),
        ("1", "The Fellowship of the Ring"),
        ("2", "The Two Towers"),
        ("3", "The Return of the King"),
        ("10", "Tales of the Tenth"),
    ]
    assert '<strong aria-current="page">The Return of the King</strong>' in page
    assert f'href="{first.get_absolute_url()}"' in page
    # The series link opens the browse list in the same order.
    assert "?series=The%20Lord%20of%20the%20Rings&amp;sort=series" in page


def test_series_browse_list_is_in_reading_order_and_shows_positions(client, make_book):
    for position, count in [("3", 900), ("1", 10), ("2", 500), ("10", 800)]:
        make_book(f"Volume {position}", series="Saga", series_position=position, ratings_count=count)
    make_book("Elsewhere", series="Other", series_position="1", ratings_count=1000)
    response = client.get(reverse("catalog:book_list"), {"series": "Saga", "sort": "series"})
    assert [book.title for book in response.context["page"].object_list] == [
        "Volume 1", "Volume 2", "Volume 3", "Volume 10",
    ]  # fmt: skip
    assert '<p class="series-position">Book 10</p>' in response.content.decode()
    # Without a series filter, "series order" falls back to the most rated first.
    titles = [book.title for book in client.get(reverse("catalog:book_list"), {"sort": "series"}).context["page"].object_list]
    assert titles[:2] == ["Elsewhere", "Volume 3"]


def test_a_book_outside_any_series_has_no_series_list(client, make_book):
    book = make_book("Standalone")
    assert "in order</h2>" not in client.get(reverse("catalog:book_detail", args=[book.pk])).content.decode()


def test_positions_and_omnibus_editions():
    from catalog.series import Volume, position_range

    assert position_range("2") == (2, 2) and position_range("0.5") == (0.5, 0.5)
    assert position_range("1-3") == (1, 3) and position_range(" 4 - 6 ") == (4, 6)
    assert position_range("") is None and position_range("3-1") is None and position_range("II") is None
    boxed = Volume(1, "The Wheel of Time", "1", "The Wheel of Time: Boxed Set #1")
    omnibus = Volume(2, "Mistborn", "1-3", "Mistborn Trilogy")
    single = Volume(3, "Mistborn", "2", "The Well of Ascension")
    later = Volume(4, "Mistborn", "4", "The Alloy of Law")
    assert boxed.is_omnibus and omnibus.is_omnibus and not single.is_omnibus
    assert omnibus.contains(single) and not omnibus.contains(later) and not single.contains(omnibus)
    assert Volume(5, "Mistborn", "", "Mistborn: The Complete Collection").contains(later)
    assert not Volume(6, "Dune", "1", "Dune").is_omnibus
