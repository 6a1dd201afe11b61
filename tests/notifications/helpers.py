"""Storing a typical message in tests."""

from __future__ import annotations

from accounts.models import User
from notifications.models import Notification
from notifications.services import Recipient, notify

EMAIL, SMS, IN_APP = (
    Notification.Channel.EMAIL,
    Notification.Channel.SMS,
    Notification.Channel.IN_APP,
)


def subject_and_body(recipient: User | Recipient) -> tuple[str, str]:
    return "Deadline near: SZ-1", "Reply to SZ-1 within two hours."


def store(
    recipients: list[User | Recipient],
    channels: tuple[str, ...] = (EMAIL, SMS, IN_APP),
    *,
    key: str = "sla.warning:1",
    url: str = "/console/complaints/1/",
) -> int:
    return notify(
        recipients,
        kind="sla.warning",
        compose=subject_and_body,
        key=key,
        channels=channels,
        url=url,
    )
