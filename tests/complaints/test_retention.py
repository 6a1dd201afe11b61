"""Anonymisation: every personal value goes, everything the statistics need stays.

The database keeps the audit trail append-only except for the one sanctioned rewrite of
an event's details (migration 0014); those trigger tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from complaints import retention, services
from complaints.errors import GuardFailed
from complaints.models import (
    Attachment,
    CoHandlingTask,
    Complaint,
    DataRequest,
    Event,
    Petitioner,
    Reply,
    ReplyApproval,
    Survey,
)
from intake.models import DeadLetter, InboundEmail
from notifications.models import Notification
from routing.models import Category, Department
from sla.models import Deadline, ExtensionRequest
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
S = Complaint.Status
# What redacted text reads as: in the site's language, whoever runs the anonymisation.
with translation.override(settings.LANGUAGE_CODE):
    R = gettext("[removed]")

NAME = "张伟"
PHONE = "13812345678"
EMAIL = "zhangwei@example.com"
ID_NUMBER = "11010119900307123X"
ADDRESS = "幸福路88号3栋2单元501"
ORGANISATION = "张记餐馆"
MESSAGE_ID = "<20260101.zhangwei@mail.example.com>"
# Every way the personal data above may appear in a row after anonymisation.
TRACES = [
    NAME,
    PHONE,
    "138-1234-5678",
    "1234",
    EMAIL,
    "zhangwei",
    ID_NUMBER,
    ID_NUMBER.lower(),
    "幸福路88号",
    ORGANISATION,
    "张先生",
    "居住证明",
    "mail.example.com",
]


def _make_person(**fields: Any) -> Petitioner:
    values = {
        "name": NAME,
        "organisation": ORGANISATION,
        "phone": PHONE,
        "email": EMAIL,
        "id_number": ID_NUMBER,
        "address": ADDRESS,
        "language": "zh-hans",
        **fields,
    }
    return cast(Petitioner, PetitionerFactory(**values))


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _attach(complaint: Complaint, name: str, reply: Reply | None = None) -> Attachment:
    attachment = Attachment(
        complaint=complaint,
        original_name=name,
        content_type="image/jpeg",
        size=9,
        sha256="a" * 64,
        content_id="img1@zhangwei.example.com",
        reply=reply,
    )
    attachment.file.save(name, ContentFile(b"\xff\xd8jpeg-data"), save=False)
    attachment.save()
    return attachment


@pytest.fixture
def finished(media: Path, handler: User, head: User, urban: Department, facilities: Category):
    """A closed e-mail complaint with personal data in every place it can hide."""
    person = _make_person()
    complaint = complaint_in(
        S.CLOSED,
        petitioner=person,
        channel=Complaint.Channel.EMAIL,
        title=f"{NAME}反映路灯问题，电话{PHONE}",
        content=f"我是{NAME}，住在{ADDRESS}，门口路灯坏了。",
        location=ADDRESS,
        latitude=Decimal("31.230416"),
        longitude=Decimal("121.473701"),
        external_ref=MESSAGE_ID,
        channel_data={
            "message_id": MESSAGE_ID,
            "from": f"{NAME} <{EMAIL}>",
            "subject": f"{NAME}的投诉",
            "service_code": "streetlight",
            "client": "mailbox",
        },
        category=facilities,
        priority=Complaint.Priority.URGENT,
        department=urban,
        assignee=handler,
        replied_at=timezone.now() - timedelta(days=3),
        closed_at=timezone.now() - timedelta(days=1),
        is_anonymous=False,
    )
    received = _attach(complaint, f"{NAME}身份证.jpg")
    reply = Reply.objects.create(
        complaint=complaint,
        body=f"{NAME}先生您好：您反映的问题已处理。如有疑问请致电或发邮件至 {EMAIL}。",
        returned_comment=f"请核实{NAME}的地址 {ADDRESS}",
        delivery_note=f"已寄往 {ADDRESS}，张先生签收",
        author=handler,
        sent_at=timezone.now() - timedelta(days=3),
    )
    sent = _attach(complaint, "居住证明.jpg", reply=reply)
    ReplyApproval.objects.create(
        reply=reply,
        level=1,
        decision="returned",
        comment=f"不要写出电话 {PHONE}",
        body_sha256="b" * 64,
        actor=head,
    )
    Survey.objects.create(
        complaint=complaint,
        round=1,
        reply=reply,
        token_hash="c" * 64,
        closes_at=timezone.now(),
        answered_at=timezone.now(),
        resolved=True,
        rating=4,
        comment="处理得很快，谢谢。我的电话 13812345678",
        outcome=Survey.Outcome.SATISFIED,
    )
    CoHandlingTask.objects.create(
        complaint=complaint,
        department=urban,
        task=f"请联系{NAME}（{PHONE}）",
        due_at=timezone.now(),
        result="已联系张先生",
        requested_by=handler,
    )
    deadline = Deadline.objects.create(
        complaint=complaint,
        stage="first_response",
        basis="business",
        started_at=timezone.now(),
        due_at=timezone.now(),
    )
    ExtensionRequest.objects.create(
        deadline=deadline,
        reason=f"{NAME}出差，{PHONE}无人接听",
        requested_due_at=timezone.now(),
        previous_due_at=timezone.now(),
        requested_by=handler,
        decision_note="同意",
    )
    payloads = [
        ("complaint.received", {"channel": "email", "attachments": [received.original_name]}),
        ("complaint.assigned", {"department": "urban_management", "assignee": "handler"}),
        ("complaint.note_added", {"body": "张先生来电，手机 138-1234-5678"}),
        ("complaint.info_supplied", {"details": "门口就是我家，住了二十年。"}),
        ("personal_data.viewed", {"reason": f"回电{NAME}", "fields": ["phone", "email"]}),
        ("complaint.petitioner_contacted", {"note": f"已发邮件到 {EMAIL.upper()}"}),
        ("attachment.added", {"attachment_id": sent.pk, "name": sent.original_name}),
        ("complaint.replied", {"reply_id": reply.pk, "body": reply.body}),
        ("survey.answered", {"rating": 4, "comment": "很满意"}),
        ("complaint.closed", {}),
    ]
    for kind, payload in payloads:
        Event.objects.create(complaint=complaint, kind=kind, actor=handler, payload=payload)
    Notification.objects.create(
        channel=Notification.Channel.EMAIL,
        address=EMAIL,
        kind="complaint.replied",
        subject=f"{NAME}，您的投诉已答复",
        body=f"尊敬的{NAME}：……",
        headers={"In-Reply-To": MESSAGE_ID, "References": MESSAGE_ID},
        complaint=complaint,
        dedupe_key="reply:1:petitioner:email",
        status=Notification.Status.SENT,
    )
    Notification.objects.create(
        channel=Notification.Channel.SMS,
        address=PHONE,
        kind="survey.sent",
        subject="满意度回访",
        body=f"{NAME}您好，请评价",
        complaint=complaint,
        dedupe_key="survey:1:petitioner:sms",
        last_error=f"gateway refused {PHONE}",
    )
    Notification.objects.create(
        channel=Notification.Channel.IN_APP,
        user=handler,
        address="handler@sutong.example",
        kind="complaint.assigned",
        subject=f"新投诉：{complaint.title}",
        complaint=complaint,
        dedupe_key="assigned:1:handler:in_app",
    )
    InboundEmail.objects.create(
        message_id=MESSAGE_ID,
        outcome=InboundEmail.Outcome.CREATED,
        sender=f"{NAME} <{EMAIL}>",
        subject=f"{NAME}的投诉：路灯",
        complaint=complaint,
    )
    DeadLetter.objects.create(
        channel=Complaint.Channel.EMAIL,
        raw=f"From: {EMAIL}\r\nSubject: {NAME}\r\n\r\n{ADDRESS}".encode(),
        message_id=MESSAGE_ID,
        error="bad charset",
        summary=f"{EMAIL}: {NAME}的投诉",
        complaint=complaint,
    )
    DataRequest.objects.create(
        kind=DataRequest.Kind.ERASURE,
        status=DataRequest.Status.DONE,
        petitioner=person,
        verified_by=f"身份证 {ID_NUMBER}",
        note=f"{NAME}本人到窗口",
    )
    LogEntry.objects.create(
        user=head,
        content_type=ContentType.objects.get_for_model(Petitioner),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
        change_message="[]",
    )
    return Complaint.objects.get(pk=complaint.pk)


def _everything_about(complaint: Complaint) -> str:
    """Every value of every row that belongs to the complaint, as one text to search."""
    rows: list[Any] = [complaint, complaint.petitioner]
    rows += list(complaint.attachments.all())
    rows += list(complaint.replies.all())
    rows += list(ReplyApproval.objects.filter(reply__complaint=complaint))
    rows += list(complaint.surveys.all())
    rows += list(complaint.co_handling.all())
    rows += list(ExtensionRequest.objects.filter(deadline__complaint=complaint))
    rows += list(complaint.events.all())
    rows += list(Notification.objects.filter(complaint=complaint))
    rows += list(InboundEmail.objects.filter(complaint=complaint))
    rows += list(DeadLetter.objects.filter(complaint=complaint))
    rows += list(LogEntry.objects.all())
    rows += list(DataRequest.objects.all())
    values = []
    for row in rows:
        data = model_to_dict(row)
        data.update({f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields})
        for name, value in data.items():
            # Times and hashes are random-looking digits: "1234" turns up in them by chance.
            if isinstance(value, date) or name.endswith("_hash"):
                continue
            if isinstance(value, bytes | memoryview):
                value = bytes(value).decode("utf-8", "replace")
            values.append(json.dumps(value, ensure_ascii=False, default=str))
    return "\n".join(values)


def _anonymise(complaint: Complaint, django_capture_on_commit_callbacks: Any) -> Complaint:
    with django_capture_on_commit_callbacks(execute=True):
        assert retention.anonymise(complaint.pk, reason="retention_period") is True
    return Complaint.objects.get(pk=complaint.pk)


class TestAnonymise:
    def test_no_personal_value_is_left_anywhere(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        assert NAME in _everything_about(finished)  # the fixture hides it everywhere
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        text = _everything_about(done)
        assert [trace for trace in TRACES if trace.lower() in text.lower()] == []

    def test_the_petitioner_is_blanked_but_keeps_type_and_language(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        person_id = finished.petitioner_id
        assert person_id is not None
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        person = Petitioner.objects.get(pk=person_id)
        assert done.petitioner_id == person_id
        assert [getattr(person, f) for f in retention.PETITIONER_FIELDS] == [""] * 6
        assert (person.type, person.language) == ("individual", "zh-hans")

    def test_the_complaint_keeps_what_statistics_need(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        kept = (
            "kind",
            "channel",
            "category_id",
            "priority",
            "department_id",
            "assignee_id",
            "status",
            "received_at",
            "replied_at",
            "closed_at",
            "tracking_code",
            "is_anonymous",
        )
        before = {f: getattr(finished, f) for f in kept}
        counts = (finished.events.count(), finished.attachments.count(), finished.replies.count())
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        assert {f: getattr(done, f) for f in kept} == before
        assert done.events.count() == counts[0] + 1  # + personal_data.anonymised
        assert (done.attachments.count(), done.replies.count()) == counts[1:]
        survey = done.surveys.get()
        assert (survey.rating, survey.resolved, survey.outcome, survey.comment) == (
            4,
            True,
            "satisfied",
            "",
        )
        assert done.deadlines.count() == 1

    def test_the_complaint_loses_content_place_reference_and_channel_details(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        assert done.anonymised_at is not None
        assert done.version == finished.version + 1
        assert done.title == f"{R}反映路灯问题，电话{R}"
        assert done.content not in ("", finished.content)
        assert (done.location, done.latitude, done.longitude) == ("", None, None)
        assert done.external_ref == ""
        assert done.channel_data == {"service_code": "streetlight", "client": "mailbox"}

    def test_attachments_lose_their_files_names_and_fingerprints(
        self, finished: Complaint, media: Path, django_capture_on_commit_callbacks: Any
    ) -> None:
        paths = [media / str(a.file.name) for a in finished.attachments.order_by("pk")]
        assert all(path.exists() for path in paths)
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        assert not any(path.exists() for path in paths)
        rows = list(done.attachments.order_by("pk").values_list(
            "original_name", "sha256", "content_id", "file", "size", "content_type", "reply"
        ))  # fmt: skip
        reply_id = done.replies.get().pk
        assert rows == [
            ("attachment-1.jpg", "", "", "", 9, "image/jpeg", None),
            ("attachment-2.jpg", "", "", "", 9, "image/jpeg", reply_id),
        ]

    def test_files_stay_when_the_anonymisation_rolls_back(
        self, finished: Complaint, media: Path
    ) -> None:
        paths = [media / str(a.file.name) for a in finished.attachments.all()]

        def anonymise_then_fail() -> None:
            with transaction.atomic():
                retention.anonymise(finished.pk, reason="retention_period")
                raise RuntimeError("the caller failed afterwards")

        with pytest.raises(RuntimeError):
            anonymise_then_fail()
        assert all(path.exists() for path in paths)
        assert Complaint.objects.get(pk=finished.pk).anonymised_at is None

    def test_event_details_are_redacted_and_marked_and_the_trail_is_whole(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        before = list(finished.events.values_list("pk", "kind", "actor", "created_at"))
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        events = {e.kind: e for e in done.events.all()}
        assert list(done.events.exclude(kind="personal_data.anonymised").values_list(
            "pk", "kind", "actor", "created_at"
        )) == before  # fmt: skip
        assert events["complaint.note_added"].payload == {
            "body": f"{R}来电，手机 {R}",
            "anonymised": True,
        }
        assert events["complaint.info_supplied"].payload["details"] == R
        assert events["survey.answered"].payload == {
            "rating": 4,
            "comment": R,
            "anonymised": True,
        }
        assert events["complaint.received"].payload["attachments"] == ["attachment-1.jpg"]
        assert events["attachment.added"].payload["name"] == "attachment-2.jpg"
        assert events["personal_data.viewed"].payload["fields"] == ["phone", "email"]
        # Nothing personal in it: left as it was, without the marker.
        assert events["complaint.assigned"].payload == {
            "department": "urban_management",
            "assignee": "handler",
        }

    def test_the_anonymisation_event_counts_without_naming(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        event = done.events.get(kind="personal_data.anonymised")
        assert event.payload["reason"] == "retention_period"
        removed = event.payload["removed"]
        assert removed["petitioner"] == "blanked"
        assert removed["petitioner_fields"] == 6
        assert (removed["attachments"], removed["files"]) == (2, 2)
        assert removed["events"] == 8
        assert removed["notifications"] == 3
        assert (removed["inbound_emails"], removed["dead_letters"]) == (1, 1)
        assert NAME not in json.dumps(event.payload, ensure_ascii=False)

    def test_the_outbox_keeps_staff_addresses_and_stops_petitioner_messages(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        _anonymise(finished, django_capture_on_commit_callbacks)
        rows = Notification.objects.filter(complaint=finished).order_by("pk")
        assert [(n.address, n.headers, n.status) for n in rows] == [
            ("", {}, "sent"),
            ("", {}, "failed"),
            ("handler@sutong.example", {}, "pending"),
        ]
        assert rows[0].subject == f"{R}，您的投诉已答复"

    def test_inbound_mail_and_dead_letters_lose_sender_subject_and_message(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        _anonymise(finished, django_capture_on_commit_callbacks)
        inbound = InboundEmail.objects.get(complaint=finished)
        assert (inbound.sender, inbound.subject) == ("", f"{R}的投诉：路灯")
        assert inbound.message_id == f"anonymised:{inbound.pk}"
        letter = DeadLetter.objects.get(complaint=finished)
        assert (letter.as_bytes(), letter.message_id) == (b"", "")
        assert letter.summary == f"{R}: {R}的投诉"

    def test_a_second_call_does_nothing(
        self, finished: Complaint, django_capture_on_commit_callbacks: Any
    ) -> None:
        done = _anonymise(finished, django_capture_on_commit_callbacks)
        assert retention.anonymise(finished.pk, reason="again") is False
        again = Complaint.objects.get(pk=finished.pk)
        assert (again.version, again.anonymised_at) == (done.version, done.anonymised_at)
        assert again.events.filter(kind="personal_data.anonymised").count() == 1

    @pytest.mark.parametrize("status", [S.RECEIVED, S.IN_PROGRESS, S.REPLIED, S.REOPENED])
    def test_a_complaint_still_being_handled_is_refused(self, status: str) -> None:
        complaint = complaint_in(status, petitioner=_make_person())
        with pytest.raises(GuardFailed):
            retention.anonymise(complaint.pk, reason="retention_period")
        assert Petitioner.objects.get(complaints=complaint).name == NAME


class TestSharedPetitioner:
    def test_a_petitioner_with_other_live_complaints_is_left_to_them(
        self, django_capture_on_commit_callbacks: Any
    ) -> None:
        person = _make_person()
        old = complaint_in(S.CLOSED, petitioner=person, closed_at=timezone.now())
        current = complaint_in(S.IN_PROGRESS, petitioner=person)
        done = _anonymise(old, django_capture_on_commit_callbacks)
        assert done.petitioner_id != person.pk
        detached = Petitioner.objects.get(complaints=done)
        assert detached.type == person.type
        assert [getattr(detached, f) for f in retention.PETITIONER_FIELDS] == [""] * 6
        assert Petitioner.objects.get(complaints=current).phone == PHONE
        event = done.events.get(kind="personal_data.anonymised")
        assert event.payload["removed"]["petitioner"] == "detached"

    def test_the_last_complaint_to_go_blanks_the_shared_row(
        self, django_capture_on_commit_callbacks: Any
    ) -> None:
        person = _make_person()
        first = complaint_in(S.CLOSED, petitioner=person, closed_at=timezone.now())
        second = complaint_in(S.WITHDRAWN, petitioner=person, closed_at=timezone.now())
        _anonymise(first, django_capture_on_commit_callbacks)
        _anonymise(second, django_capture_on_commit_callbacks)
        person.refresh_from_db()
        assert (person.name, person.phone, person.email) == ("", "", "")


class TestSweep:
    @pytest.fixture(autouse=True)
    def _thirty_days(self, settings: Any) -> None:
        settings.RETENTION_DAYS = 30

    def _closed(self, days_ago: float, status: str = S.CLOSED, **fields: Any) -> Complaint:
        fields.setdefault("closed_at", timezone.now() - timedelta(days=days_ago))
        return complaint_in(status, petitioner=_make_person(), **fields)

    def test_only_finished_complaints_past_the_period_are_anonymised(self) -> None:
        due = [
            self._closed(31),
            self._closed(40, S.REJECTED),
            self._closed(40, S.MERGED),
            self._closed(31, S.WITHDRAWN),
            self._closed(60, S.ARCHIVED),
            # Archived before closed_at was kept: the archive date counts.
            self._closed(
                0, S.ARCHIVED, closed_at=None, archived_at=timezone.now() - timedelta(days=45)
            ),
        ]
        young = self._closed(29)
        still_open = [
            complaint_in(S.IN_PROGRESS, received_at=timezone.now() - timedelta(days=400)),
            self._closed(90, S.REPLIED),
            self._closed(90, S.REOPENED),
        ]
        assert retention.anonymise_due() == len(due)
        anonymised = set(
            Complaint.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)
        )
        assert anonymised == {c.pk for c in due}
        assert young.pk not in anonymised
        assert not anonymised & {c.pk for c in still_open}
        assert retention.anonymise_due() == 0

    def test_the_limit_is_respected_and_the_rest_waits(self) -> None:
        for _ in range(3):
            self._closed(31)
        assert retention.anonymise_due(limit=2) == 2
        assert retention.anonymise_due(limit=2) == 1

    def test_now_moves_the_cutoff(self) -> None:
        self._closed(10)
        assert retention.anonymise_due() == 0
        assert retention.anonymise_due(now=timezone.now() + timedelta(days=21)) == 1

    def test_one_failing_complaint_does_not_stop_the_others(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        bad, good = self._closed(50), self._closed(40)
        real = retention._anonymise_complaint

        def failing(work: Any) -> None:
            if work.complaint.pk == bad.pk:
                raise ValueError("broken row")
            real(work)

        monkeypatch.setattr(retention, "_anonymise_complaint", failing)
        assert retention.anonymise_due() == 1
        assert Complaint.objects.get(pk=good.pk).anonymised_at is not None
        assert Complaint.objects.get(pk=bad.pk).anonymised_at is None


# --- The database's own guard -----------------------------------------------------------


# Raw SQL, past every Python guard; ``actor_label`` None leaves that column as it is.
_SET_PAYLOAD = {
    "postgresql": "UPDATE complaints_event SET payload = %s::jsonb, "
    "actor_label = COALESCE(%s, actor_label) WHERE id = %s",
    "sqlite": "UPDATE complaints_event SET payload = %s, "
    "actor_label = COALESCE(%s, actor_label) WHERE id = %s",
}


def _raw_update(sql: str, params: list[Any]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _set_payload(event: Event, payload: Any, actor_label: str | None = None) -> None:
    _raw_update(_SET_PAYLOAD[connection.vendor], [json.dumps(payload), actor_label, event.pk])


class TestEventTrigger:
    def _event(self) -> Event:
        return Event.objects.create(
            complaint=complaint_in(S.CLOSED), kind="complaint.note_added", payload={"body": NAME}
        )

    def test_changing_the_kind_is_refused(self) -> None:
        event = self._event()
        with pytest.raises(DatabaseError):
            _raw_update("UPDATE complaints_event SET kind = 'forged' WHERE id = %s", [event.pk])
        assert Event.objects.get(pk=event.pk).kind == "complaint.note_added"

    def test_a_payload_without_the_marker_is_refused(self) -> None:
        event = self._event()
        with pytest.raises(DatabaseError):
            _set_payload(event, {"body": "forged"})
        assert Event.objects.get(pk=event.pk).payload == {"body": NAME}

    @pytest.mark.parametrize(
        "payload", [{"body": "x", "anonymised": 1}, {"anonymised": "true"}, [{"anonymised": True}]]
    )
    def test_a_marker_that_is_not_true_in_an_object_is_refused(self, payload: Any) -> None:
        event = self._event()
        with pytest.raises(DatabaseError):
            _set_payload(event, payload)
        assert Event.objects.get(pk=event.pk).payload == {"body": NAME}

    def test_a_marked_payload_with_another_change_is_refused(self) -> None:
        event = self._event()
        with pytest.raises(DatabaseError):
            _set_payload(event, {"anonymised": True}, actor_label="x")
        assert Event.objects.get(pk=event.pk).payload == {"body": NAME}

    def test_the_anonymised_payload_passes_once_and_is_frozen_after(self) -> None:
        event = self._event()
        _set_payload(event, {"body": "redacted", "anonymised": True})
        assert Event.objects.get(pk=event.pk).payload == {"body": "redacted", "anonymised": True}
        with pytest.raises(DatabaseError):
            _set_payload(event, {"body": "forged", "anonymised": True})
        assert Event.objects.get(pk=event.pk).payload["body"] == "redacted"

    def test_python_still_refuses_ordinary_changes(self) -> None:
        event = self._event()
        event.payload = {"anonymised": True}
        with pytest.raises(TypeError):
            event.save()
        with pytest.raises(TypeError):
            Event.objects.filter(pk=event.pk).update(payload={"anonymised": True})

    def test_the_sanctioned_rewrite_needs_the_marker(self) -> None:
        event = self._event()
        with pytest.raises(ValueError, match="marker"):
            retention._rewrite_payload(event, {"body": "x"})
        retention._rewrite_payload(event, {"body": "x", "anonymised": True})
        assert Event.objects.get(pk=event.pk).payload == {"body": "x", "anonymised": True}

    @pytest.mark.postgres
    def test_deleting_is_still_refused_on_postgres(self) -> None:
        event = self._event()
        with pytest.raises(DatabaseError):
            _raw_update("DELETE FROM complaints_event WHERE id = %s", [event.pk])
        assert Event.objects.filter(pk=event.pk).exists()

    def test_the_sqlite_trigger_names_every_column_but_the_payload(self) -> None:
        if connection.vendor != "sqlite":
            pytest.skip("PostgreSQL compares the whole row")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'complaints_event_append_only'"
            )
            (sql,) = cursor.fetchone()
        columns = [f.column for f in Event._meta.concrete_fields if f.name != "payload"]
        assert [c for c in columns if f"NEW.{c} IS OLD.{c}" not in sql] == []


# --- Two sweeps at once -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_anonymise_each_complaint_once(settings: Any) -> None:
    settings.RETENTION_DAYS = 30
    complaints = [
        complaint_in(
            S.CLOSED, petitioner=_make_person(), closed_at=timezone.now() - timedelta(days=40)
        )
        for _ in range(8)
    ]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def sweep(index: int) -> None:
        try:
            barrier.wait()
            results[index] = retention.anonymise_due()
        except Exception as error:  # surfaced by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == len(complaints)
    for complaint in complaints:
        assert complaint.events.filter(kind="personal_data.anonymised").count() == 1


def test_anonymising_needs_no_staff_but_records_one(
    finished: Complaint, head: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        retention.anonymise(finished.pk, reason="data_request:7", actor=head)
    event = Event.objects.get(complaint=finished, kind="personal_data.anonymised")
    assert (event.actor, event.actor_label, event.payload["reason"]) == (head, "", "data_request:7")
    # The services that read the complaint see the anonymised text too.
    assert services.find_by_reference(Complaint.Channel.EMAIL, MESSAGE_ID) is None
