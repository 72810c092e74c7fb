"""The story of issue 11: a new reader who rates every volume of one fantasy series in the demo data gets other
series' first volumes, and no sequel of a series they have not started."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.ratings import set_rating
from catalog.models import Book
from catalog.series import position_range

FOR_YOU = reverse("recommender:for_you")


@pytest.fixture
def demo_site(db):
    call_command("load_demo", "--readers", "120", "--allow-demo-logins", stdout=io.StringIO())
    call_command("retrain", "--factors", "16", "--epochs", "8", "--seed", "1", "--force", stdout=io.StringIO())


def test_a_reader_of_one_whole_series_gets_first_volumes_and_no_cold_sequels(demo_site, reader_client, reader):
    potter = list(Book.objects.filter(series="Harry Potter"))
    assert len(potter) == 7
    for book in potter:
        set_rating(reader, book, 5)

    response = reader_client.get(FOR_YOU)
    assert response.context["personal"]
    picks = [pick.book for pick, _ in response.context["picks"]]
    series_picks = [book for book in picks if book.series and book.series != "Harry Potter"]
    later = [book.title for book in series_picks if (position_range(book.series_position) or (1, 1))[0] > 1]
    assert later == [], later
    first_volumes = [book for book in series_picks if book.series_position == "1"]
    assert len({book.series for book in first_volumes}) >= 5, [book.title for book in picks]
    # Read every volume: nothing to continue.
    assert response.context["continue_series"] == []
