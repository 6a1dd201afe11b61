"""Staff registration of phone, walk-in and letter complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from complaints.models import Complaint
from intake import services
from intake.submission import Submission

FORM = {
    "channel": "hotline",
    "kind": "complaint",
    "petitioner_type": "individual",
    "name": "刘强",
    "phone": "186 0000 1111",
    "title": "噪音扰民",
    "content": "工地夜间施工。",
}


@pytest.fixture
def as_clerk(clerk: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(clerk)
    return client


def test_a_clerk_registers_a_call(as_clerk: Client, clerk: Any) -> None:
    response = as_clerk.post("/console/register/", FORM, follow=True)
    complaint = Complaint.objects.get()
    page = response.content.decode()
    assert complaint.tracking_code in page
    assert 'id="secret"' in page
    assert complaint.channel == "hotline"
    event = complaint.events.get()
    assert (event.kind, event.actor) == ("complaint.received", clerk)
    assert complaint.petitioner is not None
    assert complaint.petitioner.phone == "18600001111"


def test_a_letter_keeps_its_date_number_and_scans(
    as_clerk: Client, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    form = {
        **FORM,
        "channel": "letter",
        "received_at": "2026-11-02T09:30",
        "external_ref": "信-2026-118",
        "attachments": [
            SimpleUploadedFile("page1.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 30),
            SimpleUploadedFile("page2.pdf", b"%PDF-1.4\n"),
        ],
    }
    assert as_clerk.post("/console/register/", form).status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.external_ref == "信-2026-118"
    assert complaint.received_at == datetime(2026, 11, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert complaint.attachments.count() == 2


def test_the_same_letter_number_is_not_registered_twice(as_clerk: Client) -> None:
    form = {**FORM, "channel": "letter", "external_ref": "信-2026-119"}
    as_clerk.post("/console/register/", form)
    response = as_clerk.post("/console/register/", form, follow=True)
    assert "This was registered before." in response.content.decode()
    assert Complaint.objects.count() == 1


def test_a_caller_without_contact_is_registered_and_asked(as_clerk: Client) -> None:
    response = as_clerk.post("/console/register/", {**FORM, "phone": ""}, follow=True)
    assert Complaint.objects.get().status == "needs_info"
    assert "Still missing" in response.content.decode()


def test_earlier_complaints_of_the_caller_are_listed(as_clerk: Client) -> None:
    earlier = services.submit(
        Submission(channel="web", title="井盖丢失", content="x", phone="+86 18600001111")
    ).complaint
    services.submit(Submission(channel="web", title="别人的事", content="x", phone="13900000000"))
    page = as_clerk.get("/console/register/", {"phone": "186-0000-1111"}).content.decode()
    assert earlier.tracking_code in page
    assert "别人的事" not in page


def test_only_roles_that_register_may_open_the_page(handler: Any) -> None:
    assert Client().get("/console/register/").status_code == 302  # to the login page
    client = Client()
    client.force_login(handler)
    assert client.get("/console/register/").status_code == 403


def test_staff_log_in_to_the_console(clerk: Any) -> None:
    client = Client()
    response = client.post("/console/login/", {"username": "clerk", "password": "pw"})
    assert response.status_code == 302
    assert client.get("/console/").status_code == 200


def test_a_future_receipt_date_is_refused(as_clerk: Client) -> None:
    response = as_clerk.post("/console/register/", {**FORM, "received_at": "2099-01-01T00:00"})
    assert response.status_code == 400
    assert not Complaint.objects.exists()
