"""The browse page's filters and sort orders (django-filter)."""

import django_filters
from django import forms
from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Case, Value, When

from .languages import language_name
from .models import Book, Genre
from .series import series_volumes

SORTS = {
    "popular": (["-ratings_count", "id"], "Most rated"),
    "rating": (["-bayesian_rating", "id"], "Highest rated"),
    "newest": (["-publication_year", "id"], "Newest"),
    "title": (["title", "id"], "Title A–Z"),
    # Reading order within one series (numeric position, so 10 after 9); other lists fall back to most rated.
    "series": (["-ratings_count", "id"], "Series order"),
}
RATING_CHOICES = [("", "Any rating"), ("3", "3 stars and up"), ("3.5", "3.5 stars and up"),
                  ("4", "4 stars and up"), ("4.5", "4.5 stars and up")]

def language_choices():
    """The languages books are in, cached: a browse page shouldn't scan the catalog for them each time."""
    codes = cache.get("catalog:languages")
    if codes is None:
        codes = sorted(code for code in Book.objects.order_by().values_list("language", flat=True).distinct() if code)
        cache.set("catalog:languages", codes, 600)
    return [(code, language_name(code)) for code in codes]


class BookFilter(django_filters.FilterSet):
    genre = django_filters.ModelChoiceFilter(
        field_name="genres", queryset=Genre.objects.all(), to_field_name="slug", empty_label="All genres", label="Genre"
    )
    author = django_filters.CharFilter(method="filter_author", label="Author",
                                       widget=forms.TextInput(attrs={"placeholder": "Name contains…", "maxlength": 100}))
    series = django_filters.CharFilter(field_name="series", lookup_expr="exact", widget=forms.HiddenInput)
    year_min = django_filters.NumberFilter(field_name="publication_year", lookup_expr="gte", label="Published from",
                                           validators=[MinValueValidator(-3000), MaxValueValidator(3000)])
    year_max = django_filters.NumberFilter(field_name="publication_year", lookup_expr="lte", label="Published until",
                                           validators=[MinValueValidator(-3000), MaxValueValidator(3000)])
    min_rating = django_filters.ChoiceFilter(field_name="average_rating", lookup_expr="gte", choices=RATING_CHOICES[1:],
                                             empty_label=RATING_CHOICES[0][1], label="Average rating")
    language = django_filters.ChoiceFilter(choices=language_choices, empty_label="Any language")
    sort = django_filters.ChoiceFilter(method="sort_books", choices=[(key, label) for key, (_, label) in SORTS.items()],
                                       empty_label=None, label="Sort by")

    class Meta:
        model = Book
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        # Without a sort, the model's default order applies: most rated first.
        super().__init__(data, *args, **kwargs)
        for name in ("year_min", "year_max"):
            self.filters[name].field.widget.attrs.update({"inputmode": "numeric", "step": 1})

    def filter_author(self, queryset, name, value):
        value = value.strip()[:100]
        if not value:
            return queryset
        return queryset.filter(pk__in=Book.authors.through.objects.filter(author__name__icontains=value).values("book_id"))

    def sort_books(self, queryset, name, value):
        series = (self.form.cleaned_data.get("series") or "").strip() if hasattr(self.form, "cleaned_data") else ""
        if value == "series" and series:
            # Positions are text ("2", "0.5", "1-3"): ordered in Python; a series has a few dozen books at most.
            order = [volume.pk for volume in series_volumes([series])[series]]
            ranks = Case(*[When(pk=pk, then=Value(rank)) for rank, pk in enumerate(order)], default=Value(len(order)))
            return queryset.order_by(ranks, "id")
        return queryset.order_by(*SORTS.get(value, SORTS["popular"])[0])
