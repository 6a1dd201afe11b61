"""What intake keeps besides the complaint: channel clients, idempotency, inbound mail."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Credential
from complaints.models import Complaint

TOKEN_PREFIX = "stc_"  # noqa: S105 - a prefix that marks Sutong tokens, not a secret


class ChannelClient(Credential):
    """An integration (WeChat, app, hotline system, CRM, Open311 client) and its token.

    What the token may do is its scopes: a channel that only submits holds ``intake``;
    one that also shows its users their complaints' progress holds ``read_own``; and so
    on. "Own" complaints are those the client submitted (``ClientSubmission``).
    """

    PREFIX = TOKEN_PREFIX

    class Scope(models.TextChoices):
        INTAKE = "intake", _("submit complaints")
        READ_OWN = "read_own", _("read the complaints it submitted")
        ACT_OWN = (
            "act_own",
            _(
                "act for the petitioner on the complaints it submitted: add details, withdraw, "
                "answer the survey"
            ),
        )
        WEBHOOKS = "webhooks", _("subscribe to webhooks about the complaints it submitted")

    name = models.CharField(_("name"), max_length=100, unique=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Complaint.Channel, default=Complaint.Channel.API
    )
    scopes = models.JSONField(
        _("scopes"), default=list, blank=True, help_text=_("What the token may do.")
    )
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the default limit of channel clients."),
    )

    class Meta:
        verbose_name = _("channel client")
        verbose_name_plural = _("channel clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Django REST framework treats the authenticated "user" as this object.
    is_authenticated = True
    is_anonymous = False

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False  # staff permissions never apply to a channel

    @classmethod
    def create_with_token(
        cls,
        *,
        name: str,
        channel: str = Complaint.Channel.API,
        scopes: list[str] | None = None,
        expires_at: Any = None,
    ) -> tuple[ChannelClient, str]:
        client = cls(
            name=name,
            channel=channel,
            scopes=list(scopes) if scopes is not None else [cls.Scope.INTAKE],
            expires_at=expires_at,
        )
        raw = client.issue_token()
        client.save()
        return client, raw


class ClientSubmission(models.Model):
    """Which channel client submitted a complaint: what "its own complaints" means."""

    client = models.ForeignKey(ChannelClient, on_delete=models.PROTECT, related_name="submissions")
    complaint = models.OneToOneField(
        Complaint, on_delete=models.CASCADE, related_name="client_submission"
    )

    class Meta:
        verbose_name = _("submission by a channel client")
        verbose_name_plural = _("submissions by channel clients")

    def __str__(self) -> str:
        return f"{self.client_id} → {self.complaint_id}"


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
