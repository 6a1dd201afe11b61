from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = _("Routing")

    def ready(self) -> None:
        from complaints.signals import complaint_changed

        complaint_changed.connect(queue_routing, dispatch_uid="routing.queue_routing")


def queue_routing(sender: Any, *, complaint_id: int, kind: str, **kwargs: Any) -> None:
    """A new complaint committed: route it in the background, never inside the request."""
    if kind != "complaint.received":
        return
    from routing.tasks import route_complaint

    try:
        route_complaint.delay(complaint_id)
    except Exception:  # a broker outage must not fail intake; the sweep routes it later
        import logging

        logging.getLogger(__name__).warning(
            "could not queue routing of complaint %s; the periodic sweep will", complaint_id
        )
