from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from complaints.signals import event_recorded
        from notifications import webhooks

        # Inside the service's transaction: a webhook delivery is stored with the change.
        event_recorded.connect(webhooks.on_event, dispatch_uid="notifications.webhooks")
