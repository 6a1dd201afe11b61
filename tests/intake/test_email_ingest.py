"""Taking e-mail in: complaints, duplicates, threads, automatic mail, dead letters, the
``ingest_email`` command. Corpus messages are the input where the corpus has one."""

from __future__ import annotations

import io
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.base import SessionBase
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.db.models import QuerySet
from django.test import RequestFactory

from complaints.models import Complaint, Event
from intake.admin_email import DeadLetterAdmin
from intake.email import ingest as ingest_module
from intake.email.ingest import RETRY_LATER, ingest, retry_dead_letter
from intake.models import DeadLetter, InboundEmail
from tests.factories import complaint_in

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "mail-corpus"
OUT = InboundEmail.Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def corpus(prefix: str) -> bytes:
    if not CORPUS.is_dir():
        pytest.skip(f"mail corpus not found at {CORPUS}")
    [path] = CORPUS.glob(f"{prefix}-*.eml")
    return path.read_bytes()


def mail(
    subject: str = "小区路灯坏了",
    body: str = "幸福路88号门口的路灯坏了两周，晚上很不安全。",
    sender: str = "张伟 <zhangwei@example.cn>",
    message_id: str = "<m1@example.cn>",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "xinfang@example.gov.cn"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes()


# --- New complaints -----------------------------------------------------------------------


def test_a_corpus_message_creates_one_complaint_with_its_fields() -> None:
    result = ingest(corpus("30"))

    assert result.outcome == OUT.CREATED
    assert not result.duplicate
    complaint = Complaint.objects.get()
    assert result.complaint == complaint
    assert complaint.title == "30 plaintext + (HTML + embedded image) + attachment"
    assert complaint.content == "Search for hähä"
    assert complaint.channel == Complaint.Channel.EMAIL
    assert complaint.status == Complaint.Status.RECEIVED
    assert complaint.external_ref == "<1e58c8f2-3a15-96e7-76b7-046cf6e1ce1e@example.com>"
    assert complaint.petitioner is not None
    assert complaint.petitioner.email == "test@example.com"
    assert complaint.contact_preference == "email"
    assert sorted(a.original_name for a in complaint.attachments.all()) == [
        "attach2.png",
        "kigaaldcbanejcbi.png",
    ]
    assert complaint.channel_data["sent_at"] == "2017-12-30T19:50:01+00:00"
    event = Event.objects.get(complaint=complaint)
    assert (event.kind, event.actor_label) == ("complaint.received", "channel:email")
    inbound = InboundEmail.objects.get()
    assert (inbound.complaint, inbound.sender) == (complaint, "test@example.com")


def test_the_reply_address_comes_from_reply_to_behind_a_list_rewrite() -> None:
    complaint = ingest(corpus("03")).complaint
    assert complaint is not None
    assert complaint.petitioner is not None
    assert (complaint.petitioner.name, complaint.petitioner.email) == (
        "孟祥宇",
        "1156140554@qq.com",
    )
    assert complaint.channel_data["from"] == "孟祥宇 via Linux-erofs <linux-erofs@lists.ozlabs.org>"


def test_reply_prefixes_leave_the_title_and_quoted_history_leaves_the_content() -> None:
    complaint = ingest(corpus("08")).complaint
    assert complaint is not None
    assert complaint.title == "How to storage SEL in firmware chip"
    assert complaint.content.startswith("Hi Jason,")
    assert "写道" not in complaint.content
    assert complaint.content.rstrip().endswith("dzg")


def test_the_same_message_twice_makes_one_complaint() -> None:
    raw = corpus("01")
    first = ingest(raw)
    second = ingest(raw)

    assert Complaint.objects.count() == 1
    assert InboundEmail.objects.count() == 1
    assert second.duplicate
    assert second.outcome == OUT.CREATED
    assert second.complaint == first.complaint


def test_a_concurrent_second_delivery_loses_on_the_unique_constraint(monkeypatch: Any) -> None:
    first = ingest(mail())
    # The other delivery committed after this one looked: only the constraint can tell.
    real_exists = QuerySet.exists

    def not_yet(queryset: QuerySet[Any]) -> bool:
        return False if queryset.model is InboundEmail else real_exists(queryset)

    monkeypatch.setattr(QuerySet, "exists", not_yet)

    second = ingest(mail())

    assert second.duplicate
    assert second.outcome == OUT.CREATED
    assert second.complaint == first.complaint
    assert Complaint.objects.count() == 1
    assert not DeadLetter.objects.exists()


def test_a_refused_attachment_drops_only_itself() -> None:
    message = EmailMessage()
    message["From"] = "张伟 <zhangwei@example.cn>"
    message["Subject"] = "噪音投诉"
    message["Message-ID"] = "<files@example.cn>"
    message.set_content("夜间施工噪音。")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image", "png", filename="现场.png")
    message.add_attachment(b"MZ\x90\x00 program", "application", "octet-stream", filename="a.exe")

    result = ingest(message.as_bytes())

    complaint = result.complaint
    assert result.outcome == OUT.CREATED
    assert complaint is not None
    assert [a.original_name for a in complaint.attachments.all()] == ["现场.png"]
    [dropped] = complaint.channel_data["dropped_attachments"]
    assert dropped["name"] == "a.exe"
    assert dropped["reason"]


def test_a_message_without_text_waits_for_details() -> None:
    result = ingest(mail(body=""))
    assert result.outcome == OUT.CREATED
    assert result.complaint is not None
    assert result.complaint.status == Complaint.Status.NEEDS_INFO
    assert result.inbound is not None
    assert "content" in result.inbound.reason


# --- Threads ----------------------------------------------------------------------------


def test_02_after_01_is_added_to_01s_complaint_by_references() -> None:
    first = ingest(corpus("01"))
    second = ingest(corpus("02"))

    assert second.outcome == OUT.SUPPLEMENT
    assert second.complaint == first.complaint
    assert Complaint.objects.count() == 1
    event = Event.objects.filter(complaint=first.complaint).latest("id")
    assert event.kind == "complaint.supplemented"
    assert event.actor_label == "channel:email"
    assert "另外，我们建议的随机读pattern" in event.payload["details"]
    # Someone other than the petitioner wrote: the addition says who, on its first line.
    assert "Gao Xiang <gaoxiang25@huawei.com>" in event.payload["details"].splitlines()[0]


def test_a_tracking_code_in_the_subject_adds_to_that_complaint() -> None:
    complaint = complaint_in(Complaint.Status.NEEDS_INFO)
    raw = mail(
        subject=f"回复：关于{complaint.tracking_code}的补充",
        body="路灯在幸福路88号。\n\n-----原始邮件-----\n发件人: 信访办\n\n请补充地址。",
        sender=f"张伟 <{complaint.petitioner.email}>",  # type: ignore[union-attr]
    )

    result = ingest(raw)

    assert result.outcome == OUT.SUPPLEMENT
    assert result.complaint == complaint
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.RECEIVED  # resumed: details arrived
    event = Event.objects.filter(complaint=complaint).latest("id")
    assert event.payload["details"] == "路灯在幸福路88号。"
    assert Complaint.objects.count() == 1


def test_an_unknown_tracking_code_makes_a_new_complaint_that_mentions_it() -> None:
    result = ingest(mail(subject="Re: TS-2026-7KQ3M9XA"))
    assert result.outcome == OUT.CREATED
    assert result.complaint is not None
    assert result.complaint.channel_data["mentions_tracking_code"] == "TS-2026-7KQ3M9XA"


def test_an_auto_reply_in_a_complaints_thread_is_ignored_and_leaves_no_event() -> None:
    first = ingest(corpus("01"))
    assert first.complaint is not None
    events = Event.objects.filter(complaint=first.complaint).count()
    # Corpus 36 (an iCloud vacation reply), answering 01's message.
    vacation = re.sub(
        rb"(?m)^In-Reply-To: .*$",
        b"In-Reply-To: <tencent_43D5609D92443B9ED755C87B7843FA71D705@qq.com>",
        corpus("36"),
    )

    result = ingest(vacation)

    assert result.outcome == OUT.IGNORED
    assert result.complaint is None
    assert result.inbound is not None
    assert "X-Apple-Action" in result.inbound.reason
    assert Event.objects.filter(complaint=first.complaint).count() == events
    assert Complaint.objects.count() == 1


# --- Failures -----------------------------------------------------------------------------


def test_a_failure_becomes_a_dead_letter_and_a_retry_succeeds(monkeypatch: Any) -> None:
    real_submit = ingest_module.services.submit
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("storage is full")
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(ingest_module.services, "submit", flaky)
    raw = corpus("49")

    failed = ingest(raw)

    assert failed.outcome == OUT.DEAD_LETTER
    assert failed.dead_letter is not None
    letter = failed.dead_letter
    assert bytes(letter.raw) == raw
    assert "storage is full" in letter.error
    assert letter.summary == "bob@marley.com — Testing message parsing"
    assert not Complaint.objects.exists()
    # The message is safe: delivering it again changes nothing.
    again = ingest(raw)
    assert again.duplicate
    assert again.outcome == OUT.DEAD_LETTER
    assert again.dead_letter == letter

    retried = retry_dead_letter(letter)

    letter.refresh_from_db()
    assert retried.outcome == OUT.CREATED
    assert retried.complaint is not None
    assert letter.resolved_at is not None
    assert letter.attempts == 2
    assert letter.complaint == retried.complaint
    inbound = InboundEmail.objects.get()
    assert (inbound.outcome, inbound.complaint) == (OUT.CREATED, retried.complaint)


def test_a_failed_retry_counts_the_attempt_and_keeps_the_letter(monkeypatch: Any) -> None:
    failed = ingest(corpus("46"))  # no From: a dead letter until someone looks at it
    assert failed.dead_letter is not None
    assert failed.dead_letter.error.startswith("NoSender:")

    retried = retry_dead_letter(failed.dead_letter)

    letter = DeadLetter.objects.get()
    assert retried.outcome == OUT.DEAD_LETTER
    assert (letter.attempts, letter.resolved_at) == (2, None)


def database_down(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("could not connect to server")


def test_an_unreachable_database_means_retry_later(monkeypatch: Any) -> None:
    monkeypatch.setattr(ingest_module, "_ingest", database_down)

    result = ingest(mail())

    assert result.outcome == RETRY_LATER
    assert not result.stored
    assert not DeadLetter.objects.exists()
    assert not InboundEmail.objects.exists()


# --- The command ----------------------------------------------------------------------------


def test_ingest_email_reads_bytes_from_stdin_and_prints_one_line() -> None:
    out = io.StringIO()
    call_command("ingest_email", stdin=io.BytesIO(corpus("14")), stdout=out)

    complaint = Complaint.objects.get()
    assert out.getvalue().strip() == f"created {complaint.tracking_code}"
    assert complaint.title == "代开各地增值税发票"

    out = io.StringIO()
    call_command("ingest_email", stdin=io.BytesIO(corpus("14")), stdout=out)
    assert out.getvalue().strip() == f"duplicate created {complaint.tracking_code}"


def test_ingest_email_exits_75_when_the_database_is_down(monkeypatch: Any) -> None:
    monkeypatch.setattr(ingest_module, "_ingest", database_down)
    with pytest.raises(CommandError) as raised:
        call_command("ingest_email", stdin=io.BytesIO(mail()), stdout=io.StringIO())
    assert raised.value.returncode == 75


def test_ingest_email_exits_0_for_ignored_and_dead_letters() -> None:
    out = io.StringIO()
    call_command("ingest_email", stdin=io.BytesIO(corpus("34")), stdout=out)
    call_command("ingest_email", stdin=io.BytesIO(corpus("31")), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ignored (auto_reply: Auto-Submitted")
    assert lines[1].startswith("dead_letter dead-letter#")


def test_a_reply_to_a_merged_complaint_goes_to_the_one_it_was_merged_into() -> None:
    kept = complaint_in(Complaint.Status.RECEIVED)
    duplicate = complaint_in(Complaint.Status.MERGED, merged_into=kept)

    result = ingest(mail(subject=f"Re: {duplicate.tracking_code}", body="还没修好。"))

    assert result.outcome == OUT.SUPPLEMENT
    assert result.complaint == kept


# --- The back-office ------------------------------------------------------------------------


def run_admin_action(action: str, letters: Any, admin_user: Any) -> list[str]:
    request = RequestFactory().post("/admin/intake/deadletter/")
    request.user = admin_user
    request.session = SessionBase()
    storage = FallbackStorage(request)
    request._messages = storage  # type: ignore[attr-defined]
    getattr(DeadLetterAdmin(DeadLetter, admin.site), action)(request, letters)
    return [str(message) for message in storage]


def test_the_admin_retries_and_sets_aside_dead_letters(monkeypatch: Any, admin_user: Any) -> None:
    def broken_submit(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug, fixed since")

    with monkeypatch.context() as patched:
        patched.setattr(ingest_module.services, "submit", broken_submit)
        flaky = ingest(mail()).dead_letter
    hopeless = ingest(corpus("46")).dead_letter  # no sender: fails on every retry
    assert flaky is not None
    assert hopeless is not None

    shown = run_admin_action("retry", DeadLetter.objects.all(), admin_user)

    flaky.refresh_from_db()
    hopeless.refresh_from_db()
    assert flaky.resolved_at is not None
    assert flaky.complaint is not None
    assert hopeless.resolved_at is None
    assert hopeless.attempts == 2
    assert len(shown) == 2  # one processed, one failed again

    run_admin_action("mark_resolved", DeadLetter.objects.filter(pk=hopeless.pk), admin_user)
    hopeless.refresh_from_db()
    assert hopeless.resolved_at is not None
    assert hopeless.complaint is None
