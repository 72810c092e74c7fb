"""Recommendation pages."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from accounts.api import reader_book_state

from . import api, serving

PICKS_PER_PAGE = 24
# The rows above the picks hold one line of cards each (a row of six on a wide screen): every card
# is a template include, and a reader with many series would otherwise double the page's render time.
ROW_CARDS = 6
# Deeper than this a ranking says little; the last page links back to browsing.
MOST_PICKS = 240


def for_you(request):
    if not request.user.is_authenticated:
        # Say what this page is and how to get it, rather than bouncing a visitor to a bare login form.
        return render(request, "recommender/for_you_anonymous.html", {"needed": settings.ONBOARDING_MIN_RATINGS})
    ratings = serving.ReaderRatings.of(request.user)
    if len(ratings) < settings.ONBOARDING_MIN_RATINGS:
        return redirect("accounts:onboarding")
    reader = api.reader_books(request.user, ratings)
    ranking, ids, popular, volumes = api.for_you_picks(request.user, ratings, reader, MOST_PICKS, PICKS_PER_PAGE)
    page = Paginator(ids, PICKS_PER_PAGE).get_page(request.GET.get("page"))
    page_ids = list(page.object_list)
    picks = api.describe_ranking(ranking, page_ids) if ranking is not None else api.describe_popular(popular, page_ids)
    first_page = page.number == 1
    # The rows above the picks, on the first page only.
    continue_series = api.continue_your_series(reader, limit=ROW_CARDS, known=volumes) if first_page else []
    want_to_read = api.want_to_read(request.user, limit=ROW_CARDS) if first_page and reader.shelved else []
    shown = [pick.book for pick in [*picks, *continue_series, *want_to_read]]
    return render(
        request,
        "recommender/for_you.html",
        {
            "picks": [(pick, card_label(pick)) for pick in picks],
            "book_states": reader_book_state(request.user, shown),  # every card's rate control, in one call
            "page_obj": page,
            "personal": ranking is not None,
            "rated_count": len(ratings),
            "continue_series": continue_series,
            "want_to_read": want_to_read,
        },
    )


def card_label(pick):
    """The line under a pick's card: predicted stars for this reader, then why it was picked."""
    if pick.predicted_stars is None:
        return pick.reason
    return f"★ {pick.predicted_stars:.1f} for you · {pick.reason}"

