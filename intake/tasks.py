"""Celery tasks of the intake channels.

``poll_mailbox`` is scheduled by beat only when a mailbox is configured
(``INTAKE_IMAP_HOST``). It is thin on purpose: the poller holds its own lock and every
message is idempotent by Message-ID, so a task redelivered after a worker crash
(``acks_late``) or two overlapping runs do no harm.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from intake.email import imap


@shared_task(name="intake.tasks.poll_mailbox")
def poll_mailbox() -> dict[str, Any]:
    """Take in the messages waiting in the configured IMAP mailbox."""
    return imap.poll_mailbox().as_dict()
