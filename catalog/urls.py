from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("books/", views.book_list, name="book_list"),
    path("books/<int:pk>/", views.book_detail, name="book_detail"),
    path("books/<int:pk>/cover.svg", views.book_cover, name="book_cover"),
    path("authors/<slug:slug>/", views.author_detail, name="author_detail"),
    path("genres/<slug:slug>/", views.genre_detail, name="genre_detail"),
    path("search/", views.search, name="search"),
    path("search/suggest/", views.suggest, name="suggest"),
]
