"""The outbox: one row per message, recipient and channel, delivered by Celery.

A row is written in the same transaction as the change it tells about
(``notifications.services.notify``) and delivered afterwards by
``notifications.delivery``: a broker outage or a crashed worker delays a message, it
never loses one. In-app rows are delivered by being stored; staff read them in the
console.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Notification(models.Model):
    """One message to one recipient on one channel, and how its delivery went."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("Text message")
        IN_APP = "in_app", _("In-app message")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENDING = "sending", _("being sent")
        SENT = "sent", pgettext_lazy("delivery status", "sent")
        FAILED = "failed", _("failed")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel)
    # Staff get the message as a user (and in-app); petitioners by address only.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    address = models.CharField(_("address"), max_length=320, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    kind = models.CharField(_("kind"), max_length=100)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    # E-mail only: extra headers (In-Reply-To and References thread a reply to the
    # petitioner's own message) and files to attach (complaints.Attachment ids).
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    attachment_ids = models.JSONField(_("attachments"), default=list, blank=True)
    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # "<caller's key>:<recipient>:<channel>": the same message to the same recipient on
    # the same channel is stored once, however often the caller runs (retries, overlapping
    # sweeps).
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, unique=True)

    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    # Delivery attempts started; the last one allowed is NOTIFY_MAX_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # While "sending": the worker that claimed the row owns it until then; after that the
    # row is claimed again (its worker died mid-send).
    lease_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The delivery sweep: due pending rows, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notification_due",
            ),
            # Rows whose worker died mid-send.
            models.Index(
                fields=["lease_until"],
                condition=Q(status="sending"),
                name="notification_lease",
            ),
            # A user's in-app list and unread count (the nav badge, on every console page).
            models.Index(
                fields=["user", "read_at"],
                condition=Q(channel="in_app"),
                name="notification_inbox",
            ),
            # The administrators' list of failed deliveries.
            models.Index(
                fields=["created_at"],
                condition=Q(status="failed"),
                name="notification_failed",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(channel="in_app") | Q(user__isnull=False),
                name="notification_in_app_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient} ({self.get_channel_display()})"

    @property
    def recipient(self) -> str:
        """Who it is for, as administrators read it: the user, else the address."""
        return self.user.get_username() if self.user is not None else self.address
