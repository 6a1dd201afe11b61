"""PDF documents: the reply letter and the copy of a person's data, Chinese included."""

from __future__ import annotations

import re
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from complaints import documents, rights
from complaints.models import Complaint, Reply
from routing.models import Department
from tests.factories import PetitionerFactory, complaint_in

pytestmark = pytest.mark.django_db
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# OpenType with PostScript outlines: reportlab cannot embed it.
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def read(pdf: bytes) -> PdfReader:
    assert pdf.startswith(b"%PDF-")
    return PdfReader(BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    """All the text, without the line breaks and spaces the layout put in."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in read(pdf).pages))


def fonts_of(pdf: bytes) -> set[str]:
    names = set()
    for page in read(pdf).pages:
        resources: Any = page["/Resources"]
        names |= {str(font.get_object()["/BaseFont"]) for font in resources["/Font"].values()}
    return names


@pytest.fixture
def replied(urban: Department) -> tuple[Complaint, Reply]:
    petitioner = PetitionerFactory(
        name="王芳", address="上海市黄浦区幸福路88号3栋501", language="zh-hans"
    )
    complaint = complaint_in(
        Complaint.Status.REPLIED, petitioner=petitioner, title="井盖丢失", department=urban
    )
    reply = Reply.objects.create(
        complaint=complaint,
        body="王芳女士：\n\n您反映的井盖问题已于今日修复。<b>感谢</b> & 监督。",
        sent_at=datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    return complaint, reply


class TestReplyLetter:
    def test_the_letter_carries_sender_address_reference_text_and_where_to_follow(
        self, replied: tuple[Complaint, Reply], settings: Any
    ) -> None:
        settings.ORGANISATION_NAME = "某市信访局"
        settings.SITE_URL = "https://sutong.example.gov.cn"
        complaint, reply = replied
        text = text_of(documents.reply_letter_pdf(complaint, reply))
        for expected in (
            "某市信访局",
            "王芳",
            "上海市黄浦区幸福路88号3栋501",
            complaint.tracking_code,
            "井盖丢失",
            "您反映的井盖问题已于今日修复。<b>感谢</b>&监督。",  # shown, not read as markup
            "城市管理局",
            "https://sutong.example.gov.cn/track/",
            "2026年3月9日",  # dated the day it was sent, in Chinese
        ):
            assert expected in text, expected

    def test_the_letter_prints_the_survey_address_when_one_is_open(
        self, replied: tuple[Complaint, Reply]
    ) -> None:
        url = "https://sutong.example.gov.cn/survey/abc123/"
        assert url not in text_of(documents.reply_letter_pdf(*replied))
        assert url in text_of(documents.reply_letter_pdf(*replied, survey_url=url))

    def test_the_letter_is_in_the_petitioners_language(
        self, replied: tuple[Complaint, Reply]
    ) -> None:
        complaint, reply = replied
        assert complaint.petitioner is not None
        complaint.petitioner.language = "en"
        text = text_of(documents.reply_letter_pdf(complaint, reply))
        assert "March9,2026" in text
        assert "UrbanManagementBureau" in text

    def test_without_a_known_language_the_sites_default_is_used(
        self, replied: tuple[Complaint, Reply], settings: Any
    ) -> None:
        complaint, _reply = replied
        assert complaint.petitioner is not None
        complaint.petitioner.language = ""
        settings.LANGUAGE_CODE = "en"
        assert documents.letter_language(complaint) == "en"
        settings.LANGUAGE_CODE = "zh-hans"
        assert documents.letter_language(complaint) == "zh-hans"

    def test_a_long_reply_runs_over_pages_and_loses_nothing(
        self, replied: tuple[Complaint, Reply]
    ) -> None:
        complaint, reply = replied
        paragraphs = [
            f"第{n}段：关于井盖修复的详细说明，包括施工时间和验收结果。" * 4 for n in range(60)
        ]
        reply.body = "\n".join(paragraphs)
        pdf = documents.reply_letter_pdf(complaint, reply)
        pages = [page.extract_text() for page in read(pdf).pages]
        assert len(pages) >= 3
        # Every page is footed with the reference and its number; without the footers,
        # a paragraph that runs over a page reads on.
        footer = re.compile(rf"^.*· {complaint.tracking_code} · [^\d\n]*(\d+)[^\d\n]*$", re.M)
        assert [footer.search(page).group(1) for page in pages] == [  # type: ignore[union-attr]
            str(n) for n in range(1, len(pages) + 1)
        ]
        text = re.sub(r"\s+", "", "".join(footer.sub("", page) for page in pages))
        assert [p for p in paragraphs if re.sub(r"\s+", "", p) not in text] == []

    def test_a_letter_without_petitioner_details_still_prints(self, urban: Department) -> None:
        complaint = complaint_in(Complaint.Status.REPLIED, petitioner=None, department=urban)
        reply = Reply.objects.create(complaint=complaint, body="已处理。")
        assert "已处理。" in text_of(documents.reply_letter_pdf(complaint, reply))


class TestFonts:
    def test_the_built_in_chinese_font_works_on_a_bare_machine(
        self, replied: tuple[Complaint, Reply], settings: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(documents, "FONT_CANDIDATES", ("/nonexistent/font.ttc",))
        settings.PDF_FONT_PATH = ""
        pdf = documents.reply_letter_pdf(*replied)
        assert any("STSong-Light" in name for name in fonts_of(pdf))
        assert "井盖丢失" in text_of(pdf)

    @pytest.mark.skipif(not DEJAVU.exists(), reason="needs fonts-dejavu-core")
    def test_a_font_without_chinese_glyphs_is_not_used(
        self, replied: tuple[Complaint, Reply], settings: Any
    ) -> None:
        settings.PDF_FONT_PATH = str(DEJAVU)
        pdf = documents.reply_letter_pdf(*replied)
        assert not any("DejaVu" in name for name in fonts_of(pdf))
        assert "井盖丢失" in text_of(pdf)

    @pytest.mark.skipif(not NOTO_CJK.exists(), reason="needs fonts-noto-cjk")
    def test_a_font_reportlab_cannot_embed_falls_back(
        self, replied: tuple[Complaint, Reply], settings: Any
    ) -> None:
        settings.PDF_FONT_PATH = str(NOTO_CJK)
        assert documents.font_name() == documents.BUILT_IN_FONT
        assert "井盖丢失" in text_of(documents.reply_letter_pdf(*replied))

    def test_an_installed_truetype_chinese_font_is_embedded(
        self, replied: tuple[Complaint, Reply], settings: Any
    ) -> None:
        installed = [p for p in documents.FONT_CANDIDATES if Path(p).is_file()]
        if not installed:
            pytest.skip("no TrueType Chinese font installed (fonts-wqy-zenhei, …)")
        settings.PDF_FONT_PATH = installed[0]
        pdf = documents.reply_letter_pdf(*replied)
        assert not any("STSong" in name for name in fonts_of(pdf))
        assert "井盖丢失" in text_of(pdf)


def test_the_copy_of_personal_data_reads_like_the_json(
    replied: tuple[Complaint, Reply],
) -> None:
    complaint, _reply = replied
    assert complaint.petitioner is not None
    data = rights.export_data(complaint.petitioner)
    text = text_of(documents.export_pdf(data))
    for expected in (
        "王芳",
        "上海市黄浦区幸福路88号3栋501",
        complaint.tracking_code,
        "井盖丢失",
        re.sub(r"\s+", "", complaint.content),
        "您反映的井盖问题已于今日修复。",
        "城市管理局",
    ):
        assert expected in text, expected
