"""A reply goes back the way the complaint came in; so do other notices to the petitioner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from accounts.models import User
from complaints import outreach, services, surveys
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import Attachment, Complaint, Delivery, Event, Reply
from notifications import sms
from notifications.delivery import deliver_due
from notifications.models import Notification
from routing.models import Department
from tests.complaints.loop import handling, reply_to, to_petitioner
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status
SITE = "https://sutong.example.gov.cn"
EMAIL_DATA = {
    "message_id": "<abc@example.com>",
    "from": "张伟 <zhangwei@list.example.org>",
    "sender": "张伟 <zhangwei@example.com>",
    "subject": "幸福路路灯坏了",
}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are asserted in English; the default language is Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _outbox_in_memory(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.SMS_BACKEND = "notifications.sms.LocmemBackend"
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def by_email(department: Department, handler: User, **fields: Any) -> Complaint:
    # The petitioner record holds another address; replies go where the mailer asked.
    petitioner = PetitionerFactory(email="old-address@example.com", phone="")
    return handling(
        department,
        handler,
        channel="email",
        channel_data=dict(EMAIL_DATA),
        petitioner=petitioner,
        **fields,
    )


def delivered_events(complaint: Complaint) -> list[Event]:
    return list(complaint.events.filter(kind="reply.delivered"))


# --- E-mail -----------------------------------------------------------------------------


class TestEmail:
    def test_the_reply_is_threaded_to_the_petitioners_message(
        self, urban: Department, handler: User
    ) -> None:
        complaint = by_email(urban, handler)
        services.draft_reply(
            complaint_id=complaint.pk,
            body="您好，路灯已修复。",
            actor=handler,
            attachments=[SimpleUploadedFile("维修单.pdf", b"%PDF-1.4 receipt", "application/pdf")],
        )
        services.send_reply(complaint_id=complaint.pk, actor=handler)

        reply = Reply.objects.get()
        assert reply.delivery == Delivery.EMAIL
        assert reply.delivered_at is None  # not before the outbox sent it
        [row] = to_petitioner(complaint)
        survey = surveys.current(Complaint.objects.get(pk=complaint.pk))
        assert survey is not None
        assert (row.channel, row.address) == ("email", "zhangwei@example.com")
        assert row.headers == {
            "In-Reply-To": "<abc@example.com>",
            "References": "<abc@example.com>",
        }
        assert complaint.tracking_code in row.subject
        assert "幸福路路灯坏了" in row.subject
        assert row.url == f"/survey/{surveys.token_for(survey.pk)}/"
        assert row.attachment_ids == [reply.attachments.get().pk]
        assert "您好，路灯已修复。" in row.body

    def test_a_file_still_waiting_for_its_malware_scan_holds_the_mail_back_not_drops_it(
        self, urban: Department, handler: User, mailoutbox: list[Any]
    ) -> None:
        complaint = by_email(urban, handler)
        services.draft_reply(
            complaint_id=complaint.pk,
            body="您好，路灯已修复。",
            actor=handler,
            attachments=[SimpleUploadedFile("维修单.pdf", b"%PDF-1.4 receipt", "application/pdf")],
        )
        services.send_reply(complaint_id=complaint.pk, actor=handler)
        file = Reply.objects.get().attachments.get()
        Attachment.objects.filter(pk=file.pk).update(scan_status=Attachment.Scan.PENDING)

        report = deliver_due()
        assert (report.sent, mailoutbox) == (0, [])
        [row] = to_petitioner(complaint)
        assert (row.status, row.attempts) == ("pending", 1)  # tried again after the backoff

        Attachment.objects.filter(pk=file.pk).update(scan_status=Attachment.Scan.CLEAN)
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        assert deliver_due().sent == 1
        [message] = mailoutbox
        assert [name for name, _content, _type in message.attachments] == ["维修单.pdf"]

    def test_the_outbox_sends_it_with_headers_and_files_and_the_reply_counts_as_delivered(
        self, urban: Department, handler: User, mailoutbox: list[Any]
    ) -> None:
        complaint = by_email(urban, handler)
        services.draft_reply(
            complaint_id=complaint.pk,
            body="您好，路灯已修复。",
            actor=handler,
            attachments=[SimpleUploadedFile("维修单.pdf", b"%PDF-1.4 receipt", "application/pdf")],
        )
        services.send_reply(complaint_id=complaint.pk, actor=handler)
        survey = surveys.current(Complaint.objects.get(pk=complaint.pk))
        assert survey is not None

        report = deliver_due()

        assert report.sent == 1
        [message] = mailoutbox
        assert message.to == ["zhangwei@example.com"]
        assert message.extra_headers["In-Reply-To"] == "<abc@example.com>"
        assert message.extra_headers["References"] == "<abc@example.com>"
        assert complaint.tracking_code in message.subject
        assert "您好，路灯已修复。" in message.body
        assert f"{SITE}/survey/{surveys.token_for(survey.pk)}/" in message.body
        assert message.attachments == [("维修单.pdf", b"%PDF-1.4 receipt", "application/pdf")]
        reply = Reply.objects.get()
        assert reply.delivered_at is not None
        assert reply.delivered_at == Notification.objects.get(kind="reply.sent").sent_at
        [event] = delivered_events(complaint)
        assert (event.actor, event.actor_label) == (None, "system")
        assert event.payload == {"reply_id": reply.pk, "delivery": "email"}

    def test_delivery_is_recorded_once(
        self, urban: Department, handler: User, mailoutbox: list[Any]
    ) -> None:
        complaint = by_email(urban, handler)
        reply_to(complaint, handler)
        deliver_due()
        first = Reply.objects.get().delivered_at

        deliver_due()
        services.reply_delivered(notification_id=Notification.objects.get(kind="reply.sent").pk)

        assert len(mailoutbox) == 1
        assert Reply.objects.get().delivered_at == first
        assert len(delivered_events(complaint)) == 1

    def test_a_late_message_of_the_first_round_marks_only_the_first_reply(
        self, urban: Department, handler: User
    ) -> None:
        complaint = by_email(urban, handler)
        first = reply_to(complaint, handler, body="第一次答复。")
        survey = surveys.current(Complaint.objects.get(pk=complaint.pk))
        assert survey is not None
        services.answer_survey(
            survey_id=survey.pk, resolved=False, rating=1, actor_label="petitioner"
        )
        services.accept(complaint_id=complaint.pk, actor=handler)
        second = reply_to(complaint, handler, body="第二次答复。")
        late, _pending = to_petitioner(complaint)
        assert late.body.startswith("第一次答复。")

        services.reply_delivered(notification_id=late.pk)

        first.refresh_from_db()
        second.refresh_from_db()
        assert first.delivered_at is not None
        assert second.delivered_at is None
        assert [e.payload["reply_id"] for e in delivered_events(complaint)] == [first.pk]

    def test_without_a_message_id_there_are_no_threading_headers(
        self, urban: Department, handler: User
    ) -> None:
        complaint = by_email(urban, handler)
        Complaint.objects.filter(pk=complaint.pk).update(
            channel_data={"sender": "zhangwei@example.com", "message_id": "not-an-id"}
        )
        reply_to(complaint, handler)

        [row] = to_petitioner(complaint)
        assert row.address == "zhangwei@example.com"
        assert row.headers == {}
        assert complaint.title in row.subject  # no subject of their own: the title


# --- Web and other electronic channels --------------------------------------------------


class TestElectronicChannels:
    def test_a_petitioner_with_only_a_phone_gets_a_text_with_the_survey_link(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, petitioner=PetitionerFactory(email=""))
        reply_to(complaint, handler)

        assert Reply.objects.get().delivery == Delivery.SMS
        [row] = to_petitioner(complaint)
        survey = surveys.current(Complaint.objects.get(pk=complaint.pk))
        assert survey is not None
        link = f"/survey/{surveys.token_for(survey.pk)}/"
        assert (row.channel, row.address, row.url) == ("sms", "13812345678", link)
        assert (row.headers, row.attachment_ids) == ({}, [])

        deliver_due()

        [text] = sms.outbox
        assert text["to"] == "13812345678"
        assert complaint.tracking_code in text["text"]
        assert text["text"].endswith(f"{SITE}{link}")
        assert Reply.objects.get().delivered_at is not None
        assert len(delivered_events(complaint)) == 1

    def test_with_an_e_mail_address_the_reply_goes_by_e_mail(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler)  # the factory's petitioner has both
        reply_to(complaint, handler)

        [row] = to_petitioner(complaint)
        assert (row.channel, row.address, row.headers) == ("email", "zhangwei@example.com", {})

    def test_a_petitioner_who_prefers_texts_gets_a_text(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, contact_preference="sms")
        reply_to(complaint, handler)

        assert [row.channel for row in to_petitioner(complaint)] == ["sms"]

    def test_do_not_contact_me_means_the_tracking_page_delivers_at_once(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, contact_preference="none")
        reply_to(complaint, handler)

        reply = Reply.objects.get()
        assert reply.delivery == Delivery.PORTAL
        assert reply.delivered_at == reply.sent_at
        assert not Notification.objects.filter(user__isnull=True).exists()
        assert surveys.current(Complaint.objects.get(pk=complaint.pk)) is not None

    @pytest.mark.parametrize("channel", ["letter", "hotline", "walk_in", "email"])
    def test_do_not_contact_me_holds_whatever_the_channel(
        self, urban: Department, handler: User, channel: str
    ) -> None:
        complaint = handling(urban, handler, channel=channel, contact_preference="none")

        assert outreach.default_delivery(complaint) == Delivery.PORTAL
        # Staff may still post a letter or call if the petitioner asks them to.
        assert outreach.possible_deliveries(complaint) == ["portal", "letter", "oral"]

    def test_an_anonymised_petitioner_is_not_written_to(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler)
        assert outreach.recipient_of(complaint) is not None
        complaint.anonymised_at = complaint.received_at
        assert outreach.recipient_of(complaint) is None
        assert outreach.default_delivery(complaint) == Delivery.PORTAL


# --- Letters and oral replies, delivered by people --------------------------------------


class TestDeliveredByPeople:
    def test_a_letter_is_recorded_when_posted(self, urban: Department, handler: User) -> None:
        complaint = handling(urban, handler, channel="letter")
        reply_to(complaint, handler)

        reply = Reply.objects.get()
        assert (reply.delivery, reply.delivered_at) == (Delivery.LETTER, None)
        assert not to_petitioner(complaint)

        recorded = services.record_delivery(
            complaint_id=complaint.pk, note="挂号信 XA123456789CN 已寄出", actor=handler
        )

        assert recorded.delivered_at is not None
        assert recorded.delivery_note == "挂号信 XA123456789CN 已寄出"
        [event] = delivered_events(complaint)
        assert event.actor == handler
        assert event.payload == {
            "reply_id": reply.pk,
            "delivery": "letter",
            "note": "挂号信 XA123456789CN 已寄出",
        }
        with pytest.raises(GuardFailed, match="already recorded"):
            services.record_delivery(complaint_id=complaint.pk, note="又寄了一次", actor=handler)
        assert Reply.objects.get().delivery_note == "挂号信 XA123456789CN 已寄出"
        assert len(delivered_events(complaint)) == 1

    def test_recording_needs_a_note(self, urban: Department, handler: User) -> None:
        complaint = handling(urban, handler, channel="letter")
        reply_to(complaint, handler)

        with pytest.raises(GuardFailed, match="how and when"):
            services.record_delivery(complaint_id=complaint.pk, note=" ", actor=handler)
        assert Reply.objects.get().delivered_at is None

    def test_recording_needs_a_sent_reply(self, urban: Department, handler: User) -> None:
        complaint = handling(urban, handler, channel="letter")

        with pytest.raises(GuardFailed, match="no sent reply"):
            services.record_delivery(complaint_id=complaint.pk, note="已寄出", actor=handler)

    def test_another_department_may_not_record_it(
        self, urban: Department, handler: User, market_handler: User
    ) -> None:
        complaint = handling(urban, handler, channel="letter")
        reply_to(complaint, handler)

        with pytest.raises(PermissionDenied):
            services.record_delivery(complaint_id=complaint.pk, note="已寄出", actor=market_handler)

    @pytest.mark.parametrize("channel", ["hotline", "walk_in"])
    def test_a_call_or_a_visit_is_answered_orally(
        self, urban: Department, handler: User, channel: str
    ) -> None:
        complaint = handling(urban, handler, channel=channel)
        reply_to(complaint, handler)

        assert Reply.objects.get().delivery == Delivery.ORAL
        assert not to_petitioner(complaint)
        services.record_delivery(
            complaint_id=complaint.pk, note="15:20 电话告知，已读答复。", actor=handler
        )
        assert Reply.objects.get().delivered_at is not None

    def test_a_petitioner_who_asked_for_post_gets_a_letter(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, contact_preference="post")
        reply_to(complaint, handler)

        assert Reply.objects.get().delivery == Delivery.LETTER


# --- Choosing another way ---------------------------------------------------------------


class TestOverride:
    def test_staff_may_choose_another_possible_way(self, urban: Department, handler: User) -> None:
        complaint = handling(urban, handler)
        assert outreach.possible_deliveries(complaint) == [
            "email",
            "sms",
            "letter",
            "oral",
            "portal",
        ]

        reply_to(complaint, handler, delivery=Delivery.LETTER)

        assert Reply.objects.get().delivery == Delivery.LETTER
        assert not to_petitioner(complaint)

    def test_an_impossible_way_is_refused_with_a_clear_message(
        self, urban: Department, handler: User
    ) -> None:
        complaint = handling(urban, handler, petitioner=PetitionerFactory(phone=""))
        services.draft_reply(complaint_id=complaint.pk, body="已修复。", actor=handler)

        with pytest.raises(GuardFailed) as refused:
            services.send_reply(complaint_id=complaint.pk, actor=handler, delivery=Delivery.SMS)

        assert str(refused.value) == (
            "The reply cannot go out as “Text message with a link”: "
            "the petitioner cannot be reached so."
        )
        complaint.refresh_from_db()
        assert complaint.status == S.IN_PROGRESS
        assert not complaint.surveys.exists()
        assert not Notification.objects.filter(user__isnull=True).exists()

    def test_an_unknown_way_is_refused(self, urban: Department, handler: User) -> None:
        complaint = handling(urban, handler)
        services.draft_reply(complaint_id=complaint.pk, body="已修复。", actor=handler)

        with pytest.raises(GuardFailed, match="pigeon"):
            services.send_reply(complaint_id=complaint.pk, actor=handler, delivery="pigeon")


# --- Other notices to the petitioner ----------------------------------------------------


class TestNotices:
    def test_a_rejection_tells_the_petitioner_why(self, dispatcher: User) -> None:
        complaint = complaint_in(S.RECEIVED)

        services.reject(
            complaint_id=complaint.pk, reason="不属于本平台受理范围。", actor=dispatcher
        )

        [row] = to_petitioner(complaint, "complaint.rejected")
        assert (row.channel, row.address) == ("email", "zhangwei@example.com")
        assert complaint.tracking_code in row.subject
        assert "不属于本平台受理范围。" in row.body
        assert row.url == "/track/"

    def test_a_rejection_goes_by_text_without_an_e_mail_address(self, dispatcher: User) -> None:
        complaint = complaint_in(S.RECEIVED, petitioner=PetitionerFactory(email=""))

        services.reject(complaint_id=complaint.pk, reason="广告信息。", actor=dispatcher)

        [row] = to_petitioner(complaint, "complaint.rejected")
        assert (row.channel, row.address) == ("sms", "13812345678")

    def test_a_rejected_e_mail_is_answered_in_its_thread(self, dispatcher: User) -> None:
        complaint = complaint_in(S.RECEIVED, channel="email", channel_data=dict(EMAIL_DATA))

        services.reject(complaint_id=complaint.pk, reason="广告信息。", actor=dispatcher)

        [row] = to_petitioner(complaint, "complaint.rejected")
        assert row.address == "zhangwei@example.com"
        assert row.headers["In-Reply-To"] == "<abc@example.com>"

    def test_nobody_is_written_to_who_asked_not_to_be(self, dispatcher: User) -> None:
        complaint = complaint_in(S.RECEIVED, contact_preference="none")

        services.reject(complaint_id=complaint.pk, reason="广告信息。", actor=dispatcher)

        assert not to_petitioner(complaint, "complaint.rejected")

    def test_a_merged_duplicates_petitioner_is_told_and_later_gets_the_reply(
        self, dispatcher: User, urban: Department, handler: User
    ) -> None:
        main = complaint_in(S.CLASSIFIED, petitioner=PetitionerFactory(email="main@example.com"))
        other = PetitionerFactory(name="李娜", email="lina@example.com", phone="13900000000")
        duplicate = complaint_in(S.RECEIVED, petitioner=other)

        services.merge(complaint_id=duplicate.pk, into_id=main.pk, actor=dispatcher)

        [merged] = to_petitioner(duplicate, "complaint.merged")
        assert merged.address == "lina@example.com"
        assert duplicate.tracking_code in merged.subject
        assert main.tracking_code in merged.body

        services.assign(complaint_id=main.pk, department=urban, assignee=handler, actor=dispatcher)
        services.accept(complaint_id=main.pk, actor=handler)
        reply_to(main, handler, body="路灯已统一修复。")

        [copy] = to_petitioner(duplicate, "reply.sent_to_duplicate")
        assert copy.address == "lina@example.com"
        assert duplicate.tracking_code in copy.subject
        assert copy.body == "路灯已统一修复。"
        assert [row.address for row in to_petitioner(main)] == ["main@example.com"]
        duplicate.refresh_from_db()
        assert duplicate.status == S.MERGED
