from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("my-books/", views.my_books, name="my_books"),
    path("my-books/stats/", views.reading_stats, name="reading_stats"),
    path("my-books/stats/goal/", views.reading_goal, name="reading_goal"),
    path("profile/", views.profile, name="profile"),
    path("profile/export.json", views.export_json, name="export_json"),
    path("profile/export.csv", views.export_csv, name="export_csv"),
    path("profile/delete/", views.delete_account, name="delete_account"),
    path("email/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("books/<int:pk>/rate/", views.rate, name="rate"),
    path("books/<int:pk>/shelf/", views.shelf, name="shelf"),
    path("books/<int:pk>/review/", views.write_review, name="write_review"),
    path("reviews/<int:pk>/edit/", views.edit_review, name="edit_review"),
    path("reviews/<int:pk>/delete/", views.delete_review, name="delete_review"),
    path("import/goodreads/", views.goodreads_import, name="goodreads_import"),
    path("import/goodreads/<int:pk>/", views.goodreads_import_result, name="goodreads_import_result"),
    path("recommendations/start/", views.onboarding, name="onboarding"),
]
