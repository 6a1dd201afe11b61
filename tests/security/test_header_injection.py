"""Header injection: line breaks and extra recipients in names, addresses and subjects are
refused at every door, and mail reaches only its one intended address (issue 11, item 7).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from complaints import services
from complaints.models import Complaint
from intake.email.ingest import ingest
from notifications import delivery
from notifications.models import Notification
from routing.models import Department
from tests.api.conftest import Api
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db

BAD_ADDRESSES = [
    "a@b.cn\r\nBcc: evil@x.cn",
    "a@b.cn\nBcc: evil@x.cn",
    "a@b.cn, evil@x.cn",
    "a@b.cn;evil@x.cn",
    '"x" <a@b.cn>\nCc: evil@x.cn',
    '"x" <a@b.cn>, <evil@x.cn>',
    "a@b.cn\rCc: evil@x.cn",
]
BAD_NAMES = ["张伟\r\nBcc: evil@x.cn", "张伟\nCc: evil@x.cn", "Zhang\rTo: evil@x.cn"]
FORM = {
    "kind": "complaint",
    "petitioner_type": "individual",
    "name": "张伟",
    "email": "zhangwei@example.cn",
    "title": "路灯坏了",
    "content": "幸福路88号门口的路灯坏了两周。",
    "privacy_consent": "on",
}


@pytest.fixture(autouse=True)
def _locmem_mail_and_fresh_limits(settings: Any, tmp_path: Path) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = tmp_path
    settings.API_RATE_CLIENT = settings.API_RATE_STAFF = settings.API_RATE_ANONYMOUS = 0
    cache.clear()


@pytest.fixture
def api(db: None) -> Api:
    """The API test client of tests/api (answers checked against the schema)."""
    return Api()


def all_recipients() -> set[str]:
    return {address for message in mail.outbox for address in message.recipients()}


# --- Refused at input -------------------------------------------------------------------


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_the_portal_refuses_an_address_with_line_breaks_or_more_recipients(address: str) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/submit/", {**FORM, "email": address})

    assert response.status_code == 400  # the form again, with the error
    assert "Enter a valid e-mail address." in response.content.decode()
    assert not Complaint.objects.exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_portal_refuses_a_name_with_line_breaks(name: str) -> None:
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/submit/", {**FORM, "name": name})

    assert "Line breaks and control characters are not allowed here." in (response.content.decode())
    assert not Complaint.objects.exists()


def test_the_refusal_is_in_the_visitors_language() -> None:
    form = {**FORM, "email": BAD_ADDRESSES[0]}
    english = Client(HTTP_ACCEPT_LANGUAGE="en").post("/submit/", form)
    chinese = Client().post("/submit/", form)  # zh-hans is the default
    with translation.override("zh-hans"):
        in_chinese = gettext("Enter a valid e-mail address.")

    assert in_chinese != "Enter a valid e-mail address."
    assert '<p class="error" role="alert">Enter a valid e-mail address.</p>' in (
        english.content.decode()
    )
    assert f'<p class="error" role="alert">{in_chinese}</p>' in chinese.content.decode()


def intake_body(**petitioner: str) -> dict[str, Any]:
    return {
        "title": "路灯坏了",
        "content": "幸福路88号门口的路灯坏了两周。",
        "petitioner": {"name": "张伟", "email": "zhangwei@example.cn", **petitioner},
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", address) for address in BAD_ADDRESSES] + [("name", name) for name in BAD_NAMES],
)
def test_the_intake_api_answers_400_naming_the_field(api: Any, field: str, value: str) -> None:
    api.as_client()
    with api.unchecked():
        response = api.post(
            "/api/v1/intake/",
            intake_body(**{field: value}),
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"k-{field}-{abs(hash(value))}",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert f"petitioner.{field}" in {error["field"] for error in errors}
    assert all(error["message"] for error in errors)
    assert not Complaint.objects.exists()


def test_the_staff_registration_api_refuses_them_too(api: Any, clerk: User) -> None:
    api.as_staff(clerk)
    with api.unchecked():
        response = api.post(
            "/api/v1/complaints/",
            {**intake_body(email=BAD_ADDRESSES[0]), "channel": "hotline"},
            format="json",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert response.status_code == 400, response.content
    assert "petitioner.email" in {error["field"] for error in response.json()["errors"]}


def raw_mail(sender: str, subject: str = "=?utf-8?b?6Lev54Gv5Z2P5LqG?=") -> bytes:
    """A message as it arrives, headers written by hand (Python's e-mail API refuses to
    write the malformed ones a sender may send)."""
    return (
        f"From: {sender}\r\nTo: xinfang@example.gov.cn\r\nSubject: {subject}\r\n"
        "Message-ID: <m1@example.cn>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "5bm456aP6LevODjlj7fpl6jlj6PnmoTot6/nga/lnY/kuobkuKTlkajjgII=\r\n"
    ).encode()


def test_email_intake_replies_only_to_the_one_sender_of_a_list_in_from() -> None:
    result = ingest(raw_mail("张伟 <a@b.cn>, evil@x.cn"))

    complaint = result.complaint
    assert complaint is not None
    assert complaint.petitioner is not None
    assert complaint.petitioner.email in ("a@b.cn", "")
    assert "evil" not in complaint.petitioner.email
    assert "evil" not in complaint.petitioner.name


def test_email_intake_keeps_a_message_whose_encoded_name_hides_a_line_break() -> None:
    # RFC 2047 lets a sender encode CR/LF into the display name and the subject; the
    # message is a complaint all the same, and nothing of it reaches a header as a break.
    sender = "=?utf-8?b?5byg5LyfDQpCY2M6IGV2aWxAeC5jbg==?= <zhangwei@example.cn>"
    subject = "=?utf-8?b?6Lev54Gv5Z2P5LqGDQpCY2M6IGV2aWxAeC5jbg==?="

    result = ingest(raw_mail(sender, subject))

    complaint = result.complaint
    assert complaint is not None, result
    assert complaint.petitioner is not None
    for text in (complaint.petitioner.name, complaint.title):
        assert "\r" not in text, text
        assert "\n" not in text, text


# --- Delivery: only the intended address, one-line subjects ---------------------------


def outbox_row(address: str, subject: str = "您的投诉已答复", **fields: Any) -> Notification:
    return Notification.objects.create(
        channel=Notification.Channel.EMAIL,
        kind="reply.sent",
        address=address,
        subject=subject,
        body="路灯已修复。",
        dedupe_key=f"test:{address}:{subject}",
        next_attempt_at=timezone.now(),
        **fields,
    )


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_delivery_never_sends_a_row_whose_address_is_not_one_plain_address(address: str) -> None:
    row = outbox_row(address)

    report = delivery.deliver_due()

    assert mail.outbox == []
    row.refresh_from_db()
    assert (row.status, report.failed) == ("failed", 1)  # at once: retrying cannot help
    assert "not one plain e-mail address" in row.last_error


def test_delivery_sends_to_the_one_address_with_a_subject_on_one_line() -> None:
    outbox_row(
        "zhangwei@example.cn",
        subject="Re: 路灯坏了\r\nBcc: evil@x.cn\nX-Evil: 1",
        headers={"References": "<m1@example.cn>\r\nBcc: evil@x.cn", "Bcc": "evil@x.cn"},
    )

    delivery.deliver_due()

    [message] = mail.outbox
    assert (message.to, message.cc, message.bcc) == (["zhangwei@example.cn"], [], [])
    assert message.recipients() == ["zhangwei@example.cn"]
    assert message.subject == "Re: 路灯坏了 Bcc: evil@x.cn X-Evil: 1"
    headers = message.message()
    assert (headers["Bcc"], headers["Cc"], headers["X-Evil"]) == (None, None, None)
    assert headers["References"] == "<m1@example.cn> Bcc: evil@x.cn"
    assert "\n" not in str(headers["Subject"]).replace("\n ", "")  # folded, never broken


def test_a_reply_to_a_complaint_whose_title_holds_line_breaks_goes_out_on_one_line(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    # Older data or a back-office edit: the title has CR/LF, the petitioner an address.
    person = PetitionerFactory(email="zhangwei@example.cn", phone="")
    complaint = complaint_in(
        Complaint.Status.IN_PROGRESS,
        department=urban,
        assignee=handler,
        title="路灯坏了\r\nBcc: evil@x.cn",
        petitioner=person,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_reply(complaint_id=complaint.pk, body="路灯已修复。", actor=handler)
        services.send_reply(complaint_id=complaint.pk, actor=handler)
    delivery.deliver_due()

    assert all_recipients() == {"zhangwei@example.cn"}
    for message in mail.outbox:
        assert "\n" not in message.subject
        assert "\r" not in message.subject
        assert message.message()["Bcc"] is None
        assert "路灯坏了 Bcc: evil@x.cn" in message.subject


def test_a_petitioner_address_changed_behind_intake_reaches_no_one(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    # Written straight to the database (no door lets it in): delivery still refuses.
    person = PetitionerFactory(email="a@b.cn\r\nBcc: evil@x.cn", phone="")
    complaint = complaint_in(
        Complaint.Status.IN_PROGRESS, department=urban, assignee=handler, petitioner=person
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_reply(complaint_id=complaint.pk, body="路灯已修复。", actor=handler)
        services.send_reply(complaint_id=complaint.pk, actor=handler, delivery="email")
    delivery.deliver_due()

    assert mail.outbox == []
    assert set(Notification.objects.filter(channel="email").values_list("status", flat=True)) <= {
        "failed"
    }
