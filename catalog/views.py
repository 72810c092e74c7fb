"""Catalog pages: home, browse, search, book, author and genre pages."""

from django.shortcuts import get_object_or_404, render

from .models import Author, Book, Genre


def home(request):
    popular = Book.objects.with_list_data()[:12]
    return render(request, "catalog/home.html", {"popular": popular})


def book_list(request):
    return render(request, "catalog/book_list.html", {"books": Book.objects.with_list_data()[:24]})


def book_detail(request, pk):
    book = get_object_or_404(Book.objects.with_list_data(), pk=pk)
    return render(request, "catalog/book_detail.html", {"book": book})


def author_detail(request, slug):
    author = get_object_or_404(Author, slug=slug)
    return render(request, "catalog/author_detail.html", {"author": author})


def genre_detail(request, slug):
    genre = get_object_or_404(Genre, slug=slug)
    return render(request, "catalog/genre_detail.html", {"genre": genre})


def search(request):
    raise NotImplementedError


def suggest(request):
    raise NotImplementedError


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


def server_error(request):
    return render(request, "500.html", status=500)
