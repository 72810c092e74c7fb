"""Recommendation pages."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from accounts.api import reader_book_state

from . import api, serving

PICKS_PER_PAGE = 24
# Deeper than this a ranking says little; the last page links back to browsing.
MOST_PICKS = 240


def for_you(request):
    if not request.user.is_authenticated:
        # Say what this page is and how to get it, rather than bouncing a visitor to a bare login form.
        return render(request, "recommender/for_you_anonymous.html", {"needed": settings.ONBOARDING_MIN_RATINGS})
    ratings = serving.ReaderRatings.of(request.user)
    if len(ratings) < settings.ONBOARDING_MIN_RATINGS:
        return redirect("accounts:onboarding")
    ranking = serving.personal_ranking(request.user, MOST_PICKS, ratings=ratings)
    if ranking is not None:
        page = Paginator(ranking.book_ids, PICKS_PER_PAGE).get_page(request.GET.get("page"))
        picks = api.describe_ranking(ranking, list(page.object_list))
    else:
        page = Paginator(api.popular_for_reader(ratings, limit=4 * PICKS_PER_PAGE), PICKS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        picks = list(page.object_list)
    return render(
        request,
        "recommender/for_you.html",
        {
            "picks": [(pick, card_label(pick)) for pick in picks],
            "book_states": reader_book_state(request.user, [pick.book for pick in picks]),
            "page_obj": page,
            "personal": ranking is not None,
            "rated_count": len(ratings),
        },
    )


def card_label(pick):
    """The line under a pick's card: predicted stars for this reader, then why it was picked."""
    if pick.predicted_stars is None:
        return pick.reason
    return f"★ {pick.predicted_stars:.1f} for you · {pick.reason}"

