"""IMAP polling against a small fake IMAP4rev1 server running in a thread on 127.0.0.1
(tests/fake_imap.py, shared with the chaos tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError

from complaints.models import Complaint
from intake import tasks
from intake.email import imap
from intake.email import ingest as ingest_module
from intake.email.ingest import ingest
from intake.models import InboundEmail
from tests.fake_imap import PASSWORD, USER, FakeImapServer, Mailbox, serving


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def server(mailbox: Mailbox, settings: Any, tmp_path: Any, db: None) -> Iterator[FakeImapServer]:
    with serving(mailbox) as (fake, port):
        settings.MEDIA_ROOT = tmp_path
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        settings.INTAKE_IMAP_HOST = "127.0.0.1"
        settings.INTAKE_IMAP_PORT = port
        settings.INTAKE_IMAP_SECURITY = "none"
        settings.INTAKE_IMAP_USER = USER
        settings.INTAKE_IMAP_PASSWORD = PASSWORD
        settings.INTAKE_IMAP_TIMEOUT = 10
        yield fake


def mail(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"居民{number} <resident{number}@example.cn>"
    message["Subject"] = f"投诉 {number}"
    message["Message-ID"] = f"<imap-{number}@example.cn>"
    message.set_content(f"第{number}封投诉：楼下餐馆油烟扰民。")
    return message.as_bytes()


def test_a_poll_takes_in_every_message_and_then_deletes_it(
    server: FakeImapServer, mailbox: Mailbox
) -> None:
    mailbox.add(mail(1))
    mailbox.add(mail(2))

    report = imap.poll_mailbox()

    assert (report.fetched, report.removed, report.left, report.error) == (2, 2, 0, "")
    assert report.outcomes == {"created": 2}
    assert sorted(Complaint.objects.values_list("title", flat=True)) == ["投诉 1", "投诉 2"]
    assert mailbox.messages == []
    # Deleted only after each message's outcome was committed, then expunged once.
    assert mailbox.commands.count("UID STORE") == 2
    assert mailbox.commands.index("EXPUNGE") > mailbox.commands.index("UID STORE")
    # The complaint counts from when the mail server received the message.
    complaint = Complaint.objects.get(title="投诉 1")
    assert complaint.received_at.isoformat() == "2026-07-17T02:44:25+00:00"


def test_when_the_database_is_down_the_messages_stay(
    server: FakeImapServer, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox.add(mail(1))
    mailbox.add(mail(2))

    def database_down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(ingest_module, "_ingest", database_down)

    report = imap.poll_mailbox()

    assert report.outcomes == {"retry_later": 1}  # it stops at the first: the rest waits
    assert (report.removed, report.left) == (0, 2)
    assert [m.flags for m in mailbox.messages] == [set(), set()]
    assert "EXPUNGE" not in mailbox.commands
    assert not Complaint.objects.exists()

    monkeypatch.undo()
    assert imap.poll_mailbox().removed == 2
    assert Complaint.objects.count() == 2
    assert mailbox.messages == []


def test_a_crash_between_commit_and_delete_is_harmless(
    server: FakeImapServer, mailbox: Mailbox
) -> None:
    # An earlier poll committed the message and died before deleting it.
    first = ingest(mail(1))
    mailbox.add(mail(1))

    report = imap.poll_mailbox()

    assert report.removed == 1
    assert mailbox.messages == []
    assert Complaint.objects.get() == first.complaint
    assert InboundEmail.objects.count() == 1


def test_processed_messages_can_be_moved_to_a_folder(
    server: FakeImapServer, mailbox: Mailbox, settings: Any
) -> None:
    settings.INTAKE_IMAP_PROCESSED_FOLDER = "已处理"
    mailbox.add(mail(1))

    imap.poll_mailbox()

    assert mailbox.messages == []
    assert mailbox.copied == {imap.encode_mailbox("已处理").strip('"'): [mail(1)]}


def test_a_running_poll_keeps_a_second_one_out(server: FakeImapServer, mailbox: Mailbox) -> None:
    mailbox.add(mail(1))
    config = imap.ImapSettings.from_settings()
    assert config is not None
    cache.add(imap.lock_key(config), "another poll", timeout=60)

    report = imap.poll_mailbox()

    assert report.locked
    assert report.fetched == 0
    assert len(mailbox.messages) == 1
    assert mailbox.commands == []
    cache.delete(imap.lock_key(config))
    assert imap.poll_mailbox().removed == 1


def test_wrong_credentials_are_reported_and_nothing_is_touched(
    server: FakeImapServer, mailbox: Mailbox, settings: Any
) -> None:
    settings.INTAKE_IMAP_PASSWORD = "wrong"
    mailbox.add(mail(1))

    report = imap.poll_mailbox()

    assert "AUTHENTICATIONFAILED" in report.error
    assert len(mailbox.messages) == 1
    assert not Complaint.objects.exists()


def test_the_task_does_nothing_without_a_mailbox(settings: Any) -> None:
    settings.INTAKE_IMAP_HOST = ""
    assert tasks.poll_mailbox() == {
        "configured": False,
        "locked": False,
        "fetched": 0,
        "removed": 0,
        "left": 0,
        "outcomes": {},
        "error": "",
    }


@pytest.mark.parametrize(
    ("name", "encoded"),
    [("INBOX", '"INBOX"'), ("已处理", '"&XfJZBHQG-"'), ('A&B \\ "q"', '"A&-B \\\\ \\"q\\""')],
)
def test_mailbox_names_are_modified_utf7_and_quoted(name: str, encoded: str) -> None:
    assert imap.encode_mailbox(name) == encoded
    # Cross-check against the standard UTF-7 codec: "&" for "+", "," for "/".
    inner = encoded[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    standard = re.sub(r"&([^-]*)-", lambda m: "+" + m.group(1).replace(",", "/") + "-", inner)
    assert standard.replace("+-", "&").encode().decode("utf-7") == name
