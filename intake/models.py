"""What intake keeps besides the complaint: channel clients, idempotency, inbound mail."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint

TOKEN_PREFIX = "stc_"  # noqa: S105 - a prefix that marks Sutong tokens, not a secret


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.strip().encode()).hexdigest()


class ChannelClient(models.Model):
    """An integration (WeChat, app, hotline system, CRM, Open311 client) and its token.

    Only the token's SHA-256 is stored; the token itself is shown once, when made.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Complaint.Channel, default=Complaint.Channel.API
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so an administrator can tell tokens apart without the secret.
    token_hint = models.CharField(_("token starts with"), max_length=12, editable=False)
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel client")
        verbose_name_plural = _("channel clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Django REST framework treats the authenticated "user" as this object.
    is_authenticated = True

    def issue_token(self) -> str:
        """Give the client a new token (unsaved); the raw token is returned, never stored."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash, self.token_hint = hash_token(raw), raw[:12]
        return raw

    @classmethod
    def create_with_token(
        cls, *, name: str, channel: str = Complaint.Channel.API
    ) -> tuple[ChannelClient, str]:
        client = cls(name=name, channel=channel)
        raw = client.issue_token()
        client.save()
        return client, raw

    @classmethod
    def authenticate(cls, raw: str) -> ChannelClient | None:
        if not raw:
            return None
        return cls.objects.filter(token_hash=hash_token(raw), is_active=True).first()

    def revoke(self) -> None:
        self.is_active = False
        self.revoked_at = timezone.now()
        self.save(update_fields=["is_active", "revoked_at"])


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one client: the request it named and the answer given."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("in flight")
        DONE = "done", _("done")

    client = models.ForeignKey(ChannelClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    complaint = models.ForeignKey(Complaint, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_unique_client_key")
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"


class InboundEmail(models.Model):
    """Every message the e-mail channel has seen, once (by Message-ID), and what became of it."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("new complaint")
        SUPPLEMENT = "supplement", _("added to a complaint")
        IGNORED = "ignored", _("ignored (automatic mail)")
        DEAD_LETTER = "dead_letter", _("could not be processed")

    message_id = models.CharField(_("Message-ID"), max_length=998, unique=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    sender = models.CharField(_("sender"), max_length=320, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbound_emails",
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"


class DeadLetter(models.Model):
    """A message a channel could not turn into a complaint, kept whole for a retry."""

    channel = models.CharField(_("channel"), max_length=20, choices=Complaint.Channel)
    raw = models.BinaryField(_("message"))
    # The message's own id (e-mail Message-ID), to find its record and its duplicates.
    message_id = models.CharField(_("Message-ID"), max_length=998, blank=True, db_index=True)
    error = models.TextField(_("error"))
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    last_attempt_at = models.DateTimeField(_("last attempt"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    complaint = models.ForeignKey(
        Complaint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.summary or f"#{self.pk}"

    def as_bytes(self) -> bytes:
        value: Any = self.raw
        return bytes(value)
