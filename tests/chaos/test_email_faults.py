"""E-mail intake when the poller dies mid-way, and mail that is not well-formed.

The real poller (``manage.py poll_imap``, the same ``poll_mailbox`` the Celery task runs)
polls a fake IMAP server (tests/fake_imap.py) in this process. The server checks, at
every ``UID STORE`` (the delete), that the message's outcome is already committed, and the
test SIGKILLs the poller while it is about to delete a message it has just committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from email.message import EmailMessage

from intake.email.parser import parse_message
from tests.chaos.stack import Stack, wait_for
from tests.fake_imap import PASSWORD, USER, Hangup, Mailbox, serving
from tests.processes import ROOT


def good_mail(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"居民{number} <chaos{number}@example.cn>"
    message["Subject"] = f"油烟扰民 {number}"
    message["Message-ID"] = f"<chaos-mail-{number}@example.cn>"
    message.set_content(f"第{number}封：楼下餐馆的油烟每天晚上都飘进家里。")
    return message.as_bytes()


HEAD = "From: 李四 <lisi@example.cn>\r\nMIME-Version: 1.0\r\n"
# Malformed, but with a sender and readable words: salvaged into a complaint, the defects
# recorded beside it (losing a citizen's mail over its MIME would be worse).
BROKEN_BOUNDARY = (
    HEAD + "Subject: boundary\r\nMessage-ID: <chaos-boundary@example.cn>\r\n"
    'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
    "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n井盖缺失\r\n--ABC--\r\n"
).encode()
BAD_BASE64 = (
    HEAD + "Subject: base64\r\nMessage-ID: <chaos-base64@example.cn>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "!!!!not*base64@@@\r\n"
).encode()
BAD_CHARSET = (
    HEAD.encode() + b"Subject: charset\r\nMessage-ID: <chaos-charset@example.cn>\r\n"
    b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xff\xfe\xfd noise\r\n"
)
# Nothing to make a complaint of: kept whole as dead letters.
EMPTY = b""
NO_FROM = b"Subject: nobody\r\nMessage-ID: <chaos-nofrom@example.cn>\r\n\r\nwho wrote this?\r\n"

SALVAGED = (BROKEN_BOUNDARY, BAD_BASE64, BAD_CHARSET)
DEAD = (EMPTY, NO_FROM)


def test_a_poller_killed_between_commit_and_delete_loses_and_doubles_nothing(
    sutong: Stack,
) -> None:
    emailed = "SELECT count(*) FROM complaints_complaint WHERE channel = 'email'"
    before_count = sutong.scalar(emailed)  # the demo data has e-mailed complaints too
    mailbox = Mailbox()
    good = [good_mail(n) for n in (1, 2, 3)]
    for raw in (*good, *SALVAGED, *DEAD):
        mailbox.add(raw)
    ids = {m.uid: parse_message(m.raw).message_id for m in mailbox.messages}
    at_store: list[tuple[str, bool]] = []  # (uid, outcome committed?) at every delete
    held, killed = threading.Event(), threading.Event()
    kill_at = str(mailbox.messages[1].uid)  # the second message: the first is flagged by then

    def committed(uid: str) -> bool:
        return bool(
            sutong.scalar(
                "SELECT count(*) FROM intake_inboundemail WHERE message_id = %s",
                (ids[int(uid)],),
            )
        )

    def before(command: str, args: str) -> None:
        if command != "UID STORE":
            return
        uid = args.split()[0]
        at_store.append((uid, committed(uid)))
        if uid == kill_at and not held.is_set():
            held.set()
            killed.wait(timeout=60)
            raise Hangup  # a dead client's delete never reaches the mailbox

    mailbox.before = before
    with serving(mailbox) as (_, port):
        env = sutong.env(
            INTAKE_IMAP_HOST="127.0.0.1",
            INTAKE_IMAP_PORT=str(port),
            INTAKE_IMAP_SECURITY="none",
            INTAKE_IMAP_USER=USER,
            INTAKE_IMAP_PASSWORD=PASSWORD,
            INTAKE_IMAP_LOCK_SECONDS="60",
        )
        poller = subprocess.Popen(
            [sys.executable, "manage.py", "poll_imap"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert held.wait(timeout=90), "the poller never came to delete the second message"
        os.kill(poller.pid, signal.SIGKILL)
        poller.wait(timeout=30)
        killed.set()
        assert poller.returncode == -signal.SIGKILL

        # Killed: message 1 flagged but not expunged, message 2 committed but not flagged.
        flagged = {str(m.uid) for m in mailbox.messages if "\\Deleted" in m.flags}
        assert flagged == {str(mailbox.messages[0].uid)}
        assert len(mailbox.messages) == len(ids)
        assert committed(kill_at)

        # The crashed poll's lock keeps a second poll out until it expires (here 60 s).
        def poll_again() -> str | None:
            done = subprocess.run(
                [sys.executable, "manage.py", "poll_imap"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            return None if "another poll" in done.stdout else done.stdout

        report = wait_for(poll_again, timeout=120, interval=5, what="a poll after the lock expired")
        assert "left 0" in report, report

    # Nothing was deleted before its outcome was committed, and everything was deleted.
    assert at_store
    assert all(ok for _, ok in at_store), at_store
    assert mailbox.messages == []
    assert mailbox.commands.count("EXPUNGE") == 1  # the killed poll never got to its own
    # Each message deleted once; only the delete the kill cut off was sent again.
    deletes = Counter(uid for uid, _ in at_store)
    assert deletes == {str(uid): 2 if str(uid) == kill_at else 1 for uid in ids}

    # One outcome per message: a complaint for each readable one, dead letters for the rest.
    for raw in (*good, *SALVAGED):
        message_id = parse_message(raw).message_id
        rows = sutong.query(
            "SELECT outcome, complaint_id FROM intake_inboundemail WHERE message_id = %s",
            (message_id,),
        )
        assert rows[0][0] == "created", (message_id, rows)
        assert (
            sutong.scalar(
                "SELECT count(*) FROM complaints_complaint WHERE external_ref = %s",
                (message_id,),
            )
            == 1
        )
    # Their defects are kept beside them, for staff who wonder about garbled text.
    for raw in (BROKEN_BOUNDARY, BAD_BASE64):
        defects = sutong.scalar(
            "SELECT channel_data->'defects' FROM complaints_complaint WHERE external_ref = %s",
            (parse_message(raw).message_id,),
        )
        assert defects, raw
    for raw in DEAD:
        message_id = parse_message(raw).message_id
        letters = sutong.query(
            "SELECT raw FROM intake_deadletter WHERE message_id = %s", (message_id,)
        )
        assert [bytes(letter) for (letter,) in letters] == [raw], message_id
        assert (
            sutong.scalar(
                "SELECT outcome FROM intake_inboundemail WHERE message_id = %s", (message_id,)
            )
            == "dead_letter"
        )
    assert sutong.scalar(emailed) == before_count + len(good) + len(SALVAGED)
