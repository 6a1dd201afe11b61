"""The outbox: one row per message, recipient and channel, delivered by Celery.

A row is written in the same transaction as the change it tells about
(``notifications.services.notify``) and delivered afterwards by
``notifications.delivery``: a broker outage or a crashed worker delays a message, it
never loses one. In-app rows are delivered by being stored; staff read them in the
console.

Webhooks are outbox rows too: ``WebhookSubscription`` says which complaint events an
integration wants and where, and each delivery to it is a ``Notification`` on the
``webhook`` channel (``notifications.webhooks``), retried and logged like any message.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from notifications.webhook_targets import validate_webhook_url


class Notification(models.Model):
    """One message to one recipient on one channel, and how its delivery went."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("Text message")
        IN_APP = "in_app", _("In-app message")
        WEBHOOK = "webhook", _("Webhook")

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
    # Webhook rows: the subscription it goes to (``address`` is its URL when stored, ``body``
    # the exact JSON that is signed and sent), and the HTTP status of the last attempt.
    webhook = models.ForeignKey(
        "WebhookSubscription",
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)

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
            models.CheckConstraint(
                condition=~Q(channel="webhook") | Q(webhook__isnull=False),
                name="notification_webhook_has_subscription",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient} ({self.get_channel_display()})"

    @property
    def recipient(self) -> str:
        """Who it is for, as administrators read it: the user, else the address."""
        return self.user.get_username() if self.user is not None else self.address


SECRET_PREFIX = "whsec_"  # noqa: S105 - marks Sutong webhook secrets, is not one


class WebhookSubscription(models.Model):
    """An integration's wish to hear about complaint events, at one URL, signed with a secret.

    The secret signs each delivery (HMAC-SHA256, see ``notifications.webhooks``), so it
    is kept as is; it is shown once when made or rotated, later only its first characters.
    A subscription of a channel client hears only about the complaints that client
    submitted; staff may narrow theirs to one department.
    """

    class EventType(models.TextChoices):
        CREATED = "complaint.created", _("complaint received")
        STATUS_CHANGED = "complaint.status_changed", _("status changed")
        REPLIED = "complaint.replied", _("reply sent")
        CLOSED = "complaint.closed", _("complaint closed")

    name = models.CharField(pgettext_lazy("webhook", "name"), max_length=100)
    url = models.CharField(
        _("URL"),
        max_length=300,
        help_text=_("A public https:// address; each event is POSTed to it as JSON."),
    )
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    events = models.JSONField(
        pgettext_lazy("webhook", "events"),
        default=list,
        help_text=_(
            "The events to send, any of: complaint.created, complaint.status_changed, "
            "complaint.replied, complaint.closed."
        ),
    )
    client = models.ForeignKey(
        "intake.ChannelClient",
        verbose_name=_("channel client"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhooks",
        help_text=_("Set: only complaints this client submitted are sent."),
    )
    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Set: only complaints of this department are sent."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "pk"]
        permissions = [
            ("manage_webhooks", _("Can manage webhook subscriptions for the whole organisation")),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_hint(self) -> str:
        """The first characters, so people can tell secrets apart without seeing one."""
        return f"{self.secret[:10]}…" if self.secret else ""

    def issue_secret(self) -> str:
        """Give the subscription a new secret (unsaved) and return it."""
        self.secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        return self.secret

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        for field, validate in (("url", validate_webhook_url), ("events", validate_events)):
            try:
                validate(getattr(self, field))
            except ValidationError as error:
                errors[field] = error.error_list
        if errors:
            raise ValidationError(errors)


def validate_events(events: Any) -> None:
    """A subscription's events: a list of one or more known event types."""
    if not isinstance(events, list) or not events:
        raise ValidationError(_("Choose at least one event."), code="required")
    known = WebhookSubscription.EventType.values
    if unknown := [str(event) for event in events if event not in known]:
        raise ValidationError(
            _("Unknown events: %(events)s. Choose from %(choices)s."),
            code="invalid_choice",
            params={"events": ", ".join(unknown), "choices": ", ".join(known)},
        )
