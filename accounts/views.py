"""A reader's own pages: My books, profile, ratings and shelf actions, imports and exports."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def my_books(request):
    return render(request, "accounts/my_books.html")


@login_required
def profile(request):
    return render(request, "accounts/profile.html")
