"""Series rules on For you: first volumes instead of cold sequels, two volumes of a series per page, omnibus editions,
"Continue your series", and reasons that name a single volume rather than a boxed set."""

import io
import random
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Dismissal, Rater, Rating, Shelf, ShelfEntry
from accounts.ratings import refresh_rating_summaries, set_rating
from accounts.shelves import move_to_shelf
from catalog.models import Book, Genre
from recommender import api, serving
from recommender.series import ReaderBooks, paged, series_aware
from recommender.views import PICKS_PER_PAGE

from .conftest import FAST_TRAINING

FOR_YOU = reverse("recommender:for_you")
SERIES = {"Alpha Saga": 4, "Beta Cycle": 3, "Gamma Chronicles": 3, "Delta Songs": 3}


@pytest.fixture
def series_catalog(db):
    """Four fantasy series (with a Beta boxed set and a Gamma novella #0.5), standalone fantasy, and mysteries.

    Fantasy readers who pick a series up read it through, so a fantasy reader's ranking is full of sequels.
    """
    rng = random.Random(11)
    fantasy = Genre.objects.create(name="Fantasy", slug="fantasy")
    mystery = Genre.objects.create(name="Mystery", slug="mystery")
    volumes = {
        name: [Book.objects.create(title=f"{name} {n}", series=name, series_position=str(n)) for n in range(1, count + 1)]
        for name, count in SERIES.items()
    }
    boxed = Book.objects.create(title="Beta Cycle: The Complete Trilogy", series="Beta Cycle", series_position="1-3")
    novella = Book.objects.create(title="Gamma Chronicles: The Prequel", series="Gamma Chronicles", series_position="0.5")
    standalone = [Book.objects.create(title=f"Lone Wizard {n}") for n in range(8)]
    mysteries = [Book.objects.create(title=f"Murder Case {n}") for n in range(14)]
    for book in [*sum(volumes.values(), []), boxed, novella, *standalone]:
        book.genres.add(fantasy)
    for book in mysteries:
        book.genres.add(mystery)
    raters = Rater.objects.bulk_create([Rater(source="goodbooks", external_id=str(n)) for n in range(70)])
    rows = []
    for rater in raters[:45]:
        liked = set(rng.sample(standalone, 4))
        for name in rng.sample(list(SERIES), 3):
            liked.update(volumes[name])
        if rng.random() < 0.5:
            liked.update([boxed, novella])
        liked.update(rng.sample(mysteries, 1))
        rows += [Rating(rater=rater, book=book, value=rng.choice([4, 5, 5])) for book in liked]
    for rater in raters[45:]:
        rows += [Rating(rater=rater, book=book, value=rng.choice([4, 5])) for book in rng.sample(mysteries, 10)]
        rows += [Rating(rater=rater, book=book, value=2) for book in rng.sample(standalone, 2)]
    Rating.objects.bulk_create(rows)
    refresh_rating_summaries()
    call_command("retrain", *FAST_TRAINING, stdout=io.StringIO())
    return {"volumes": volumes, "boxed": boxed, "novella": novella, "standalone": standalone, "mysteries": mysteries}


def all_picks(client):
    """[(page number, book)] over every page of For you."""
    picks, number = [], 1
    while True:
        response = client.get(FOR_YOU, {"page": number})
        picks += [(number, pick.book) for pick, _ in response.context["picks"]]
        if not response.context["page_obj"].has_next():
            return picks
        number += 1


def rate_all(reader, books, value=5):
    for book in books:
        set_rating(reader, book, value)


def test_a_reader_gets_first_volumes_of_the_series_they_have_not_started_and_no_cold_sequels(
    reader_client, reader, series_catalog
):
    volumes = series_catalog["volumes"]
    rate_all(reader, volumes["Alpha Saga"] + series_catalog["standalone"][:1])
    # Without the rules the model ranks sequels of other series high for this reader: the rules have work to do.
    ranked = serving.personal_ranking(reader, 40).book_ids
    sequels = {book.pk for name in ("Beta Cycle", "Gamma Chronicles", "Delta Songs") for book in volumes[name][1:]}
    assert set(ranked[:15]) & sequels

    shown = [book for _, book in all_picks(reader_client)]
    assert not {book.pk for book in shown} & sequels
    for name in ("Beta Cycle", "Gamma Chronicles", "Delta Songs"):
        assert [book.pk for book in shown].count(volumes[name][0].pk) == 1, name
    # The novella numbered 0.5 is no sequel and may be shown; the boxed set starts at 1 and may be too.
    assert len(shown) == len({book.pk for book in shown})


def test_first_volume_takes_the_place_of_the_best_ranked_sequel(series_catalog):
    volumes, standalone = series_catalog["volumes"], series_catalog["standalone"]
    beta, delta = volumes["Beta Cycle"], volumes["Delta Songs"]
    Book.objects.filter(pk=delta[0].pk).update(hidden_from_recommendations=True)
    ranked = [beta[2].pk, standalone[0].pk, beta[1].pk, delta[2].pk, beta[0].pk, standalone[1].pk]
    ids, _ = series_aware(ranked, ReaderBooks())
    # Beta 3 becomes Beta 1, once; Delta's first volume is hidden, so Delta 2 is where it starts.
    assert ids == [beta[0].pk, standalone[0].pk, delta[1].pk, standalone[1].pk]
    # A reader who has Beta 1 on the shelf has started it: the sequels stay (Beta 1 itself leaves the list).
    ids, _ = series_aware(ranked, ReaderBooks(shelved={beta[0].pk}))
    assert ids[:3] == [beta[2].pk, standalone[0].pk, beta[1].pk]
    # A reader who dismissed Beta 1 gets no Beta at all.
    ids, _ = series_aware(ranked, ReaderBooks(dismissed={beta[0].pk}))
    assert not set(ids) & {book.pk for book in beta}


def test_omnibus_is_not_recommended_to_a_reader_who_rated_a_volume_it_binds(reader_client, reader, series_catalog):
    volumes, boxed = series_catalog["volumes"], series_catalog["boxed"]
    ranked = [boxed.pk, series_catalog["standalone"][0].pk]
    assert series_aware(ranked, ReaderBooks())[0] == ranked
    assert series_aware(ranked, ReaderBooks(rated={volumes["Beta Cycle"][1].pk: 4}))[0] == ranked[1:]
    # Through For you: having rated Beta 1, the reader never sees the boxed set.
    rate_all(reader, volumes["Alpha Saga"] + volumes["Beta Cycle"][:1])
    assert boxed.pk not in [book.pk for _, book in all_picks(reader_client)]


def test_a_page_holds_at_most_two_volumes_of_one_series(reader_client, reader, series_catalog):
    volumes = series_catalog["volumes"]
    # Started every series: all their later volumes are fair picks, and they rank high.
    rate_all(reader, [books[0] for books in volumes.values()] + series_catalog["standalone"][:1])
    pages = {}
    for number, book in all_picks(reader_client):
        if book.series:
            pages.setdefault((number, book.series), []).append(book.title)
    assert pages and all(len(titles) <= 2 for titles in pages.values()), pages


def test_paging_moves_a_third_volume_to_the_next_page(series_catalog):
    alpha, standalone = series_catalog["volumes"]["Alpha Saga"], series_catalog["standalone"]
    ids = [alpha[1].pk, alpha[2].pk, alpha[3].pk, standalone[0].pk, standalone[1].pk, standalone[2].pk]
    _, volumes = series_aware(ids, ReaderBooks(rated={alpha[0].pk: 5}))
    assert paged(ids, volumes, page_size=3) == [alpha[1].pk, alpha[2].pk, standalone[0].pk,
                                                alpha[3].pk, standalone[1].pk, standalone[2].pk]  # fmt: skip
    assert PICKS_PER_PAGE >= 3


def test_continue_your_series_offers_the_next_unread_volume_of_series_rated_4_or_more(
    reader_client, reader, series_catalog
):
    volumes = series_catalog["volumes"]
    alpha, beta, gamma, delta = (volumes[name] for name in SERIES)
    rate_all(reader, alpha[:2], 5)
    set_rating(reader, beta[0], 3)  # not liked enough to continue
    set_rating(reader, gamma[0], 4)
    Dismissal.objects.create(user=reader, book=gamma[1])  # refused: nothing to continue in Gamma
    set_rating(reader, delta[0], 4)
    ShelfEntry.objects.create(user=reader, book=series_catalog["standalone"][0])
    response = reader_client.get(FOR_YOU)
    row = response.context["continue_series"]
    assert [pick.book.pk for pick in row] == [alpha[2].pk, delta[1].pk]
    assert row[0].reason == "Book 3 of Alpha Saga"
    page = response.content.decode()
    assert "Continue your series" in page and page.index("Continue your series") < page.index("Picked for you")
    # The row's cards can be dismissed like any recommendation.
    assert page.count('class="dismiss-form"') == len(row) + len(response.context["picks"])


def test_continue_your_series_counts_volumes_read_unrated_and_leaves_planned_ones_to_the_shelf_row(
    reader_client, reader, series_catalog
):
    volumes = series_catalog["volumes"]
    alpha, gamma, delta = volumes["Alpha Saga"], volumes["Gamma Chronicles"], volumes["Delta Songs"]
    rate_all(reader, series_catalog["standalone"][:3], 4)
    set_rating(reader, alpha[0], 5)
    move_to_shelf(reader, alpha[1], Shelf.READ)  # read, never rated: Alpha 3 is next
    set_rating(reader, gamma[0], 4)
    move_to_shelf(reader, gamma[1], Shelf.TO_READ)  # the next volume is planned: shown on the shelf row only
    set_rating(reader, delta[0], 4)
    move_to_shelf(reader, delta[1], Shelf.CURRENTLY_READING)  # being read: nothing to continue yet
    response = reader_client.get(FOR_YOU)
    assert [pick.book.pk for pick in response.context["continue_series"]] == [alpha[2].pk]
    assert gamma[1].pk in [pick.book.pk for pick in response.context["want_to_read"]]
    page = response.content.decode()
    assert page.count(f'href="{gamma[1].get_absolute_url()}"') == 2  # one card: its cover and its title


def test_every_card_of_the_rows_above_the_picks_can_be_rated_and_ids_stay_unique(reader_client, reader, series_catalog):
    volumes, standalone = series_catalog["volumes"], series_catalog["standalone"]
    alpha = volumes["Alpha Saga"]
    rate_all(reader, [*alpha[:2], *standalone[:3]], 5)
    move_to_shelf(reader, standalone[5], Shelf.TO_READ)
    response = reader_client.get(FOR_YOU)
    assert [pick.book.pk for pick in response.context["continue_series"]] == [alpha[2].pk]
    assert [pick.book.pk for pick in response.context["want_to_read"]] == [standalone[5].pk]
    page = response.content.decode()
    for prefix, book in (("continue-", alpha[2]), ("shelf-", standalone[5])):
        assert f'id="{prefix}book-{book.pk}"' in page
        assert f'action="{reverse("accounts:rate", args=[book.pk])}"' in page
        assert f'value="{FOR_YOU}#{prefix}book-{book.pk}"' in page  # without JavaScript, back to that card
    ids = Counter(re.findall(r'\bid="([^"]+)"', page))
    assert [name for name, count in ids.items() if count > 1] == []


def test_want_to_read_row_leaves_out_a_rated_book_left_on_to_read(reader_client, reader, series_catalog):
    standalone = series_catalog["standalone"]
    rate_all(reader, standalone[:5], 4)
    # A Goodreads import can leave a rated book on to-read.
    ShelfEntry.objects.filter(user=reader, book=standalone[0]).update(shelf=Shelf.TO_READ)
    move_to_shelf(reader, standalone[6], Shelf.TO_READ)
    move_to_shelf(reader, standalone[7], Shelf.TO_READ)
    Dismissal.objects.create(user=reader, book=standalone[7])  # "not interested" since: it leaves the row too
    response = reader_client.get(FOR_YOU)
    assert [pick.book.pk for pick in response.context["want_to_read"]] == [standalone[6].pk]


def test_because_you_liked_names_a_single_volume_rather_than_a_boxed_set(reader, series_catalog):
    volumes, boxed = series_catalog["volumes"], series_catalog["boxed"]
    rate_all(reader, [boxed, volumes["Alpha Saga"][0]], 5)
    rate_all(reader, series_catalog["mysteries"][:3], 2)
    ranking = serving.personal_ranking(reader, 20)
    raw = ranking.liked_book_behind(ranking.book_ids)
    assert boxed.pk in raw.values()  # the model alone would explain some picks by the boxed set
    picks = api.describe_ranking(ranking, ranking.book_ids)
    assert picks and all(pick.because is None or pick.because.pk != boxed.pk for pick in picks)
    assert any(pick.because is not None and pick.because.pk == volumes["Alpha Saga"][0].pk for pick in picks)
