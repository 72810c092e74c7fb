"""Template helpers for the rating and shelf controls (pure functions: no queries)."""

from django import template

register = template.Library()


@register.filter
def star_choices(rating):
    """[(stars, lit)] from 1 up to 5, the order that keyboard focus and screen readers meet them."""
    rating = rating or 0
    return [(stars, stars <= rating) for stars in range(1, 6)]


@register.filter
def state_of(states, book):
    """The reader's state for `book` out of the page's {book_id: state}, or None when the page has none."""
    return states.get(book.pk) if states else None


@register.filter
def star_string(stars):
    """"★★★☆☆" for 3: the look of a rating, for a label that screen readers skip."""
    stars = int(stars or 0)
    return "★" * stars + "☆" * (5 - stars)
