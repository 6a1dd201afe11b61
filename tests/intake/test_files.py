"""Files are judged by their bytes, not by the names and types their senders claim."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from complaints.files import UploadRejected, check_upload, safe_filename


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        ("shot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png"),
        ("anim.gif", b"GIF89a" + b"\x00" * 20, "image/gif"),
        ("img.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("scan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        ("report.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "application/msword"),
        (
            "table.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20,
            "application/vnd.ms-excel",
        ),
        (
            "letter.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("sheet.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("letter.odt", ODT, "application/vnd.oasis.opendocument.text"),
        ("notes.txt", "路灯坏了".encode(), "text/plain"),
        ("gbk.txt", "路灯坏了".encode("gb18030"), "text/plain"),
        ("call.mp3", b"ID3\x03\x00" + b"\x00" * 20, "audio/mpeg"),
        ("call.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (
            "Fwd.eml",
            b"From: a@b.example\r\nSubject: x\r\n\r\n<html><p>hi</p></html>",
            "message/rfc822",
        ),
        ("headers.txt", b"Subject: only text\n\nhello", "text/plain"),
    ],
)
def test_allowed_files(name: str, data: bytes, content_type: str) -> None:
    checked = check_upload(name, data)
    assert checked.content_type == content_type
    assert checked.size == len(data)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"<!DOCTYPE html><html><body>hi</body></html>"),
        ("page.txt", b"<html><script>alert(1)</script></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("setup.exe", b"MZ\x90\x00\x03" + b"\x00" * 40),
        ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 40),
        ("run.sh", b"\x7fELF\x02\x01\x01" + b"\x00" * 40),
        ("archive.zip", zipped({"a.txt": b"hello"})),
        ("notes.txt", b"\x00\x01\x02\x03binary"),
        ("notes.html", "路灯坏了".encode()),
        ("photo.jpg", b"plain words pretending to be a photo"),
        ("sneaky.txt", b"Subject: x\n\n<html><script>alert(1)</script></html>"),
    ],
)
def test_refused_files(name: str, data: bytes) -> None:
    with pytest.raises(UploadRejected):
        check_upload(name, data)


def test_a_file_over_the_limit_is_refused(settings: Any) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(UploadRejected, match=r"big\.pdf"):
        check_upload("big.pdf", b"%PDF-" + b"0" * 2000)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(UploadRejected):
        check_upload("empty.pdf", b"")


def test_a_real_file_with_an_odd_name_keeps_its_true_extension() -> None:
    assert check_upload("scan.dat", b"%PDF-1.4\n").name == "scan.pdf"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\照片.jpg", "照片.jpg"),
        ("a\r\nb.txt", "a__b.txt"),
        ('x<script>"y".pdf', "x_script__y_.pdf"),
        ("", "attachment"),
        ("...", "attachment"),
    ],
)
def test_file_names_are_sanitised(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_long_names_are_cut_but_keep_their_extension() -> None:
    name = safe_filename("长" * 300 + ".pdf")
    assert len(name) <= 150
    assert name.endswith(".pdf")
