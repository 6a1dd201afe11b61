"""Outbox fixtures: SMS kept in memory, a staff user and a petitioner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import User
from notifications import sms
from notifications.services import Recipient
from tests.notifications.backends import FlakyBackend


@pytest.fixture(autouse=True)
def _sms_in_memory(settings: Any) -> Iterator[None]:
    settings.SMS_BACKEND = "notifications.sms.LocmemBackend"
    settings.SITE_URL = "https://sutong.example.gov.cn"
    settings.NOTIFY_MAX_ATTEMPTS = 6
    settings.NOTIFY_RETRY_DELAY = 30
    sms.outbox.clear()
    FlakyBackend.failures_left = 0
    yield
    sms.outbox.clear()


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user(
        username="wang", password="pw", email="wang@example.gov.cn", phone="13900000001"
    )


@pytest.fixture
def petitioner() -> Recipient:
    return Recipient(name="张伟", email="zhangwei@example.com", phone="13812345678")
