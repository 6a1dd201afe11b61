from django.urls import path

from intake import rights, views

app_name = "intake"

urlpatterns = [
    path("", views.home, name="home"),
    path("submit/", views.submit_view, name="submit"),
    path("submit/done/", views.submitted, name="submitted"),
    path("privacy/", views.privacy, name="privacy"),
    path("track/", views.track, name="track"),
    path("track/<str:code>/", views.tracked, name="tracked"),
    path("track/<str:code>/survey/", views.tracked_survey, name="tracked_survey"),
    path("track/<str:code>/withdraw/", views.tracked_withdraw, name="tracked_withdraw"),
    # Before track_private, whose <secret> would take "data" for a secret.
    path("track/<str:code>/data/", rights.data, name="data"),
    path("track/<str:code>/data/copy.<str:file_format>", rights.download, name="data_download"),
    path("track/<str:code>/data/erase/", rights.erase, name="data_erase"),
    path("track/<str:code>/<str:secret>/", views.track_private, name="track_private"),
    path("survey/<str:token>/", views.survey, name="survey"),
]
