"""intake.services.submit: one way in for every channel."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from complaints.files import Upload, UploadRejected
from complaints.models import Complaint, Event, Petitioner
from intake import services
from intake.submission import Submission

pytestmark = pytest.mark.django_db
S = Complaint.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def web(**fields: Any) -> Submission:
    values: dict[str, Any] = {
        "channel": "web",
        "title": "路灯坏了",
        "content": "幸福路88号门口的路灯坏了两周。",
        "name": "张伟",
        "phone": "138 1234 5678",
    }
    return Submission(**(values | fields))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("８６１３８１２３４５６７８", "13812345678"),  # full-width digits
        ("010-8888 6666", "01088886666"),
        ("+44 20 7946 0958", "+442079460958"),
        ("", ""),
    ],
)
def test_phone_numbers_are_normalised(typed: str, stored: str) -> None:
    assert services.normalize_phone(typed) == stored


@pytest.mark.parametrize("typed", ["abc", "12", "138 1234 5678 ext 9", "+1"])
def test_what_cannot_be_a_phone_number_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match=r".*"):
        services.normalize_phone(typed)


def test_emails_keep_their_local_part_and_lower_their_domain() -> None:
    assert services.normalize_email(" Zhang.Wei@Example.COM ") == "Zhang.Wei@example.com"
    assert services.normalize_email("jdöe@mächine.example") == "jdöe@mächine.example"
    with pytest.raises(ValueError, match="not an address"):
        services.normalize_email("not an address")


def test_a_submission_becomes_one_received_complaint_with_its_petitioner() -> None:
    receipt = services.submit(web(email="ZW@Example.com"))
    complaint = receipt.complaint
    assert receipt.created
    assert receipt.secret
    assert receipt.missing == ()
    assert complaint.status == S.RECEIVED
    assert complaint.channel == "web"
    assert complaint.petitioner is not None
    assert (complaint.petitioner.phone, complaint.petitioner.email) == (
        "13812345678",
        "ZW@example.com",
    )


def test_the_same_caller_is_recognised_by_phone() -> None:
    first = services.submit(web()).complaint
    second = services.submit(web(phone="+86 13812345678", email="zw@example.com")).complaint
    assert first.petitioner_id == second.petitioner_id
    assert Petitioner.objects.get().email == "zw@example.com"  # filled in, not replaced


def test_a_different_name_on_a_shared_phone_is_another_person() -> None:
    first = services.submit(web()).complaint
    second = services.submit(web(name="李娜")).complaint
    assert first.petitioner_id != second.petitioner_id


def test_channel_reference_makes_submission_idempotent() -> None:
    first = services.submit(web(channel="email", external_ref="<m1@example.com>"))
    again = services.submit(web(channel="email", external_ref="<m1@example.com>"))
    assert again.complaint.pk == first.complaint.pk
    assert again.created is False
    assert again.secret is None
    assert Complaint.objects.count() == Petitioner.objects.count() == 1


def test_details_of_the_submission_are_kept() -> None:
    when = timezone.now() - timedelta(days=2)
    complaint = services.submit(
        web(
            location="幸福路88号",
            latitude=Decimal("31.230416"),
            longitude=Decimal("121.473701"),
            occurred_at=when,
            contact_preference="sms",
            privacy_consent=True,
            channel_data={"device": "ios"},
            kind="suggestion",
        )
    ).complaint
    complaint.refresh_from_db()
    assert complaint.latitude == Decimal("31.230416")
    assert complaint.occurred_at == when
    assert complaint.contact_preference == "sms"
    assert complaint.privacy_consent_at is not None
    assert complaint.channel_data == {"device": "ios"}
    assert complaint.kind == "suggestion"


class TestMissingDetails:
    def test_no_content_goes_to_needs_info_with_the_field_named(self) -> None:
        receipt = services.submit(web(content="  "))
        assert receipt.missing == ("content",)
        complaint = receipt.complaint
        assert complaint.status == S.NEEDS_INFO
        asked = complaint.events.get(kind="complaint.info_requested")
        assert asked.payload["fields"] == ["content"]
        assert asked.actor_label == "system"

    def test_no_way_to_reply_goes_to_needs_info(self) -> None:
        receipt = services.submit(web(phone="", email="", language="en"))
        assert receipt.missing == ("contact",)
        question = receipt.complaint.events.get(kind="complaint.info_requested").payload["question"]
        assert "phone number or e-mail address" in question

    def test_the_question_is_asked_in_the_petitioners_language(self) -> None:
        receipt = services.submit(web(phone="", content="", language="zh-hans"))
        assert receipt.missing == ("content", "contact")
        question = receipt.complaint.events.get(kind="complaint.info_requested").payload["question"]
        assert "电话" in question

    def test_an_anonymous_petitioner_needs_no_contact(self) -> None:
        receipt = services.submit(web(phone="", name="", anonymous=True))
        assert receipt.missing == ()
        assert receipt.complaint.is_anonymous
        assert receipt.complaint.petitioner is None

    def test_a_postal_address_is_a_way_to_reply_by_post(self) -> None:
        receipt = services.submit(web(phone="", address="幸福路88号", contact_preference="post"))
        assert receipt.missing == ()


class TestBadInput:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("phone", "call me"),
            ("email", "nobody"),
            ("title", "Subject\r\nBcc: victim@example.com"),
            ("name", "张伟\n"),
            ("kind", "rant"),
            ("petitioner_type", "alien"),
            ("contact_preference", "pigeon"),
            ("latitude", Decimal("91")),
        ],
    )
    def test_invalid_fields_are_refused_and_nothing_is_stored(self, field: str, value: Any) -> None:
        with translation.override("en"), pytest.raises(services.InvalidSubmission) as caught:
            services.submit(web(**{field: value}))
        assert field in caught.value.errors
        assert not Complaint.objects.exists()
        assert not Petitioner.objects.exists()

    def test_a_future_date_is_refused(self) -> None:
        with pytest.raises(services.InvalidSubmission):
            services.submit(web(occurred_at=timezone.now() + timedelta(days=1)))

    def test_a_forbidden_file_stores_nothing(self) -> None:
        html = Upload(name="page.html", data=b"<html><script>alert(1)</script></html>")
        with pytest.raises(UploadRejected):
            services.submit(web(uploads=(Upload(name="ok.png", data=PNG), html)))
        assert not Complaint.objects.exists()
        assert not Event.objects.exists()

    def test_too_many_files_are_refused(self, settings: Any) -> None:
        settings.ATTACHMENT_MAX_COUNT = 2
        with pytest.raises(services.InvalidSubmission):
            services.submit(web(uploads=tuple(Upload(name=f"{i}.png", data=PNG) for i in range(3))))

    def test_script_in_text_is_stored_as_sent(self) -> None:
        text = '<script>alert("x")</script> 井盖丢失'
        complaint = services.submit(web(content=text)).complaint
        complaint.refresh_from_db()
        assert complaint.content == text


def test_files_are_stored_under_checked_names_and_types(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload = Upload(name="../../etc/现场照片.PNG", data=PNG, content_type="application/x-evil")
    complaint = services.submit(web(uploads=(upload,))).complaint
    attachment = complaint.attachments.get()
    assert attachment.original_name == "现场照片.PNG"
    assert attachment.content_type == "image/png"


def test_a_supplement_resumes_a_complaint_waiting_for_details(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    complaint = services.submit(web(content="")).complaint
    services.add_supplement(
        complaint_id=complaint.pk, text="路灯在南门。", uploads=(Upload(name="p.png", data=PNG),)
    )
    complaint.refresh_from_db()
    assert complaint.status == S.RECEIVED
    event = complaint.events.get(kind="complaint.info_supplied")
    assert event.payload == {"details": "路灯在南门。", "attachments": ["p.png"]}


def test_a_supplement_to_an_open_complaint_is_recorded_without_a_state_change() -> None:
    complaint = services.submit(web()).complaint
    services.add_supplement(complaint_id=complaint.pk, text="又坏了一盏。")
    complaint.refresh_from_db()
    assert complaint.status == S.RECEIVED
    assert complaint.events.filter(kind="complaint.supplemented").count() == 1
