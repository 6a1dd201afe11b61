"""``/api/v1/``: every endpoint, the schema and the docs. Unknown addresses answer JSON 404."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api import complaints, errors, root
from api.intake import IntakeView

urlpatterns = [
    path("", root.Root.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("intake/", IntakeView.as_view(), name="intake"),
    path("complaints/", complaints.ComplaintList.as_view(), name="complaints"),
    path("complaints/<int:pk>/", complaints.ComplaintRead.as_view(), name="complaint"),
    path(
        "complaints/<int:pk>/personal-data/",
        complaints.RevealPersonalData.as_view(),
        name="personal-data",
    ),
    *(
        path(
            f"complaints/<int:pk>/{action.replace('_', '-')}/",
            complaints.transition_view(action),
            name=f"complaint-{action.replace('_', '-')}",
        )
        for action in complaints.ACTIONS
    ),
]

# Last: whatever matched nothing above.
urlpatterns.append(re_path(r"^.*$", errors.not_found))
