from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("my-books/", views.my_books, name="my_books"),
    path("profile/", views.profile, name="profile"),
]
