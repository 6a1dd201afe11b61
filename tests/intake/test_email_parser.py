"""The e-mail parser on generated messages: charsets, headers, structure, automatic mail.

The real-world evidence is the corpus (test_email_corpus.py); these cases pin down the
rules one at a time, including inputs the corpus lacks (CR/LF in headers, huge bodies,
garbage bytes).
"""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from intake.email.automail import Classification
from intake.email.charsets import decode_bytes, decode_header_value
from intake.email.htmltext import html_to_text
from intake.email.parser import find_tracking_code, parse_message
from intake.email.replies import clean_subject, strip_quoted_reply


def message(headers: str, body: bytes = b"Hello\n") -> bytes:
    """A raw message from header lines (``\\n``-separated) and a body."""
    return headers.strip("\n").encode("utf-8", "surrogateescape") + b"\n\n" + body


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


# --- Charsets ---------------------------------------------------------------------------


class TestDecodeBytes:
    def test_a_gb2312_label_on_utf8_bytes_is_read_as_utf8(self) -> None:
        assert decode_bytes("你好，我公司可代开发票".encode(), "gb2312") == "你好，我公司可代开发票"

    def test_gbk_text_needing_more_than_gb2312_is_read_with_gb18030(self) -> None:
        # 祐 and 慶 are not in GB2312; mailers label such text gb2312 anyway.
        assert decode_bytes("梁祐晟 慶".encode("gbk"), "gb2312") == "梁祐晟 慶"

    def test_short_gbk_that_is_also_valid_utf8_keeps_its_declared_charset(self) -> None:
        # CD BC C6 AC is 图片 in GBK and, by accident, two valid UTF-8 characters.
        assert decode_bytes("图片".encode("gbk"), "gbk") == "图片"

    @pytest.mark.parametrize("label", ["x-gbk", "cp936", "eucgb2312_cn", "GB2312", '"gbk"'])
    def test_gb_aliases(self, label: str) -> None:
        assert decode_bytes("投诉内容".encode("gb18030"), label) == "投诉内容"

    def test_big5_under_a_wrong_label_is_recognised(self) -> None:
        text = "夫九州之人，言語不同，生民已來，固常然矣。"
        assert decode_bytes(text.encode("big5"), "us-ascii") == text

    def test_big5_hkscs_characters(self) -> None:
        assert decode_bytes("香港特區".encode("big5hkscs"), "big5") == "香港特區"

    def test_unknown_label_falls_back(self) -> None:
        assert decode_bytes("Grüße".encode("latin-1"), "fakescii") == "Grüße"
        assert decode_bytes(b"A text section", "fakescii") == "A text section"

    def test_seven_bit_encodings_are_decoded_by_their_label(self) -> None:
        assert decode_bytes("すみません。".encode("iso-2022-jp"), "iso-2022-jp") == "すみません。"
        assert decode_bytes("Frösche".encode("utf-7"), "unicode-1-1-utf-7") == "Frösche"

    def test_a_cut_multibyte_character_does_not_turn_utf8_into_mojibake(self) -> None:
        data = "我公司可代开各类增值税发票，点数优惠".encode()[:-1]
        assert decode_bytes(data, "gb2312").startswith("我公司可代开各类增值税发票")

    def test_never_raises(self) -> None:
        assert isinstance(decode_bytes(bytes(range(256)), "utf-8"), str)
        assert decode_bytes(b"", "gbk") == ""


class TestHeaders:
    def test_adjacent_encoded_words_join_without_the_space_between(self) -> None:
        value = "Re: =?gbk?B?s7e72A==?= =?gbk?Q?=3A?= [PATCH 2/2]"
        assert decode_header_value(value) == "Re: 撤回: [PATCH 2/2]"

    def test_a_character_split_across_two_words_is_rejoined(self) -> None:
        raw = "投诉".encode()
        first, second = base64.b64encode(raw[:4]).decode(), base64.b64encode(raw[4:]).decode()
        assert decode_header_value(f"=?utf-8?B?{first}?=\n =?utf-8?B?{second}?=") == "投诉"

    def test_encoded_words_inside_quotes_and_without_spaces(self) -> None:
        assert decode_header_value(f'"{b_word("无主题.eml")}"') == '"无主题.eml"'
        assert decode_header_value(f"Re:{b_word('投诉')}") == "Re:投诉"

    def test_raw_8bit_bytes_use_the_fallback_chain(self) -> None:
        raw = "養樂多".encode("big5").decode("ascii", "surrogateescape")
        assert decode_header_value(raw, hints=["big5"]) == "養樂多"

    def test_line_breaks_in_a_subject_become_spaces(self) -> None:
        injected = b_word("投诉\r\nBcc: victim@example.com")
        parsed = parse_message(message(f"From: a@example.com\nSubject: {injected}"))
        assert "\n" not in parsed.subject
        assert "\r" not in parsed.subject
        assert parsed.subject == "投诉 Bcc: victim@example.com"

    def test_rfc2231_continuations_with_a_charset(self) -> None:
        raw = (
            b"From: a@example.com\nSubject: x\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b"\n\n'
            b"--b\nContent-Type: text/plain\n\nsee attached\n"
            b"--b\nContent-Type: text/plain\nContent-Disposition: attachment;\n"
            b" filename*0*=utf-8''%E6%8A%95%E8%AF%89;\n filename*1*=%E4%B9%A6.txt\n\n"
            b"content\n--b--\n"
        )
        assert [a.name for a in parse_message(raw).attachments] == ["投诉书.txt"]


# --- Senders, ids, dates ----------------------------------------------------------------


class TestSender:
    def test_reply_to_naming_another_person_wins(self) -> None:
        parsed = parse_message(
            message("From: Office <office@example.com>\nReply-To: 张伟 <zw@example.cn>")
        )
        assert (parsed.sender_name, parsed.sender_address) == ("张伟", "zw@example.cn")
        assert parsed.from_address == "office@example.com"

    def test_reply_to_the_list_itself_is_not_a_person(self) -> None:
        parsed = parse_message(
            message(
                "From: 张伟 <zw@example.cn>\nReply-To: list@lists.example.org\n"
                "List-Post: <mailto:list@lists.example.org>"
            )
        )
        assert parsed.sender_address == "zw@example.cn"

    def test_reply_to_naming_the_list_and_the_author_picks_the_author(self) -> None:
        parsed = parse_message(
            message(
                "From: 张伟 via Residents <residents@lists.example.org>\n"
                "Reply-To: residents@lists.example.org, 张伟 <zw@example.cn>\n"
                "List-Post: <mailto:residents@lists.example.org>"
            )
        )
        assert (parsed.sender_name, parsed.sender_address) == ("张伟", "zw@example.cn")

    def test_a_list_rewrite_without_reply_to_keeps_the_name_without_via(self) -> None:
        parsed = parse_message(message("From: 张伟 via Residents <residents@lists.example.org>"))
        assert (parsed.sender_name, parsed.sender_address) == (
            "张伟",
            "residents@lists.example.org",
        )

    def test_display_names_with_commas_and_encoded_words(self) -> None:
        parsed = parse_message(
            message(f'From: "Chang, Kaixin" <k@example.de>, {b_word("乙")} <b@x.cn>')
        )
        assert (parsed.sender_name, parsed.sender_address) == ("Chang, Kaixin", "k@example.de")

    def test_no_from_uses_the_envelope_sender(self) -> None:
        parsed = parse_message(message("Return-Path: <envelope@example.com>\nSubject: x"))
        assert parsed.sender_address == "envelope@example.com"

    def test_no_sender_at_all(self) -> None:
        assert parse_message(message("Subject: x")).sender_address == ""


class TestIdsAndDates:
    def test_message_id_is_normalised_with_brackets(self) -> None:
        parsed = parse_message(message("Message-ID:  abc@example.com\nFrom: a@example.com"))
        assert parsed.message_id == "<abc@example.com>"
        assert not parsed.message_id_synthesised

    def test_a_missing_message_id_is_synthesised_from_the_bytes(self) -> None:
        first = parse_message(message("From: a@example.com", b"one"))
        assert first.message_id_synthesised
        assert first.message_id == parse_message(message("From: a@example.com", b"one")).message_id
        assert first.message_id != parse_message(message("From: a@example.com", b"two")).message_id

    def test_threading_headers(self) -> None:
        parsed = parse_message(
            message("From: a@x.cn\nIn-Reply-To: <b@x> (from b)\nReferences: <a@x>\n <b@x>")
        )
        assert parsed.in_reply_to == "<b@x>"
        assert parsed.references == ("<a@x>", "<b@x>")
        assert parsed.thread_ids == ("<b@x>", "<a@x>")

    def test_dates(self) -> None:
        parsed = parse_message(message("From: a@x.cn\nDate: Thu, 18 Jul 2019 10:47:44 +0800"))
        assert parsed.date is not None
        assert parsed.date.isoformat() == "2019-07-18T02:47:44+00:00"
        unknown_zone = message("From: a@x.cn\nDate: Tue, 12 Oct 2010 16:21:05 H0500")
        assert parse_message(unknown_zone).date is None
        assert parse_message(message("From: a@x.cn\nDate: yesterday")).date is None


# --- Structure ----------------------------------------------------------------------------


class TestBodies:
    def test_plain_text_is_preferred_to_html(self) -> None:
        outer = MIMEMultipart("alternative")
        outer["From"] = "a@example.com"
        outer.attach(MIMEText("plain words", "plain", "utf-8"))
        outer.attach(MIMEText("<p>html words</p>", "html", "utf-8"))
        parsed = parse_message(outer.as_bytes())
        assert parsed.text == "plain words"
        assert "html words" in parsed.html

    def test_html_only_is_made_readable(self) -> None:
        html = (
            "<html><head><style>p {color: red}</style><title>t</title></head><body>"
            "<script>alert(1)</script><p>第一段&nbsp;文字</p><p>第二段<br>换行</p>"
            "<ul><li>一</li><li>二</li></ul></body></html>"
        )
        text = html_to_text(html)
        assert "alert" not in text
        assert "color" not in text
        assert text == "第一段 文字\n\n第二段\n换行\n\n- 一\n- 二"

    def test_attachments_and_inline_images(self) -> None:
        mail = EmailMessage()
        mail["From"] = "a@example.com"
        mail.set_content("body")
        mail.add_alternative('<p>see <img src="cid:pic1"></p>', subtype="html")
        html_part = mail.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        html_part.add_related(b"\x89PNG\r\n\x1a\nfake", "image", "png", cid="<pic1>")
        mail.add_attachment(b"%PDF-1.4 fake", "application", "pdf", filename="证据.pdf")
        parsed = parse_message(mail.as_bytes())
        assert parsed.text == "body"
        shown = [(a.name, a.content_type, a.inline) for a in parsed.attachments]
        assert ("证据.pdf", "application/pdf", False) in shown
        inline = [a for a in parsed.attachments if a.inline]
        assert len(inline) == 1
        assert inline[0].content_id == "pic1"

    def test_a_forwarded_message_is_kept_as_an_eml_attachment(self) -> None:
        inner = EmailMessage()
        inner["Subject"] = "原始投诉"
        inner["From"] = "b@example.com"
        inner.set_content("forwarded body")
        outer = EmailMessage()
        outer["From"] = "a@example.com"
        outer.set_content("see below")
        outer.add_attachment(inner)
        parsed = parse_message(outer.as_bytes())
        assert parsed.text == "see below"
        [forwarded] = parsed.attachments
        assert forwarded.name == "原始投诉.eml"
        assert forwarded.content_type == "message/rfc822"
        assert b"forwarded body" in forwarded.data

    def test_missing_boundary_and_unknown_encoding_do_not_raise(self) -> None:
        no_boundary = message("From: a@x.cn\nContent-Type: multipart/mixed", b"just text\n")
        assert parse_message(no_boundary).text == "just text"
        odd = message(
            'From: a@x.cn\nContent-Type: multipart/mixed; boundary="b"',
            b"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf; "
            b'name="a.pdf"\nContent-Transfer-Encoding: base9000\n\n%PDF-raw\n--b--\n',
        )
        parsed = parse_message(odd)
        assert parsed.attachments[0].data.startswith(b"%PDF-raw")
        assert any("base9000" in defect for defect in parsed.defects)

    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"\x00\xff\xfe garbage \r\n\r\n\x80",
            b"From: \xff\xfe\nSubject: =?x?B?!!!?=\nContent-Type: text/plain; charset=\n\n\xff",
            b"Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/html",
            b"From: a@x.cn\nContent-Transfer-Encoding: base64\n\n" + b"@@@@\n" * 10,
        ],
    )
    def test_never_raises_on_garbage(self, raw: bytes) -> None:
        parsed = parse_message(raw)
        assert parsed.message_id.startswith("<")
        assert parsed.message_id.endswith(">")

    @pytest.mark.parametrize("levels", [45, 3000])
    def test_absurdly_deep_nesting_does_not_raise(self, levels: int) -> None:
        opening = b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
            for i in range(levels)
        )
        closing = b"".join(b"--b%d--\n" % i for i in reversed(range(levels)))
        raw = b"From: a@x.cn\nSubject: deep\n" + opening + b"\ninner\n" + closing
        parsed = parse_message(raw)
        assert any("nested too deeply" in defect for defect in parsed.defects)

    def test_a_huge_body_is_kept_whole(self) -> None:
        line = "小区门口的路灯坏了两周，晚上很不安全。\n"
        body = base64.encodebytes((line * 100_000).encode())  # ~6 MB of text, base64
        raw = message(
            "From: a@x.cn\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: base64",
            body,
        )
        parsed = parse_message(raw)
        assert parsed.text.count("路灯") == 100_000


# --- Automatic mail -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Auto-Submitted: auto-replied", Classification.AUTO_REPLY),
        ("Auto-Submitted: no", Classification.NORMAL),
        ("Precedence: bulk", Classification.AUTO_REPLY),
        ("Precedence: list", Classification.NORMAL),
        ("X-Auto-Response-Suppress: All", Classification.AUTO_REPLY),
        ("X-QQ-AUTO-REPLY: true", Classification.AUTO_REPLY),
        ("X-Apple-Action: VACATION", Classification.AUTO_REPLY),
        ("X-Autoreply: yes", Classification.AUTO_REPLY),
        ("Subject: 自动回复：您的来信", Classification.AUTO_REPLY),
        ("Subject: Out of Office: away", Classification.AUTO_REPLY),
        ("Subject: Out of office hours noise from the bar", Classification.NORMAL),
        ("Subject: Undelivered parcel, courier lost it", Classification.NORMAL),
        ("Subject: Undeliverable: your message", Classification.BOUNCE),
        ("Subject: 退信：关于路灯", Classification.BOUNCE),
        ("X-Failed-Recipients: x@example.com", Classification.BOUNCE),
        ("Subject: 撤回: 关于路灯", Classification.RECALL),
        ("Subject: Recall: street light", Classification.RECALL),
        ("Subject: Re: 撤回: 关于路灯", Classification.NORMAL),
    ],
)
def test_classification(headers: str, expected: str) -> None:
    parsed = parse_message(message(f"From: 张伟 <zw@example.cn>\n{headers}"))
    assert parsed.classification == expected
    assert bool(parsed.classification_reason) == (expected != Classification.NORMAL)


def test_reports_and_daemons() -> None:
    for report, expected in (
        ("delivery-status", Classification.BOUNCE),
        ("disposition-notification", Classification.READ_RECEIPT),
    ):
        raw = message(
            f'From: a@x.cn\nContent-Type: multipart/report; report-type={report}; boundary="r"',
            b"--r\nContent-Type: text/plain\n\nreport\n--r--\n",
        )
        assert parse_message(raw).classification == expected
    daemon = parse_message(message("From: MAILER-DAEMON@example.com\nSubject: hi"))
    assert daemon.classification == Classification.BOUNCE
    empty_path = parse_message(message("Return-Path: <>\nFrom: postmaster@example.com"))
    assert empty_path.classification == Classification.BOUNCE


# --- Text for people ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        ("Re: 关于TS-2026-7KQ3M9XA的补充", "TS-2026-7KQ3M9XA"),
        ("回复：【ts 2026 7kq3m9xa】", "TS-2026-7KQ3M9XA"),
        ("TS-2026-7KQ3M9XO", "TS-2026-7KQ3M9X0"),  # O read as 0
        ("路灯坏了", None),
        ("XTS-2026-7KQ3M9XAB", None),
    ],
)
def test_tracking_code_in_subject(subject: str, code: str | None) -> None:
    assert find_tracking_code(subject) == code


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("Re: 回复: Fwd: 路灯坏了", "路灯坏了"),
        ("Re:Re: How to storage SEL", "How to storage SEL"),
        ("[USRP-users] 答复: rfnoc error", "[USRP-users] rfnoc error"),
        ("回覆: [PATCH] Add driver", "[PATCH] Add driver"),
        ("转发：投诉", "投诉"),
        ("Re:", "Re:"),
        ("撤回: x", "撤回: x"),
    ],
)
def test_clean_subject(subject: str, title: str) -> None:
    assert clean_subject(subject) == title


class TestStripQuotedReply:
    def test_outlook_original_message(self) -> None:
        text = "补充一下照片。\n\n-----Original Message-----\nFrom: 12345\nSent: today\n\nold"
        assert strip_quoted_reply(text) == "补充一下照片。"

    def test_chinese_mailer_marker(self) -> None:
        text = '好的，谢谢。\n\n在 2019-10-22 07:09:46，"Jason" <j@x.com> 写道：\n> 原文'
        assert strip_quoted_reply(text) == "好的，谢谢。"

    def test_on_wrote_split_over_two_lines(self) -> None:
        text = "Thanks.\n\nOn Thu, 18 Jul 2019 at 10:47, Some Person\n<p@example.com> wrote:\n> old"
        assert strip_quoted_reply(text) == "Thanks."

    def test_outlook_header_block_after_underscores(self) -> None:
        text = (
            "Btw, one more thing?\n\n________________________________\n"
            "发件人: 张\n发送时间: 今天\n主题: x"
        )
        assert strip_quoted_reply(text) == "Btw, one more thing?"

    def test_never_trims_to_empty_or_into_interleaved_quotes(self) -> None:
        top = "On 2019/7/18 10:54, X wrote:\n> question\n\nanswer"
        assert strip_quoted_reply(top) == top
        interleaved = "> -----邮件原件-----\n> 发件人: x\n\nmy answer"
        assert strip_quoted_reply(interleaved) == interleaved

    def test_squeezes_blank_lines(self) -> None:
        assert strip_quoted_reply("a\n\n\n\n\nb  \n") == "a\n\nb"
