from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from django.urls import register_converter

        from api import schema  # noqa: F401  (registers the OpenAPI extensions)
        from api.converters import Id

        register_converter(Id, "id")
