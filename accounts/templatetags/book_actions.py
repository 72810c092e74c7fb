"""Template helpers for the rating and shelf controls (pure functions: no queries)."""

from django import template

register = template.Library()


@register.filter
def star_choices(rating):
    """[(stars, lit)] from 1 up to 5, the order that keyboard focus and screen readers meet them."""
    rating = rating or 0
    return [(stars, stars <= rating) for stars in range(1, 6)]


@register.filter
def dismissed_book(message):
    """The book id a "Not interested" message may undo (its extra tags carry "dismissed-<id>"), else None."""
    for tag in (getattr(message, "extra_tags", "") or "").split():
        if tag.startswith("dismissed-") and tag[len("dismissed-") :].isdigit():
            return int(tag[len("dismissed-") :])
    return None
