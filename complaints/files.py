"""Which files a complaint may carry, judged by their bytes rather than their names.

Allowed: images, PDF, office documents (legacy and OOXML/ODF), plain text, audio
(hotline recordings). Refused: HTML, SVG, scripts, executables, archives, anything whose
bytes do not match the type its name claims, and files over the configured size.

Every door checks a file here before it is stored (``checked_files``): the channels of
intake, the console's reply files, the API's uploads.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from complaints.errors import GuardFailed


class UploadRejected(GuardFailed):
    """A file that may not be stored; the message names the file and the reason."""

    code = "upload_rejected"


@dataclass(frozen=True)
class FileType:
    content_type: str
    extensions: tuple[str, ...]


IMAGE_JPEG = FileType("image/jpeg", (".jpg", ".jpeg", ".jfif"))
IMAGE_PNG = FileType("image/png", (".png",))
IMAGE_GIF = FileType("image/gif", (".gif",))
IMAGE_WEBP = FileType("image/webp", (".webp",))
IMAGE_HEIC = FileType("image/heic", (".heic", ".heif"))
IMAGE_BMP = FileType("image/bmp", (".bmp",))
IMAGE_TIFF = FileType("image/tiff", (".tif", ".tiff"))
PDF = FileType("application/pdf", (".pdf",))
OLE = FileType("application/msword", (".doc", ".xls", ".ppt", ".wps", ".et", ".dps"))
DOCX = FileType(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)
)
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",))
PPTX = FileType(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",)
)
ODF = FileType("application/vnd.oasis.opendocument", (".odt", ".ods", ".odp"))
TEXT = FileType("text/plain", (".txt", ".csv", ".log", ""))
AUDIO_MP3 = FileType("audio/mpeg", (".mp3",))
AUDIO_WAV = FileType("audio/wav", (".wav",))
AUDIO_M4A = FileType("audio/mp4", (".m4a", ".mp4", ".aac"))
AUDIO_AMR = FileType("audio/amr", (".amr",))
# A forwarded e-mail: served as a download like every attachment, never rendered.
EML = FileType("message/rfc822", (".eml",))
OLE_TYPES = {
    ".doc": "application/msword",
    ".wps": "application/msword",
    ".xls": "application/vnd.ms-excel",
    ".et": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
    ".dps": "application/vnd.ms-powerpoint",
}
ODF_TYPES = {
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}


def _sniff(data: bytes) -> FileType | None:
    """The allowed type these bytes are, or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return IMAGE_JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE_PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return IMAGE_GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return IMAGE_WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AUDIO_WAV
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return IMAGE_HEIC
        return AUDIO_M4A
    if head.startswith(b"BM"):
        return IMAGE_BMP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return IMAGE_TIFF
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return AUDIO_MP3
    if head.startswith(b"#!AMR"):
        return AUDIO_AMR
    if _is_plain_text(data):
        return EML if _HEADER_LINE.match(data[:200]) else TEXT
    return None


_HEADER_LINE = re.compile(rb"^(?:[A-Za-z][A-Za-z0-9-]*:[ \t]|From )")


# An office document is a zip; one that unpacks to gigabytes, holds thousands of entries
# or compresses absurdly well is a zip bomb aimed at whatever opens it (an indexer, a
# virus scanner, the handler's office suite). Judged from the central directory alone:
# nothing is extracted. Real documents stay far below these.
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_UNPACKED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200


class _ZipBomb(Exception):
    pass


def _check_zip_directory(archive: zipfile.ZipFile, packed_size: int) -> None:
    entries = archive.infolist()
    if len(entries) > ZIP_MAX_ENTRIES:
        raise _ZipBomb
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > ZIP_MAX_UNPACKED or unpacked > ZIP_MAX_RATIO * max(packed_size, 1024):
        raise _ZipBomb


def _sniff_zip(data: bytes) -> FileType | None:
    """Office documents are zip files; other zip files (archives) are not allowed."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            _check_zip_directory(archive, len(data))
            names = set(archive.namelist())
            if "mimetype" in names:
                if archive.getinfo("mimetype").file_size > 200:
                    return None  # a real one is a short line
                mimetype = archive.read("mimetype").decode("ascii", "replace")
                return ODF if mimetype.startswith("application/vnd.oasis.opendocument") else None
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(name.startswith("word/") for name in names):
        return DOCX
    if any(name.startswith("xl/") for name in names):
        return XLSX
    if any(name.startswith("ppt/") for name in names):
        return PPTX
    return None


_MARKUP = re.compile(rb"<\s*(!doctype|html|svg|script|\?xml|body|iframe)", re.IGNORECASE)


def _is_plain_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    # Markup in a message's body is fine (it is never rendered); in a text file it is not.
    if _MARKUP.search(sample) and not _HEADER_LINE.match(sample[:200]):
        return False
    for encoding in ("utf-8", "gb18030", "big5"):
        try:
            sample.decode(encoding)
        except UnicodeDecodeError as error:
            # A multi-byte character cut by the sample's end is not a reason to refuse.
            if error.start >= len(sample) - 4 and len(data) > len(sample):
                return True
            continue
        return True
    return False


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name safe to show and to offer as a download: no path, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    # Invisible format characters: U+202E (right-to-left override) makes "gpj.exe" look
    # like "exe.jpg"; zero-width ones hide what a name really says.
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._") or fallback
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    if len(name) > 150:
        name = stem[: 150 - len(suffix[:20])] + suffix[:20]
    return name


@dataclass(frozen=True)
class Upload:
    """A file as received: the claimed name and type are checked against the bytes."""

    name: str
    data: bytes
    content_type: str = ""
    # An image the message shows in its body (e-mail cid:), not a file the sender attached.
    inline: bool = False
    content_id: str = ""

    @classmethod
    def from_file(cls, file: Any) -> Upload:
        """From an uploaded file (Django's UploadedFile or anything with name/read)."""
        # One byte past the limit is enough to refuse it (``check_upload``);
        # a huge upload (already on disk, streamed) is never read whole into memory.
        return cls(
            name=getattr(file, "name", "") or "",
            content_type=getattr(file, "content_type", "") or "",
            data=file.read(settings.ATTACHMENT_MAX_BYTES + 1),
        )


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    size: int


def check_upload(name: str, data: bytes) -> CheckedFile:
    """Accept the file or raise ``UploadRejected`` with a message for the sender."""
    shown = safe_filename(name)
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(data) > limit:
        raise UploadRejected(
            _("“%(name)s” is larger than the limit of %(limit)s MB.")
            % {"name": shown, "limit": f"{limit / 1024 / 1024:g}"}
        )
    if not data:
        raise UploadRejected(_("“%(name)s” is empty.") % {"name": shown})
    try:
        found = _sniff(data)
    except _ZipBomb:
        raise UploadRejected(
            _(
                "“%(name)s” unpacks to far more than a document would (too many or too "
                "large parts), so it is not accepted."
            )
            % {"name": shown}
        ) from None
    if found is None:
        raise UploadRejected(
            _(
                "“%(name)s” is not a file type we accept. Send images, PDF, office "
                "documents, plain text or audio."
            )
            % {"name": shown}
        )
    suffix = PurePosixPath(shown).suffix.lower()
    if found is EML and suffix not in EML.extensions:
        # Only a real .eml may carry markup; otherwise it is text that looks like headers.
        if _MARKUP.search(data[:8192]):
            raise UploadRejected(
                _("The contents of “%(name)s” do not match its name.") % {"name": shown}
            )
        found = TEXT
    if suffix not in found.extensions:
        if found is TEXT or suffix in {".htm", ".html", ".svg", ".exe", ".js", ".bat", ".cmd"}:
            raise UploadRejected(
                _("The contents of “%(name)s” do not match its name.") % {"name": shown}
            )
        # Right bytes, odd name (e.g. a photo called "scan.dat"): keep it, name it truly.
        shown = f"{PurePosixPath(shown).stem or 'attachment'}{found.extensions[0]}"
        suffix = found.extensions[0]
    content_type = OLE_TYPES.get(suffix) or ODF_TYPES.get(suffix) or found.content_type
    return CheckedFile(name=shown, content_type=content_type, size=len(data))


class CheckedUpload(ContentFile):
    """An upload that passed ``check_upload``, in the shape ``complaints.services`` stores:
    its safe name and the type its bytes showed."""

    def __init__(self, upload: Upload, checked: CheckedFile) -> None:
        super().__init__(upload.data, name=checked.name)
        self.content_type = checked.content_type
        self.inline = upload.inline
        self.content_id = upload.content_id


def checked_files(uploads: Sequence[Upload]) -> list[CheckedUpload]:
    """Every upload checked by its bytes; the first refused one raises UploadRejected.

    Every door checks here before a file is stored: intake's channels, the console's
    reply files and the API's.
    """
    return [CheckedUpload(upload, check_upload(upload.name, upload.data)) for upload in uploads]
