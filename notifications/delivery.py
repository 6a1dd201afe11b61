"""Delivering the outbox: claim due rows, send each one, record how it went.

Claiming is what keeps two workers from sending one message. Rows are taken a few at a
time by a guarded UPDATE (pending → sending WHERE the row is still due), so whoever
changes the row first owns it and the other's UPDATE matches nothing — on SQLite too. On
PostgreSQL the candidates are read with ``SELECT … FOR UPDATE SKIP LOCKED`` as well, so
concurrent sweeps pick disjoint rows instead of contending for the same ones.

A claimed row carries a lease. If its worker dies mid-send, the lease runs out and the
row is claimed again: a message may go out twice then, but it is never lost. Sending
happens outside any transaction, one row at a time; a failure puts the row back as
pending with an exponential backoff, and after ``NOTIFY_MAX_ATTEMPTS`` it is ``failed``
for an administrator to look at (and retry, ``services.retry``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from notifications import signals, sms, webhooks
from notifications.models import Notification

logger = logging.getLogger(__name__)

Status = Notification.Status
Channel = Notification.Channel

# How long a claim lasts. A worker sends CLAIM_BATCH rows on one claim, each bounded by
# EMAIL_TIMEOUT, the SMS gateway's timeout or WEBHOOK_TIMEOUT, so the lease must outlast
# that many sends.
LEASE = timedelta(minutes=10)
CLAIM_BATCH = 10
BACKOFF_CAP = timedelta(hours=1)
SMS_MAX_CHARS = 300


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Rows were still due when the run stopped (its limit): the caller runs again.
    more: bool = False

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "more": self.more,
        }


def deliver_due(limit: int = 200) -> DeliveryReport:
    """Send up to ``limit`` due rows: pending ones whose time has come, and rows whose
    worker died mid-send (lease expired)."""
    report = DeliveryReport()
    _give_up_on_dead_claims(timezone.now())
    backend: sms.BaseSmsBackend | None = None
    while report.handled < limit:
        claimed = claim(min(CLAIM_BATCH, limit - report.handled))
        if not claimed:
            return report
        for index, notification in enumerate(claimed):
            assert notification.lease_until is not None
            if timezone.now() >= notification.lease_until:
                # Sending took longer than the lease: another worker may claim these rows
                # now, so hand them back rather than risk sending them twice.
                _release(claimed[index:])
                report.more = True
                return report
            try:
                if notification.channel == Channel.SMS and backend is None:
                    backend = sms.get_backend()
                send(notification, sms_backend=backend)
            except Exception as error:  # any failure of a channel is retried
                if _record_failure(notification, error) == Status.FAILED:
                    report.failed += 1
                else:
                    report.retrying += 1
            else:
                _record_sent(notification)
                report.sent += 1
    report.more = _due(timezone.now()).exists()
    return report


def claim(size: int, now: datetime | None = None) -> list[Notification]:
    """Take up to ``size`` due rows for this worker: status ``sending``, leased, attempt +1."""
    now = now or timezone.now()
    with transaction.atomic():
        return take(candidates(size, now), now)


def candidates(size: int, now: datetime) -> list[int]:
    """Ids of due rows, expired claims first, then pending rows by their due time."""
    stale = _stale(now).order_by("lease_until")
    pending = Notification.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).order_by(
        "next_attempt_at", "pk"
    )
    if connection.features.has_select_for_update_skip_locked:
        stale = stale.select_for_update(skip_locked=True)
        pending = pending.select_for_update(skip_locked=True)
    ids = list(stale.values_list("pk", flat=True)[:size])
    if len(ids) < size:
        ids += pending.values_list("pk", flat=True)[: size - len(ids)]
    return ids


def take(ids: list[int], now: datetime) -> list[Notification]:
    """Claim each row that is still due; rows someone else claimed meanwhile are skipped."""
    lease_until = now + LEASE
    taken = [
        pk
        for pk in ids
        if _due(now)
        .filter(pk=pk)
        .update(status=Status.SENDING, lease_until=lease_until, attempts=F("attempts") + 1)
    ]
    return list(Notification.objects.filter(pk__in=taken).order_by("pk"))


def send(notification: Notification, *, sms_backend: sms.BaseSmsBackend | None = None) -> None:
    """Hand one message to its channel; raises if the channel did not take it."""
    if notification.channel == Channel.EMAIL:
        link = absolute_url(notification.url)
        body = "\n\n".join(part for part in (notification.body, link) if part)
        message = EmailMessage(
            subject=one_line(notification.subject),
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[single_address(notification.address)],
            # Marks it as automatic mail (RFC 3834): auto-replies stay away, and Sutong's
            # own e-mail intake ignores it instead of opening a complaint about it. Threading
            # headers (In-Reply-To, References) come with the row.
            headers={
                "Auto-Submitted": "auto-generated",
                "Content-Language": notification.language,
                **{
                    name: one_line(value)
                    for name, value in (notification.headers or {}).items()
                    if name in THREAD_HEADERS
                },
            },
        )
        for name, content, content_type in _attachments(notification):
            message.attach(name, content, content_type)
        message.send()
    elif notification.channel == Channel.SMS:
        backend = sms_backend or sms.get_backend()
        backend.send(notification.address, sms_text(notification))
    elif notification.channel == Channel.WEBHOOK:
        webhooks.deliver(notification)
    else:
        raise ValueError(f"channel {notification.channel!r} is not delivered by a worker")


class ScanPending(RuntimeError):
    """A file of the row still waits for its malware scan: tried again later."""


class Undeliverable(ValueError):
    """The row cannot be sent as it is (no retry helps): it fails at once."""


# Addresses and subjects come from petitioners (intake refuses line breaks, lists and
# display names in them, see intake.services); this is the last line of defence: a row
# that would put a line break into a header (a forged Bcc:) or name a second recipient
# is never sent to anyone.
_ADDRESS = re.compile(r"[^\s,;:<>\"()\[\]\\@]+@[^\s,;:<>\"()\[\]\\@]+\.[^\s,;:<>\"()\[\]\\@]+")
# The only extra headers a row may carry: threading (complaints.outreach).
THREAD_HEADERS = frozenset({"In-Reply-To", "References"})


def single_address(address: str) -> str:
    """``address`` if it is exactly one bare address, else ``Undeliverable``."""
    if not _ADDRESS.fullmatch(address):
        raise Undeliverable(f"not one plain e-mail address: {address!r}")
    return address


def one_line(text: str) -> str:
    """Header text on one line: line breaks and other control characters become spaces."""
    return " ".join("".join(" " if ord(c) < 32 or c == "\x7f" else c for c in text).split())


def _attachments(notification: Notification) -> list[tuple[str, bytes, str]]:
    """The files a row names (complaints.Attachment ids), read from storage."""
    if not notification.attachment_ids:
        return []
    from complaints.models import Attachment

    files = []
    for attachment in Attachment.objects.filter(pk__in=notification.attachment_ids):
        if attachment.scan_status == Attachment.Scan.PENDING:
            # Sent without it, the reply would arrive incomplete for good: wait (retried
            # with the usual backoff) until the scan has decided.
            raise ScanPending(f"attachment {attachment.pk} is waiting for its malware scan")
        if not attachment.openable:
            # Never mail out a file the malware scan has not cleared (complaints.scanning).
            logger.warning("attachment %s not sent: scan %s", attachment.pk, attachment.scan_status)
            continue
        with attachment.file.open("rb") as handle:
            files.append((attachment.original_name, handle.read(), attachment.content_type))
    return files


def sms_text(notification: Notification) -> str:
    """Subject and body, cut to SMS_MAX_CHARS, with the link whole at the end."""
    link = absolute_url(notification.url)
    if len(link) > SMS_MAX_CHARS // 2:
        link = ""  # a link that long would crowd out the message itself
    text = "\n".join(part for part in (notification.subject, notification.body) if part)
    room = SMS_MAX_CHARS - (len(link) + 1 if link else 0)
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return f"{text}\n{link}" if link else text


def absolute_url(url: str) -> str:
    """``url`` as a link that works outside the site (``SITE_URL`` + path)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    return f"{settings.SITE_URL.rstrip('/')}/{url.lstrip('/')}"


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: 30 s, 2 min, 8 min, 32 min, then 1 h."""
    delay = timedelta(seconds=settings.NOTIFY_RETRY_DELAY * 4 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


# --- Recording outcomes -----------------------------------------------------------------
# Every update is guarded by the claim (status sending, this lease): a worker whose lease
# ran out and was taken over does not overwrite what the new owner records.


def _mine(notification: Notification) -> Q:
    return Q(pk=notification.pk, status=Status.SENDING, lease_until=notification.lease_until)


def _record_sent(notification: Notification) -> None:
    now = timezone.now()
    recorded = Notification.objects.filter(_mine(notification)).update(
        status=Status.SENT,
        sent_at=now,
        lease_until=None,
        next_attempt_at=None,
        response_status=notification.response_status,
    )
    if recorded:
        notification.status, notification.sent_at = Status.SENT, now
        signals.delivered.send(sender=Notification, notification=notification)


def _record_failure(notification: Notification, error: Exception) -> str:
    message = f"{type(error).__name__}: {error}"[:2000]
    if notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS or isinstance(error, Undeliverable):
        status, next_attempt_at = Status.FAILED, None
        logger.error(
            "notification %s (%s by %s) failed for good after %s attempts: %s",
            notification.pk,
            notification.kind,
            notification.channel,
            notification.attempts,
            message,
        )
    else:
        status = Status.PENDING
        next_attempt_at = timezone.now() + backoff(notification.attempts)
        logger.warning(
            "notification %s (%s by %s) failed on attempt %s, retrying at %s: %s",
            notification.pk,
            notification.kind,
            notification.channel,
            notification.attempts,
            next_attempt_at.isoformat(timespec="seconds"),
            message,
        )
    Notification.objects.filter(_mine(notification)).update(
        status=status,
        next_attempt_at=next_attempt_at,
        lease_until=None,
        last_error=message,
        # Webhooks: the receiver's answer (None if none came); other channels have none.
        response_status=notification.response_status,
    )
    return status


def _release(notifications: list[Notification]) -> None:
    """Hand claimed, unsent rows back as due now; the attempt does not count."""
    for notification in notifications:
        Notification.objects.filter(_mine(notification)).update(
            status=Status.PENDING,
            next_attempt_at=timezone.now(),
            lease_until=None,
            attempts=F("attempts") - 1,
        )


def _stale(now: datetime) -> QuerySet[Notification]:
    """Claims whose worker died, with attempts left."""
    return Notification.objects.filter(
        status=Status.SENDING, lease_until__lte=now, attempts__lt=settings.NOTIFY_MAX_ATTEMPTS
    )


def _due(now: datetime) -> QuerySet[Notification]:
    return Notification.objects.filter(
        Q(status=Status.PENDING, next_attempt_at__lte=now)
        | Q(status=Status.SENDING, lease_until__lte=now, attempts__lt=settings.NOTIFY_MAX_ATTEMPTS)
    )


def _give_up_on_dead_claims(now: datetime) -> None:
    """A row whose worker died on its last attempt would be claimed forever; fail it.

    (A message that crashes its worker each time must not take the workers down with it.)
    """
    given_up = Notification.objects.filter(
        status=Status.SENDING, lease_until__lte=now, attempts__gte=settings.NOTIFY_MAX_ATTEMPTS
    ).update(
        status=Status.FAILED,
        lease_until=None,
        last_error="The worker stopped while sending it, on the last attempt allowed.",
    )
    if given_up:
        logger.error("%s notifications failed: their worker stopped on the last attempt", given_up)
