import logging
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from notifications.signals import delivered

        delivered.connect(_reply_delivered, dispatch_uid="complaints.reply_delivered")


def _reply_delivered(sender: Any, notification: Any, **kwargs: Any) -> None:
    """A reply's e-mail or SMS left the outbox: the reply counts as delivered."""
    if notification.kind != "reply.sent":
        return
    from complaints import services

    try:
        services.reply_delivered(notification_id=notification.pk)
    except Exception:  # the message is out; recording it must not hold up the outbox
        logger.exception("could not record the delivery of notification %s", notification.pk)
