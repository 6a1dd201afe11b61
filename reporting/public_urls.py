"""The public statistics page, mounted at /statistics/ by config.urls (outside /reports/)."""

from django.urls import path

from reporting.public_views import public_statistics

app_name = "statistics"

urlpatterns = [
    path("", public_statistics, name="public"),
]
