"""Outbound webhooks: complaint events, signed and POSTed to integrations through the outbox.

Which events
    ``on_event`` listens to ``complaints.signals.event_recorded`` — inside the service's
    transaction, so a delivery is stored with the change or not at all — and turns an
    ``Event`` into webhook events: ``complaint.created`` (received), ``complaint.
    status_changed`` (any event that moves the status), ``complaint.replied`` and
    ``complaint.closed``. Each subscription that wants one, and whose client or department
    matches the complaint, gets one outbox row (a ``Notification`` on the ``webhook``
    channel) holding the JSON to send. The payload carries no personal data.

How a delivery looks
    ``POST`` the stored JSON with the headers ``Content-Type: application/json``,
    ``Sutong-Event: <type>``, ``Sutong-Delivery: <delivery id>`` and::

        Sutong-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

    The signature is made anew on every attempt, with the time of that attempt. A receiver
    recomputes it over the raw body with its secret, compares in constant time, and
    rejects a ``t`` more than five minutes away from its clock (a replay); see
    ``verify_signature``. The payload's ``id`` stays the same across retries and
    redeliveries, so a receiver can ignore one it has already processed.

    Any 2xx answer is success. Anything else — another status, a redirect (never
    followed), a timeout, a refused connection — is retried with the outbox's backoff
    (``notifications.delivery``) and, after ``NOTIFY_MAX_ATTEMPTS``, is "failed" in the
    back-office, where it can be retried.

Where deliveries may go
    Public https addresses only, checked when a subscription is saved and again before
    every attempt, and connected to at the address checked: ``notifications.
    webhook_targets`` (``validate_webhook_url``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from complaints.models import Complaint, Event, Reply
from notifications.models import Notification, WebhookSubscription
from notifications.services import insert_new, kick
from notifications.webhook_targets import check_target, validate_webhook_url
from ops.params import ascii_int
from ops.snapshot import Snapshot

__all__ = [
    "WebhookError",
    "deactivate",
    "deliver",
    "encode",
    "event_types",
    "on_event",
    "payload",
    "ping",
    "redeliver",
    "rotate_secret",
    "signature",
    "validate_webhook_url",
    "verify_signature",
]

EventType = WebhookSubscription.EventType
PING = "webhook.ping"
SCOPE = "webhooks"  # what a channel client needs to subscribe (intake.ChannelClient.Scope)
USER_AGENT = "Sutong-Webhooks/1.0"
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept between our clock and its own
EXCERPT_CHARS = 500  # of a refusing answer's body, kept in the delivery's error


class WebhookError(Exception):
    """A delivery was not accepted (or not attempted); the outbox retries it."""


# --- Which events -----------------------------------------------------------------------


def event_types(event: Event) -> list[str]:
    """The webhook events one complaint ``Event`` stands for (often none, sometimes two)."""
    types = []
    if event.kind == "complaint.received":
        types.append(EventType.CREATED)
    if event.from_state and event.to_state and event.from_state != event.to_state:
        types.append(EventType.STATUS_CHANGED)
    if event.kind == "complaint.replied":
        types.append(EventType.REPLIED)
    if event.kind == "complaint.closed":
        types.append(EventType.CLOSED)
    return [str(t) for t in types]


def _read_subscriptions() -> list[WebhookSubscription]:
    return list(WebhookSubscription.objects.filter(is_active=True).select_related("client"))


_subscriptions: Snapshot[list[WebhookSubscription]] | None = None


def active_subscriptions() -> list[WebhookSubscription]:
    """Every active subscription with its client, held per process (``ops.snapshot``):
    each event asks, and subscriptions and clients rarely change."""
    global _subscriptions
    if _subscriptions is None:
        _subscriptions = Snapshot(
            "notifications.webhooks",
            _read_subscriptions,
            models=[
                WebhookSubscription,
                WebhookSubscription._meta.get_field("client").related_model,
            ],
        )
    return _subscriptions.get()


def on_event(sender: Any, *, complaint: Complaint, event: Event, **kwargs: Any) -> int:
    """``event_recorded`` listener: store a delivery per interested subscription.

    Runs in the service's transaction. Each delivery is stored once per subscription,
    event and type (its ``dedupe_key``), however often this runs. Returns how many were
    stored; a delivery task is queued after commit.
    """
    types = event_types(event)
    if not types:
        return 0
    subscriptions = [
        sub
        for sub in active_subscriptions()
        if set(sub.events) & set(types)
        and sub.department_id in (None, complaint.department_id)
        # A client that was revoked, or lost the scope, hears nothing more.
        and (sub.client is None or (sub.client.is_active and sub.client.has_scope(SCOPE)))
    ]
    if any(sub.client_id is not None for sub in subscriptions):
        submitted_by = (
            Complaint.objects.filter(pk=complaint.pk)
            .values_list("client_submission__client_id", flat=True)
            .first()
        )
        subscriptions = [sub for sub in subscriptions if sub.client_id in (None, submitted_by)]
    if not subscriptions:
        return 0
    now = timezone.now()
    rows = []
    for kind in types:
        wanting = [sub for sub in subscriptions if kind in sub.events]
        if not wanting:
            continue
        # Built once, at event time: every subscription and every retry sends these bytes.
        body = encode(payload(kind, complaint, event))
        rows += [
            _delivery(
                sub,
                kind=kind,
                body=body,
                complaint=complaint,
                dedupe_key=f"webhook:{sub.pk}:{event.pk}:{kind}",
                now=now,
            )
            for sub in wanting
        ]
    stored = insert_new(rows)
    if stored:
        transaction.on_commit(kick)
    return stored


def payload(kind: str, complaint: Complaint, event: Event) -> dict[str, Any]:
    """What a receiver gets about one event: the complaint's state, never personal data."""
    data: dict[str, Any] = {
        "id": complaint.pk,
        "tracking_code": complaint.tracking_code,
        "status": complaint.status,
        "kind": complaint.kind,
        "priority": complaint.priority,
        "category": complaint.category.code if complaint.category else None,
        "department": complaint.department.code if complaint.department else None,
        "channel": complaint.channel,
        "received_at": _iso(complaint.received_at),
        "updated_at": _iso(complaint.updated_at),
    }
    if kind == EventType.STATUS_CHANGED:
        data["previous_status"] = event.from_state
    body: dict[str, Any] = {
        # One event of one type: retries and redeliveries carry the same id. (One Event
        # may be two webhook events, e.g. status_changed and closed, hence the type in it.)
        "id": f"evt_{event.pk}_{kind.removeprefix('complaint.')}",
        "type": kind,
        "created_at": _iso(event.created_at),
        "complaint": data,
    }
    if kind == EventType.REPLIED:
        reply = Reply.objects.filter(pk=event.payload.get("reply_id")).first()
        body["reply"] = {
            "body": reply.body if reply else event.payload.get("body", ""),
            # The service stamps the reply after the event: the complaint has the time.
            "sent_at": _iso((reply.sent_at if reply else None) or complaint.replied_at),
        }
    return body


def encode(data: dict[str, Any]) -> str:
    """The JSON text that is stored, signed and sent: compact, keys sorted, UTF-8."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _delivery(
    subscription: WebhookSubscription,
    *,
    kind: str,
    body: str,
    dedupe_key: str,
    now: datetime,
    complaint: Complaint | None = None,
) -> Notification:
    code = f" {complaint.tracking_code}" if complaint is not None else ""
    return Notification(
        channel=Notification.Channel.WEBHOOK,
        webhook=subscription,
        address=subscription.url,
        kind=kind,
        subject=f"{kind}{code}",
        body=body,
        complaint=complaint,
        dedupe_key=dedupe_key,
        status=Notification.Status.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


# --- Use cases of the back-office and the API -------------------------------------------


def ping(subscription: WebhookSubscription) -> Notification:
    """Queue a ``webhook.ping`` to the subscription, to test that it receives and verifies."""
    now = timezone.now()
    ping_id = uuid.uuid4().hex
    data = {
        "id": f"ping_{ping_id}",
        "type": PING,
        "created_at": _iso(now),
        "webhook": {
            "id": subscription.pk,
            "name": subscription.name,
            "events": subscription.events,
        },
    }
    row = _delivery(
        subscription,
        kind=PING,
        body=encode(data),
        dedupe_key=f"webhook:{subscription.pk}:ping:{ping_id}",
        now=now,
    )
    with transaction.atomic():
        row.save()
        transaction.on_commit(kick)
    return row


def redeliver(delivery: Notification) -> Notification:
    """Send a finished delivery again, as a new delivery with the very same payload."""
    assert delivery.webhook is not None
    now = timezone.now()
    row = _delivery(
        delivery.webhook,
        kind=delivery.kind,
        body=delivery.body,
        complaint=delivery.complaint,
        dedupe_key=f"webhook:{delivery.webhook_id}:redelivery:{delivery.pk}:{uuid.uuid4().hex}",
        now=now,
    )
    row.subject = delivery.subject
    with transaction.atomic():
        row.save()
        transaction.on_commit(kick)
    return row


def rotate_secret(subscription: WebhookSubscription) -> str:
    """A new signing secret, in force at once (deliveries waiting are signed with it)."""
    secret = subscription.issue_secret()
    subscription.save(update_fields=["secret", "updated_at"])
    return secret


def deactivate(subscription: WebhookSubscription) -> int:
    """Stop the subscription; deliveries still waiting fail (they can be retried later)."""
    with transaction.atomic():
        subscription.is_active = False
        subscription.save(update_fields=["is_active", "updated_at"])
        return subscription.deliveries.filter(status=Notification.Status.PENDING).update(
            status=Notification.Status.FAILED,
            next_attempt_at=None,
            last_error="The subscription was deactivated before this was sent.",
        )


# --- Signatures -------------------------------------------------------------------------


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Sutong-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (``Sutong-Signature``) signs the raw ``body`` with ``secret``.

    The header is ``t=<unix seconds>,v1=<hex>``, where ``v1`` is the hex HMAC-SHA256, keyed
    with the subscription's secret, of ``"<t>."`` followed by the body's bytes exactly as
    received. A signature older (or newer) than ``tolerance`` seconds is refused, so a
    captured request cannot be replayed later. What a receiver in another language does::

        expected = hmac_sha256(secret, t + "." + raw_body).hex()
        ok = constant_time_equals(expected, v1) and abs(now - t) <= 300
    """
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _sep, value = part.strip().partition("=")
        if name == "t" and (number := ascii_int(value)) is not None:
            timestamp = number
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# --- Sending ----------------------------------------------------------------------------


def deliver(notification: Notification) -> None:
    """POST one webhook row, signed now; raises unless the receiver answered 2xx.

    Sets ``notification.response_status`` (None when no answer came), which the outbox
    records with the outcome.
    """
    subscription = notification.webhook
    assert subscription is not None
    notification.response_status = None
    if subscription.url != notification.address:
        # The integration moved: retries go where it listens now, and the row says so.
        Notification.objects.filter(pk=notification.pk, status=Notification.Status.SENDING).update(
            address=subscription.url
        )
        notification.address = subscription.url
    try:
        target = check_target(subscription.url)
    except ValidationError as error:
        raise WebhookError(" ".join(error.messages)) from error
    body = notification.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Sutong-Event": notification.kind,
        "Sutong-Delivery": str(notification.pk),
        "Sutong-Signature": signature(subscription.secret, body, int(time.time())),
    }
    connection = target.connection(timeout=float(settings.WEBHOOK_TIMEOUT))
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        notification.response_status = response.status
        excerpt = response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")
        location = response.getheader("Location", "")
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        excerpt = " ".join(excerpt.split())[:EXCERPT_CHARS]
        moved = f" (redirects are not followed: {location})" if location else ""
        raise WebhookError(f"HTTP {response.status} {response.reason}{moved}: {excerpt}")
