from django.urls import path

from . import views

app_name = "recommender"

urlpatterns = [
    path("recommendations/", views.for_you, name="for_you"),
]
