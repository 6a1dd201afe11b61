"""helpdesk at the site's root, as its install guide shows; nothing else."""

from django.urls import include, path

urlpatterns = [
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
