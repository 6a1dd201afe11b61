"""The GeoReport v2 resources, each with a format extension (``.xml`` or ``.json``).

Included under ``/open311/v2/``; everything else below it is the spec's 404.
"""

from django.urls import re_path

from intake.open311 import views

app_name = "open311"

# The format is whatever follows the last dot; an unknown one is answered with a 404.
FORMAT = r"\.(?P<fmt>[A-Za-z0-9]+)$"

urlpatterns = [
    re_path(r"^discovery" + FORMAT, views.discovery, name="discovery"),
    re_path(r"^services" + FORMAT, views.services, name="services"),
    re_path(
        r"^services/(?P<service_code>[^/]+?)" + FORMAT,
        views.service_definition,
        name="service_definition",
    ),
    re_path(r"^requests" + FORMAT, views.requests, name="requests"),
    re_path(
        r"^requests/(?P<service_request_id>[^/]+?)" + FORMAT,
        views.service_request,
        name="service_request",
    ),
    re_path(r"^tokens/(?P<token>[^/]+?)" + FORMAT, views.token, name="token"),
    re_path(r"^", views.not_found),
]
