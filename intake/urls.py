from django.urls import path

from intake import views

app_name = "intake"

urlpatterns = [
    path("", views.home, name="home"),
    path("submit/", views.submit_view, name="submit"),
    path("submit/done/", views.submitted, name="submitted"),
    path("privacy/", views.privacy, name="privacy"),
    path("track/", views.track, name="track"),
    path("track/<str:code>/", views.tracked, name="tracked"),
    path("track/<str:code>/<str:secret>/", views.track_private, name="track_private"),
]
