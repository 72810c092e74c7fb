"""/my-books/stats/: books and pages per year and month, genres, stars and top authors as SVG with tables, and the yearly goal."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ImportedBook, ReadingGoal, ShelfEntry
from catalog.models import Genre

from .conftest import make_book

STATS = reverse("accounts:reading_stats")
GOAL = reverse("accounts:reading_goal")


def read_on(user, book, stars, day):
    """Rate a book (which puts it on Read) and give it a finish date, as the shelf's dates form would."""
    from accounts.ratings import set_rating

    set_rating(user, book, stars)
    ShelfEntry.objects.filter(user=user, book=book).update(date_read=day)


def table(html, caption):
    """The rows of the stats table with this caption, as lists of cell texts."""
    import re

    start = html.index(f'<caption class="visually-hidden">{caption}</caption>')
    body = html[start:html.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]


@pytest.fixture
def library(reader, other_reader, db):
    fantasy = Genre.objects.create(name="Fantasy", slug="fantasy")
    crime = Genre.objects.create(name="Crime & <Mystery>", slug="crime")
    this_year = timezone.localdate().year
    hobbit = make_book("The Hobbit", "J.R.R. Tolkien", genre=fantasy, pages=310)
    rings = make_book("The Fellowship", "J.R.R. Tolkien", genre=fantasy, pages=420)
    rings.genres.add(crime)
    poirot = make_book("Poirot", "Agatha <Christie>", genre=crime)  # page count unknown
    read_on(reader, hobbit, 5, datetime.date(this_year - 2, 3, 14))
    read_on(reader, rings, 4, datetime.date(this_year, 1, 20))
    read_on(reader, poirot, 4, datetime.date(this_year, 1, 5))
    # Another reader's books count for nobody here.
    other = make_book("Elsewhere", "Someone Else", genre=fantasy, pages=999)
    read_on(other_reader, other, 1, datetime.date(this_year, 2, 1))
    return {"this_year": this_year, "hobbit": hobbit}


def test_stats_page_tables_and_charts(reader_client, library):
    this_year = library["this_year"]
    response = reader_client.get(STATS)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    html = response.content.decode()
    assert table(html, "Books and pages read per year") == [
        [str(this_year - 2), "1", "310"],
        [str(this_year - 1), "0", "0"],
        [str(this_year), "2", "420"],
    ]
    months = table(html, f"Books and pages read per month in {this_year}")
    assert months[0] == ["Jan", "2", "420"] and all(row[1:] == ["0", "0"] for row in months[1:])
    assert len(months) == 12
    assert table(html, "Books read per genre") == [
        ["Crime &amp; &lt;Mystery&gt;", "2", "67%"],
        ["Fantasy", "2", "67%"],
    ]
    assert table(html, "Your ratings by number of stars") == [
        ["5 stars", "1"], ["4 stars", "2"], ["3 stars", "0"], ["2 stars", "0"], ["1 star", "0"],
    ]
    assert table(html, "Authors you have read most") == [["J.R.R. Tolkien", "2"], ["Agatha &lt;Christie&gt;", "1"]]
    # One SVG per chart (books and pages for years and months), each labelled for screen readers.
    assert html.count("<svg") == 7
    assert 'aria-label="Books read per year"' in html
    assert "<Christie>" not in html and "<Mystery>" not in html  # names are escaped in the SVG too
    assert "Pages count the 2 books whose length we know" in html
    # No script is needed: the page links no chart library.
    assert "chart.js" not in html.lower()


def test_month_chart_of_another_year(reader_client, library):
    year = library["this_year"] - 2
    html = reader_client.get(STATS, {"year": year}).content.decode()
    months = table(html, f"Books and pages read per month in {year}")
    assert months[2] == ["Mar", "1", "310"]


@pytest.mark.parametrize("year", ["1066", "abc", "２０２４", "9" * 30])
def test_bad_year_gets_a_message_and_this_year(reader_client, library, year):
    response = reader_client.get(STATS, {"year": year})
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no reading year" in html
    assert f"Books and pages read per month in {library['this_year']}" in html


def test_a_rated_book_without_a_finish_date_counts_in_no_year_month_or_goal(reader_client, reader, library, rate):
    this_year = library["this_year"]
    ReadingGoal.objects.create(user=reader, year=this_year, books=4)
    undated = make_book("Undated", "J.R.R. Tolkien", genre=Genre.objects.get(slug="fantasy"))
    rate(reader, undated, 2)  # on Read, no finish date: read at some time, not today
    html = reader_client.get(STATS).content.decode()
    assert table(html, "Books and pages read per year")[-1] == [str(this_year), "2", "420"]
    assert table(html, f"Books and pages read per month in {this_year}")[0] == ["Jan", "2", "420"]
    assert "<strong>2 of 4</strong> books read (50%)" in html
    assert "1 book read without a date — " in html
    assert f'<a href="{reverse("accounts:my_books")}?shelf=read">add dates on My books</a>' in html
    # Genre share, stars and authors still count every book read.
    assert ["Fantasy", "3", "75%"] in table(html, "Books read per genre")
    assert ["2 stars", "1"] in table(html, "Your ratings by number of stars")
    assert table(html, "Authors you have read most")[0] == ["J.R.R. Tolkien", "3"]


def test_only_undated_reads_give_no_years(reader_client, reader, book, rate):
    rate(reader, book, 3)
    html = reader_client.get(STATS).content.decode()
    assert "1 book read. " in html
    assert table(html, "Books read per year") == []  # no pages column: none known
    assert "No finish dates yet." in html
    assert "1 book read without a date" in html
    assert "pages are not counted" in html


def test_empty_stats(reader_client):
    html = reader_client.get(STATS).content.decode()
    assert "No books read yet" in html
    assert "<svg" not in html


def test_stats_need_login(client):
    response = client.get(STATS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_stats_queries_do_not_grow_with_the_library(reader_client, reader, library, django_assert_max_num_queries):
    reader_client.get(STATS)
    with django_assert_max_num_queries(15) as captured:
        reader_client.get(STATS)
    queries = len(captured)
    for n in range(30):
        read_on(reader, make_book(f"Extra {n}", f"Author {n}", pages=100), 3, datetime.date(library["this_year"], 5, 1))
    with django_assert_max_num_queries(queries):
        reader_client.get(STATS)


def test_set_change_and_remove_goal(reader_client, reader, library):
    this_year = library["this_year"]
    response = reader_client.post(GOAL, {"books": "4"})
    assert response.status_code == 302 and response["Location"] == STATS
    assert ReadingGoal.objects.get(user=reader, year=this_year).books == 4
    html = reader_client.get(STATS).content.decode()
    assert "<strong>2 of 4</strong> books read (50%)" in html
    assert '<progress max="4" value="2"' in html
    reader_client.post(GOAL, {"books": "2"})
    html = reader_client.get(STATS).content.decode()
    assert "<strong>2 of 2</strong> books read (100%)" in html and "Goal reached" in html
    assert ReadingGoal.objects.filter(user=reader).count() == 1
    reader_client.post(GOAL, {"remove": "1"})
    assert not ReadingGoal.objects.filter(user=reader).exists()


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Enter how many books you mean to read this year."),
        ("0", "Choose a goal from 1 to 1,000 books."),
        ("-3", "Choose a goal from 1 to 1,000 books."),
        ("1001", "Choose a goal from 1 to 1,000 books."),
        ("2.5", "Enter a whole number of books, such as 24."),
        ("lots", "Enter a whole number of books, such as 24."),
    ],
)
def test_bad_goal_is_refused_with_a_message(reader_client, reader, library, value, message):
    ReadingGoal.objects.create(user=reader, year=library["this_year"], books=10)
    response = reader_client.post(GOAL, {"books": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert f'value="{value}"' in html  # what the reader typed stays in the box
    assert ReadingGoal.objects.get(user=reader).books == 10


def test_goal_is_per_reader(client, reader, other_reader, library):
    ReadingGoal.objects.create(user=reader, year=library["this_year"], books=10)
    client.force_login(other_reader)
    html = client.get(STATS).content.decode()
    assert "of 10</strong>" not in html
    assert "Set goal" in html


def test_goals_are_in_the_json_export(reader_client, reader):
    ReadingGoal.objects.create(user=reader, year=2024, books=30)
    ReadingGoal.objects.create(user=reader, year=2025, books=12)
    data = reader_client.get(reverse("accounts:export_json")).json()
    assert data["reading_goals"] == [{"year": 2024, "books": 30}, {"year": 2025, "books": 12}]
    assert data["account"]["recommendation_emails"] == "off"


def test_the_read_shelf_is_what_counts(reader_client, reader, db):
    this_year = timezone.localdate().year
    unrated = make_book("Read Unrated", "Ann Author")
    ShelfEntry.objects.create(user=reader, book=unrated, shelf="read", date_read=datetime.date(this_year, 2, 3))
    # Pages from the reader's own edition when the catalog doesn't know them (the Goodreads import keeps them).
    ImportedBook.objects.create(user=reader, book=unrated, pages=250)
    ShelfEntry.objects.create(user=reader, book=make_book("Wanted", "Ann Author"), shelf="to-read")
    ShelfEntry.objects.create(user=reader, book=make_book("Reading", "Ann Author"), shelf="currently-reading")
    html = reader_client.get(STATS).content.decode()
    assert table(html, "Books and pages read per year")[-1] == [str(this_year), "1", "250"]
