"""Every message of the shared mail corpus, parsed and taken in as the MANIFEST expects.

The corpus lives beside the project (``../shared/mail-corpus``) and is never copied into
it; without it these tests skip. The expectations below were written by reading
MANIFEST.md (it is not parsed here). Where the manifest allows two outcomes, the table
says which one Sutong chose and why:

- 02 alone creates a complaint; after 01 it is added to 01's complaint (References) —
  that sequence is tested in test_email_ingest.py.
- 05, 07–11 reference threads Sutong has not seen (07's parent, 06, is an ignored recall),
  so each creates a complaint.
- 06 (Outlook recall notice) is ignored, recognised by its "撤回:" subject.
- 14 (spam advert) creates a complaint: intake does not judge content; dispatchers reject.
- 16's sender ``c@y`` is no address one can write to: the complaint waits for a way to
  reply (needs_info). 21 has no text, only a file: it waits for a description.
- 18, 31, 46 have no sender at all: dead letters, kept for an administrator.
- 19, 45, 47, 48 carry HTML bytes named .doc / a .zip; the parser keeps them (counted
  below), intake's file check refuses them, and the complaint notes them as dropped.
  32's forwarded message (.eml) is refused the same way (intake accepts no message files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from complaints.models import Complaint
from intake.email.automail import Classification
from intake.email.ingest import ingest
from intake.email.parser import parse_message
from intake.models import InboundEmail

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "mail-corpus"

C = Classification
CREATED, IGNORED, DEAD = (
    InboundEmail.Outcome.CREATED,
    InboundEmail.Outcome.IGNORED,
    InboundEmail.Outcome.DEAD_LETTER,
)


@dataclass(frozen=True)
class Expected:
    outcome: str  # what ingest records for the message on its own
    kind: str = C.NORMAL  # the parser's classification
    subject: str | None = None
    sender: str | None = None  # the address replies go to
    name: str | None = None
    body: tuple[str, ...] = ()  # excerpts the readable body contains
    starts: str | None = None  # how the body begins (whitespace collapsed)
    attachments: tuple[str, ...] = ()  # names of the files the sender attached
    inline: tuple[str, ...] = ()  # names of the images the body shows (cid:)
    stored: int | None = None  # files the complaint keeps (after intake's file checks)
    waits: bool = False  # the complaint is accepted into needs_info


TABLE: dict[str, Expected] = {
    "01": Expected(
        CREATED,
        subject="eros性能问题",
        sender="353779207@qq.com",
        name="ZHOU",
        starts="Dear sir or madam, 很感谢华为和贵团队将erofs开源出来",
        stored=0,
    ),
    "02": Expected(
        CREATED,
        subject="Re: eros性能问题",
        sender="gaoxiang25@huawei.com",
        body=("另外，我们建议的随机读pattern",),
        stored=0,
    ),
    "03": Expected(
        CREATED,
        subject="您好，我在2024年看到了社区的开源项目",
        sender="1156140554@qq.com",  # from Reply-To; From is the list's DMARC rewrite
        name="孟祥宇",
        starts="您好，感谢您百忙之中阅读这份邮件",
        stored=0,
    ),
    "04": Expected(
        CREATED,
        subject="[erofs-utils] Report two resource leak issues and submit patches",
        sender="liujinbao1@xiaomi.com",
        name="刘金宝",
        starts="Hello, There are two resource leak problems",
        stored=0,
    ),
    "05": Expected(
        CREATED,
        subject="答复: [PATCH v2] erofs: relaxed temporary buffers allocation on readahead",
        sender="guochunhai@vivo.com",
        body=("-----邮件原件-----", "发件人: Gao Xiang"),
        stored=0,
    ),
    "06": Expected(
        IGNORED,
        C.RECALL,
        subject="撤回: [PATCH 2/2] erofs-utils: support 128-bit filesystem UUID",
        body=("将撤回邮件",),
    ),
    "07": Expected(
        CREATED,
        subject="Re: 撤回: [PATCH 2/2] erofs-utils: support 128-bit filesystem UUID",
        body=("将撤回邮件", "Please ignore this email"),
        stored=0,
    ),
    "08": Expected(
        CREATED,
        subject="Re:Re: How to storage SEL in firmware chip",
        sender="dzg0528@163.com",
        name="杜正高",
        starts="Hi Jason,",
        inline=("图片.png",),
        stored=1,
    ),
    "09": Expected(
        CREATED,
        subject="[USRP-users] 答复: rfnoc error at building graph and setting sample rate",
        starts="Btw, is it possible to set up rx_rate and tx_rate separately",
        body=("USRP-users mailing list",),  # the list footer part is body text
        stored=0,
    ),
    "10": Expected(
        CREATED,
        subject="回覆: [PATCH] Add eSPI device driver (flash channel)",
        sender="chiawei_wang@aspeedtech.com",
        starts="Most of the implementation originates from Aspeed.",
        stored=0,
    ),
    "11": Expected(
        CREATED,
        subject="[PATCH] dt-bindings: arm: aspeed: add Inventec starscream-bmc",
        sender="Chen.PJ@inventec.com",
        name="Chen.PJ 陳柏任 TAO",
        stored=0,
    ),
    "12": Expected(IGNORED, C.AUTO_REPLY, body=("这是来自QQ邮箱的假期自动回复邮件。",)),
    "13": Expected(
        IGNORED,
        C.BOUNCE,
        subject="来自postmaster@aliyun.com的退信",
        body=("很抱歉您发送的邮件被退回", "eguan@linux.alibaba.com"),
        attachments=("无主题.eml",),
    ),
    "14": Expected(
        CREATED,
        subject="代开各地增值税发票",
        sender="baoguan@hotmail.com",
        name="张先生",
        starts="你好！我公司可代开各类增值税发票",
        stored=0,
    ),
    "15": Expected(
        CREATED,
        subject="讀取: ??排??生?a",
        sender="some.address@some.domain",
        name="梁祐晟",
        body=("bodytext",),
        stored=0,
    ),
    "16": Expected(
        CREATED,
        subject="養樂多線上訂購",
        sender="c@y",
        name="養樂多",
        body=("body",),
        stored=0,
        waits=True,
    ),
    "17": Expected(IGNORED, C.BOUNCE, body=("次の受信者またはグループへの配信に失敗しました:",)),
    "18": Expected(DEAD, starts="顏是家訓 北齊 顏之推"),
    "19": Expected(
        CREATED,
        subject="Malformed test",
        body=("Text part",),
        attachments=("管理.doc",),
        stored=0,
    ),
    "20": Expected(CREATED, subject="まみむめも", body=("すみません。",), stored=0),
    "21": Expected(
        CREATED,
        subject="まみむめも" * 10,
        attachments=("かきくけこ" * 5 + ".txt",),
        stored=1,
        waits=True,
    ),
    "22": Expected(
        CREATED,
        subject="Die Hasen und die Frösche (Microsoft Outlook 00)",
        body=("Die Hasen klagten einst über",),
        stored=0,
    ),
    "23": Expected(
        CREATED,
        subject="Český test",
        body=("Tohle je test českých písmen odeslaných z gmailu.",),
        stored=0,
    ),
    "24": Expected(
        CREATED,
        subject="Fwd: Cyklozaměstnavatel - změna vyhodnocení",
        starts="-------- Forwarded Message --------",
        stored=0,
    ),
    "25": Expected(
        CREATED, subject="GA.comô has a lead for you", body=("Body Text - not important",), stored=0
    ),
    "26": Expected(
        CREATED,
        subject="Säying Hello",
        sender="jdöe@mächine.example",
        name="Jöhn Doe",
        body=("body",),
        stored=0,
    ),
    "27": Expected(
        CREATED,
        subject="Die Hasen und die Frösche",
        body=("Die Hasen klagten einst über",),
        stored=0,
    ),
    "28": Expected(
        CREATED,
        subject="The Hare and the Tortoise",
        attachments=("greenball.png", "blueball.png"),
        stored=2,
    ),
    "29": Expected(
        CREATED,
        subject="25 HTML + embedded image",
        body=("Search for höhö",),
        inline=("kigaaldcbanejcbi.png",),
        stored=1,
    ),
    "30": Expected(
        CREATED,
        subject="30 plaintext + (HTML + embedded image) + attachment",
        body=("Search for hähä",),
        attachments=("attach2.png",),
        inline=("kigaaldcbanejcbi.png",),
        stored=2,
    ),
    "31": Expected(
        DEAD,
        subject="test message via curl - extra content-type (_001_)",
        body=("Test - body content",),
        attachments=("test.pdf",),
    ),
    "32": Expected(
        CREATED,
        subject="testing",
        body=("This is the first part.",),
        attachments=("ForwardedMessage.eml",),
        stored=1,  # the forwarded message is kept whole, as message/rfc822
    ),
    "33": Expected(
        CREATED,
        subject="Email with 10 attachments and only plain text content part",
        attachments=(
            "789AA8B6-3C8F-4E16-9E55-3CD173C3AE3A.txt",
            "FC034994-58D9-480F-A28C-3B44C588C44F.txt",
            "608B96ED-C0D6-4A03-B24E-E082FC507B88.txt",
            "BDF0169F-8921-4E70-9241-0692C116EEC4.txt",
            "7ADBF758-DC3B-4413-B0A2-82250147666C.txt",
            "8343AC09-0026-4ECB-A81C-70E01705D52E.txt",
            "6A347E5E-9F48-46B9-B7A8-1A5062553F86.txt",
            "1B2491C4-4FAF-4E47-9B6C-43E47F9594F3.txt",
            "4BA92D8A-75A6-41A4-9A90-82AC9324077E.txt",
            "63C34BC2-FBC9-4C47-88C7-78127DE61343.txt",
        ),
        stored=10,
    ),
    "34": Expected(IGNORED, C.AUTO_REPLY),
    "35": Expected(IGNORED, C.AUTO_REPLY, subject="Automatic reply: Nyaan"),
    "36": Expected(IGNORED, C.AUTO_REPLY, subject="Auto reply: Nyaan"),
    "37": Expected(IGNORED, C.AUTO_REPLY),
    "38": Expected(IGNORED, C.AUTO_REPLY),
    "39": Expected(IGNORED, C.BOUNCE),
    "40": Expected(IGNORED, C.BOUNCE),
    "41": Expected(IGNORED, C.BOUNCE),
    "42": Expected(IGNORED, C.READ_RECEIPT),
    "43": Expected(IGNORED, C.BOUNCE, body=("I'm  multipart message without boundary",)),
    "44": Expected(CREATED, subject="Test", body=("Some body",), stored=0),
    "45": Expected(
        CREATED,
        subject="Attachment",
        body=("A text section",),
        attachments=("some.doc",),
        stored=0,
    ),
    "46": Expected(
        DEAD,
        subject="Each part contains 1 extra base64 character (4*n + 1)",
        body=("Hello World!",),
    ),
    "47": Expected(
        CREATED,
        subject="Attachment",
        body=("A text section",),
        attachments=("foo_9E5D72.zip",),
        stored=0,
    ),
    "48": Expected(
        CREATED,
        subject="Attachment",
        body=("A text section",),
        attachments=("foo_9E5D72.zip",),
        stored=0,
    ),
    "49": Expected(
        CREATED,
        subject="Testing message parsing",
        sender="bob@marley.com",
        name="Bob Marley",
        starts="Hello, I'm just testing message parsing",
        stored=0,
    ),
}

# Known failed recipients of the bounces.
FAILED_RECIPIENTS = {
    "39": "not_existing@znuny.com",
    "40": "nekochan@qq.example.cn",
    "41": "awfawfawfawfawfaw@someserverhere.com",
}


def corpus_files() -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, id="corpus-absent")]
    return [pytest.param(path, id=path.name[:2]) for path in sorted(CORPUS.glob("*.eml"))]


def expected_for(path: Path | None) -> tuple[bytes, Expected]:
    if path is None:
        pytest.skip(f"mail corpus not found at {CORPUS}")
    assert path.name[:2] in TABLE, f"no expectation written for {path.name}"
    return path.read_bytes(), TABLE[path.name[:2]]


def squeeze(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("path", corpus_files())
def test_parse(path: Path | None) -> None:
    raw, expected = expected_for(path)
    parsed = parse_message(raw)

    assert parsed.classification == expected.kind, parsed.classification_reason
    if expected.subject is not None:
        assert parsed.subject == expected.subject
    if expected.sender is not None:
        assert parsed.sender_address == expected.sender
    if expected.name is not None:
        assert parsed.sender_name == expected.name
    for excerpt in expected.body:
        assert excerpt in parsed.text
    if expected.starts is not None:
        assert squeeze(parsed.text).startswith(expected.starts)
    if expected.kind == C.NORMAL or expected.attachments:
        # (The manifest lists files for people's mail; a bounce's returned copy is not one.)
        attached = tuple(a.name for a in parsed.attachments if not a.inline)
        assert attached == expected.attachments
        assert tuple(a.name for a in parsed.attachments if a.inline) == expected.inline
    assert "\ufffd" not in parsed.subject + parsed.sender_name
    assert parsed.message_id.startswith("<")
    assert parsed.message_id.endswith(">")
    if path is not None and path.name[:2] in FAILED_RECIPIENTS:
        assert FAILED_RECIPIENTS[path.name[:2]] in parsed.failed_recipients


@pytest.mark.parametrize("path", corpus_files())
def test_ingest(path: Path | None, db: None, settings: Any, tmp_path: Path) -> None:
    """Each message on its own, in an empty database (so 45/47/48 never meet)."""
    settings.MEDIA_ROOT = tmp_path
    raw, expected = expected_for(path)

    result = ingest(raw)

    assert result.outcome == expected.outcome, result.error
    assert not result.duplicate
    assert InboundEmail.objects.filter(outcome=expected.outcome).count() == 1
    if expected.outcome != CREATED:
        assert not Complaint.objects.exists()
        assert (result.dead_letter is not None) == (expected.outcome == DEAD)
        return
    complaint = result.complaint
    assert complaint is not None
    assert Complaint.objects.get() == complaint
    assert complaint.channel == Complaint.Channel.EMAIL
    assert complaint.external_ref == parse_message(raw).message_id
    assert complaint.attachments.count() == expected.stored
    assert (complaint.status == Complaint.Status.NEEDS_INFO) == expected.waits
    if expected.sender is not None and not expected.waits:
        assert complaint.petitioner is not None
        assert complaint.petitioner.email.lower() == expected.sender.lower()
    refused = len(expected.attachments) + len(expected.inline) - (expected.stored or 0)
    dropped = complaint.channel_data.get("dropped_attachments", [])
    assert len(dropped) == refused
