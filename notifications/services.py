"""Use cases of the outbox: store messages with the change they tell about, read them.

``notify`` only writes rows, in the caller's transaction; ``notifications.delivery``
sends them after commit. A message is stored once per recipient and channel (its
``dedupe_key``), so callers may run again — a retried task, two overlapping sweeps —
without sending anything twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from accounts.models import User
from notifications.models import Notification

logger = logging.getLogger(__name__)

Channel = Notification.Channel
Status = Notification.Status
# The most rows one INSERT carries (SQLite also caps the number of parameters).
_INSERT_BATCH = 500


@dataclass(frozen=True)
class Recipient:
    """Someone without a staff account (a petitioner): reached by address only."""

    name: str = ""
    email: str = ""
    phone: str = ""
    language: str = ""


@dataclass(frozen=True)
class Notice:
    """One occasion to tell people something: who, what kind, how it reads, where."""

    recipients: Sequence[User | Recipient]
    kind: str
    compose: Callable[[User | Recipient], tuple[str, str]]
    key: str
    channels: Sequence[str]
    complaint_id: int | None = None
    url: str = ""
    # E-mail only: extra headers (threading) and complaints.Attachment ids to attach.
    headers: Mapping[str, str] | None = None
    attachment_ids: Sequence[int] = ()


def notify(
    recipients: Iterable[User | Recipient],
    *,
    kind: str,
    compose: Callable[[User | Recipient], tuple[str, str]],
    key: str,
    channels: Sequence[str],
    complaint_id: int | None = None,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    attachment_ids: Sequence[int] = (),
) -> int:
    """Store a message for each recipient on each channel they can receive; the number stored.

    ``compose(recipient)`` returns ``(subject, body)`` and runs in the recipient's language.
    E-mail needs an address, SMS a phone, in-app a staff user; other combinations are
    skipped. ``key`` names the occasion ("sla.warning:deadline:42"): a second call with
    the same key stores nothing for a recipient and channel already stored, and does not
    count it.

    Runs in the caller's transaction. In-app rows are delivered by being stored; e-mail
    and SMS rows wait as ``pending``, and a delivery task is queued after commit. If the
    broker is down then, the periodic ``deliver_due`` sends them later.
    """
    notice = Notice(
        list(recipients),
        kind,
        compose,
        key,
        channels,
        complaint_id,
        url,
        headers,
        attachment_ids,
    )
    return notify_many([notice])


def notify_many(notices: Iterable[Notice]) -> int:
    """``notify`` for many occasions at once: one bulk insert, one delivery task.

    The SLA sweep escalates thousands of deadlines in one transaction; one INSERT per
    batch of rows and one task after commit keep that fast.
    """
    now = timezone.now()
    rows: list[Notification] = []
    for notice in notices:
        rows.extend(_rows(notice, now))
    if not rows:
        return 0
    stored = insert_new(rows)
    if stored and any(row.channel != Channel.IN_APP for row in rows):
        transaction.on_commit(kick)
    return stored


def _rows(notice: Notice, now: datetime) -> list[Notification]:
    rows: list[Notification] = []
    subject_limit = Notification._meta.get_field("subject").max_length or 300
    for recipient in notice.recipients:
        targets = [
            (channel, address)
            for channel in notice.channels
            if (address := _address(recipient, channel)) is not None
        ]
        if not targets:
            continue
        language = _language(recipient)
        with translation.override(language):
            subject, body = notice.compose(recipient)
        subject = _fit(str(subject), subject_limit)
        for channel, address in targets:
            delivered = channel == Channel.IN_APP
            rows.append(
                Notification(
                    channel=channel,
                    user=recipient if isinstance(recipient, User) else None,
                    address=address,
                    language=language,
                    kind=notice.kind,
                    subject=subject,
                    body=str(body),
                    url=notice.url,
                    headers=dict(notice.headers or {}) if channel == Channel.EMAIL else {},
                    attachment_ids=list(notice.attachment_ids) if channel == Channel.EMAIL else [],
                    complaint_id=notice.complaint_id,
                    dedupe_key=_dedupe_key(notice.key, recipient, channel, address),
                    status=Status.SENT if delivered else Status.PENDING,
                    next_attempt_at=None if delivered else now,
                    sent_at=now if delivered else None,
                    created_at=now,
                )
            )
    return rows


def kick() -> None:
    """Ask a worker to deliver now. Without a broker, the periodic sweep delivers later."""
    from notifications.tasks import deliver_due

    try:
        deliver_due.delay()
    except Exception:  # kombu raises many kinds; a message waits, it is not lost
        logger.warning(
            "could not queue notification delivery; the periodic sweep will send them",
            exc_info=True,
        )


def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of ``user``'s in-app notifications read (once; a second call keeps the time).

    Raises ``Notification.DoesNotExist`` for anyone else's notification.
    """
    notification = Notification.objects.get(pk=notification_id, user=user, channel=Channel.IN_APP)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def mark_all_read(user: User) -> int:
    """Mark all of ``user``'s unread in-app notifications read; how many there were."""
    return _unread(user).update(read_at=timezone.now())


def unread_count(user: User) -> int:
    return _unread(user).count()


def retry(notification_ids: Iterable[int]) -> int:
    """Failed → pending, due now, with a fresh set of attempts; how many were failed.

    For administrators, once the cause (a gateway password, a full mailbox) is fixed. The
    last error stays on the row until the next attempt replaces it.
    """
    with transaction.atomic():
        failed = Notification.objects.filter(pk__in=list(notification_ids), status=Status.FAILED)
        count = failed.update(
            status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_until=None
        )
        if count:
            transaction.on_commit(kick)
    return count


# --- Helpers ----------------------------------------------------------------------------


def _address(recipient: User | Recipient, channel: str) -> str | None:
    """Where ``recipient`` gets ``channel`` ("" for in-app), or None if they cannot."""
    if channel == Channel.EMAIL:
        return recipient.email.strip() or None
    if channel == Channel.SMS:
        return recipient.phone.strip() or None
    if channel == Channel.IN_APP:
        return "" if isinstance(recipient, User) else None
    raise ValueError(f"unknown notification channel {channel!r}")


def _language(recipient: User | Recipient) -> str:
    if isinstance(recipient, User):
        return recipient.preferred_language
    return recipient.language or settings.LANGUAGE_CODE


def _dedupe_key(key: str, recipient: User | Recipient, channel: str, address: str) -> str:
    who = f"user{recipient.pk}" if isinstance(recipient, User) else address
    dedupe_key = f"{key}:{who}:{channel}"
    limit = Notification._meta.get_field("dedupe_key").max_length or 200
    if len(dedupe_key) <= limit:
        return dedupe_key
    # Too long for the column: keep a readable start, made unique by a hash of the whole.
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()
    return f"{dedupe_key[: limit - len(digest) - 1]}#{digest}"


def _fit(text: str, limit: int) -> str:
    text = " ".join(text.split())  # a subject is one line
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unread(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, channel=Channel.IN_APP, read_at__isnull=True)


def insert_new(rows: Sequence[Notification]) -> int:
    """Insert the rows whose ``dedupe_key`` is not stored yet; how many went in.

    ``bulk_create(ignore_conflicts=True)`` skips duplicates too, but cannot say how many
    it skipped, and on SQLite its ``INSERT OR IGNORE`` silently drops a row that breaks a
    NOT NULL or CHECK constraint as well. ``ON CONFLICT (dedupe_key) DO NOTHING`` skips
    only duplicates, its row count is the number inserted, and PostgreSQL and SQLite
    (3.24+) both speak it. Duplicates racing in from another transaction are skipped the
    same way (PostgreSQL waits for that transaction, SQLite has one writer at a time).
    """
    meta = Notification._meta
    # Concrete fields are those with a column; the id is left to the database.
    fields = [field for field in meta.concrete_fields if field.column and not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields if field.column)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = max(1, min(_INSERT_BATCH, connection.ops.bulk_batch_size(fields, list(rows))))
    inserted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = [
                field.get_db_prep_save(field.pre_save(row, add=True), connection)
                for row in chunk
                for field in fields
            ]
            # Identifiers come from the model, values go as parameters.
            sql = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({quote('dedupe_key')}) DO NOTHING"
            )
            cursor.execute(sql, params)
            inserted += max(cursor.rowcount, 0)
    return inserted
