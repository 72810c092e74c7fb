"""Template helpers for the rating and shelf controls (pure functions: no queries)."""

from django import template

register = template.Library()


@register.filter
def star_choices(rating):
    """[(stars, lit)] from 5 down to 1: the star form lays them out right to left."""
    rating = rating or 0
    return [(stars, stars <= rating) for stars in range(5, 0, -1)]
