"""Storing messages: one row per recipient and channel, once, in the recipient's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import User
from notifications import services, tasks
from notifications.delivery import deliver_due
from notifications.models import Notification
from notifications.services import Recipient, notify
from tests.notifications.helpers import EMAIL, IN_APP, SMS, store, subject_and_body

pytestmark = pytest.mark.django_db
Status = Notification.Status


def test_a_message_is_stored_once_per_recipient_and_channel(
    staff: User, petitioner: Recipient
) -> None:
    stored = store([staff, petitioner])

    assert stored == 5  # staff: e-mail, SMS, in-app; the petitioner: e-mail, SMS
    rows = {(row.channel, row.user_id, row.address) for row in Notification.objects.all()}
    assert rows == {
        (EMAIL, staff.pk, "wang@example.gov.cn"),
        (SMS, staff.pk, "13900000001"),
        (IN_APP, staff.pk, ""),
        (EMAIL, None, "zhangwei@example.com"),
        (SMS, None, "13812345678"),
    }
    row = Notification.objects.get(channel=EMAIL, user=staff)
    assert (row.kind, row.subject, row.url) == (
        "sla.warning",
        "Deadline near: SZ-1",
        "/console/complaints/1/",
    )
    assert row.dedupe_key == f"sla.warning:1:user{staff.pk}:email"
    assert Notification.objects.get(channel=SMS, user=None).dedupe_key == (
        "sla.warning:1:13812345678:sms"
    )


def test_no_row_for_a_channel_the_recipient_cannot_receive(db: None) -> None:
    no_phone = User.objects.create_user(username="li", email="li@example.gov.cn")
    no_address = User.objects.create_user(username="zhao")
    phone_only = Recipient(phone="13700000000")
    nothing = Recipient(name="匿名")

    stored = store([no_phone, no_address, phone_only, nothing])

    assert stored == 4
    assert set(Notification.objects.values_list("channel", "user__username", "address")) == {
        (EMAIL, "li", "li@example.gov.cn"),
        (IN_APP, "li", ""),
        (IN_APP, "zhao", ""),
        (SMS, None, "13700000000"),
    }


def test_repeating_a_call_stores_and_counts_nothing_twice(
    staff: User, petitioner: Recipient
) -> None:
    assert store([staff, petitioner]) == 5

    assert store([staff, petitioner]) == 0
    assert Notification.objects.count() == 5
    other = User.objects.create_user(username="li", email="li@example.gov.cn")
    assert store([staff, other, petitioner]) == 2  # only li's e-mail and in-app are new
    assert store([staff], key="sla.warning:2") == 3  # another occasion is another message


def test_compose_runs_in_each_recipients_language(db: None, settings: Any) -> None:
    settings.LANGUAGE_CODE = "zh-hans"
    english = User.objects.create_user(username="en", email="en@example.com", language="en")
    chinese = User.objects.create_user(username="zh", email="zh@example.com", language="zh-hans")
    site_default = User.objects.create_user(username="default", email="default@example.com")
    seen: dict[str, tuple[str, str]] = {}

    def compose(recipient: User | Recipient) -> tuple[str, str]:
        who = recipient.username if isinstance(recipient, User) else recipient.name
        # A string Django's own catalogs already translate.
        seen[who] = (translation.get_language(), gettext("This field is required."))
        return who, ""

    with translation.override("en"):
        notify(
            [
                english,
                chinese,
                site_default,
                Recipient(name="p-en", email="p@example.com", language="en"),
                Recipient(name="p-default", email="q@example.com"),
            ],
            kind="test",
            compose=compose,
            key="language",
            channels=[EMAIL],
        )
        assert translation.get_language() == "en"  # the caller's language is left as it was

    english_text = "This field is required."
    with translation.override("zh-hans"):
        chinese_text = gettext(english_text)
    assert chinese_text != english_text
    assert seen == {
        "en": ("en", english_text),
        "zh": ("zh-hans", chinese_text),
        "default": ("zh-hans", chinese_text),
        "p-en": ("en", english_text),
        "p-default": ("zh-hans", chinese_text),
    }
    assert dict(Notification.objects.values_list("subject", "language")) == {
        "en": "en",
        "zh": "zh-hans",
        "default": "zh-hans",
        "p-en": "en",
        "p-default": "zh-hans",
    }


def test_in_app_rows_are_delivered_by_being_stored(staff: User) -> None:
    store([staff])

    in_app = Notification.objects.get(channel=IN_APP)
    assert in_app.status == Status.SENT
    assert in_app.sent_at is not None
    assert in_app.next_attempt_at is None
    email = Notification.objects.get(channel=EMAIL)
    assert email.status == Status.PENDING
    assert email.next_attempt_at is not None


def test_delivery_is_queued_once_after_commit_and_sends(
    staff: User,
    petitioner: Recipient,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        store([staff, petitioner])
    assert len(callbacks) == 1
    assert Notification.objects.filter(status=Status.PENDING).count() == 4

    callbacks[0]()  # tasks run inline in tests

    assert Notification.objects.filter(status=Status.SENT).count() == 5
    assert sorted(m.to[0] for m in mailoutbox) == ["wang@example.gov.cn", "zhangwei@example.com"]


def test_nothing_is_queued_when_nothing_needs_a_worker(
    staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        store([staff], channels=(IN_APP,))
        store([staff])  # the in-app row exists; e-mail and SMS are new
        store([staff])  # nothing new
    assert len(callbacks) == 1


def test_a_rolled_back_transaction_stores_and_sends_nothing(
    staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    def failing_change() -> None:
        with transaction.atomic():
            store([staff])
            raise RuntimeError("the caller's change failed")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        failing_change()
    assert not Notification.objects.exists()
    assert not callbacks


def test_a_broker_outage_at_commit_delays_delivery_without_losing_it(
    staff: User,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mailoutbox: list[Any],
) -> None:
    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.deliver_due, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        store([staff], channels=(EMAIL,))

    assert "could not queue notification delivery" in caplog.text
    assert Notification.objects.get().status == Status.PENDING

    deliver_due()  # what beat runs every NOTIFY_SWEEP_INTERVAL seconds

    assert Notification.objects.get().status == Status.SENT
    assert [m.to for m in mailoutbox] == [["wang@example.gov.cn"]]


def test_thousands_of_recipients_are_stored_in_a_few_queries(
    db: None, django_assert_max_num_queries: Any
) -> None:
    recipients: list[User | Recipient] = [
        Recipient(email=f"p{i}@example.com", phone=f"138{i:08d}") for i in range(2500)
    ]
    # Batches, not rows: 500 rows an INSERT on PostgreSQL, 43 on SQLite (999 parameters
    # over 23 columns).
    with django_assert_max_num_queries(5000 // 43 + 5), transaction.atomic():
        stored = notify(
            recipients,
            kind="announcement",
            compose=subject_and_body,
            key="announcement:1",
            channels=[EMAIL, SMS],
        )
    assert stored == 5000
    assert Notification.objects.count() == 5000
    assert store(recipients[:10], channels=(EMAIL, SMS), key="announcement:1") == 0


def test_a_long_key_is_shortened_and_still_tells_recipients_apart(db: None) -> None:
    key = "sla.escalation:" + "x" * 300
    stored = store(
        [Recipient(email="a@example.com"), Recipient(email="b@example.com")],
        channels=(EMAIL,),
        key=key,
    )
    keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert stored == 2
    assert len(set(keys)) == 2
    assert all(len(k) == 200 and k.startswith("sla.escalation:xxx") for k in keys)


def test_a_long_subject_is_cut_to_fit(staff: User) -> None:
    notify(
        [staff],
        kind="test",
        compose=lambda r: ("标题" * 400, "正文"),
        key="long",
        channels=[IN_APP],
    )
    subject = Notification.objects.get().subject
    assert len(subject) == 300
    assert subject.endswith("…")


def test_an_unknown_channel_is_refused(staff: User) -> None:
    with pytest.raises(ValueError, match="fax"):
        store([staff], channels=("fax",))


def test_reading_in_app_notifications(staff: User) -> None:
    other = User.objects.create_user(username="li")
    store([staff, other], channels=(IN_APP,), key="a")
    store([staff], channels=(IN_APP, EMAIL), key="b")
    mine = Notification.objects.filter(user=staff, channel=IN_APP).order_by("pk")
    assert services.unread_count(staff) == 2

    first = services.mark_read(staff, mine[0].pk)
    read_at = first.read_at
    assert read_at is not None
    assert services.mark_read(staff, mine[0].pk).read_at == read_at  # a second read keeps the time
    assert services.unread_count(staff) == 1

    with pytest.raises(Notification.DoesNotExist):
        services.mark_read(staff, Notification.objects.get(user=other).pk)
    with pytest.raises(Notification.DoesNotExist):
        services.mark_read(staff, Notification.objects.get(channel=EMAIL).pk)

    assert services.mark_all_read(staff) == 1
    assert services.unread_count(staff) == 0
    assert services.unread_count(other) == 1


def test_retry_puts_failed_rows_back_with_fresh_attempts(
    staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    store([staff], channels=(EMAIL, SMS))
    Notification.objects.filter(channel=EMAIL).update(
        status=Status.FAILED, attempts=6, last_error="SMTPAuthenticationError", next_attempt_at=None
    )
    email, text = Notification.objects.get(channel=EMAIL), Notification.objects.get(channel=SMS)

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.retry([email.pk, text.pk]) == 1  # the pending one is left alone
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.PENDING, 0)
    assert email.next_attempt_at is not None
    assert email.last_error == "SMTPAuthenticationError"  # until the next attempt
    assert len(callbacks) == 1
