"""Raw RFC 5322 / MIME bytes → one ``ParsedEmail``, whatever the bytes are.

Real mail is messy: Chinese mailers label GBK text "gb2312", Big5 and GB18030 appear as
raw 8-bit bytes in headers, boundaries go missing, base64 carries stray characters, and
auto-replies announce themselves in a dozen different ways. ``parse_message`` therefore
never raises: every step degrades to "keep what we can" (raw bytes, replacement
characters, a synthesised Message-ID) rather than losing the message.

The standard library's ``email`` package, with the lenient ``compat32`` policy, builds
the MIME tree; everything that interprets bytes — header words, charsets, transfer
encodings, parameters — is done here, because the library's own decoding either raises or
guesses wrong for the mail we receive (see the corpus in ``../shared/mail-corpus``).
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import functools
import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.utils import getaddresses, parsedate_tz
from html.parser import HTMLParser

from complaints.tracking import normalize_tracking_code

logger = logging.getLogger(__name__)

# --- The result -----------------------------------------------------------------------


class Classification:
    """What kind of message this is; only ``NORMAL`` mail is meant for a person."""

    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    READ_RECEIPT = "read_receipt"
    RECALL = "recall"


@dataclass(frozen=True)
class EmailAttachment:
    name: str
    content_type: str
    data: bytes = field(repr=False)
    # An image the body shows (cid:), not a file the sender meant to attach.
    inline: bool = False
    content_id: str = ""


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str  # always set, with <>; synthesised from the bytes when missing
    subject: str = ""
    # Who to answer: Reply-To when From is a list's rewrite or Reply-To names someone else.
    sender_name: str = ""
    sender_address: str = ""
    # The From header as written, kept for the record.
    from_name: str = ""
    from_address: str = ""
    date: datetime | None = None  # None when missing or unparseable
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    text: str = ""  # the readable body: text/plain, else the HTML made readable
    html: str = ""  # the HTML alternative as sent, when there is one
    attachments: tuple[EmailAttachment, ...] = ()
    classification: str = Classification.NORMAL
    classification_reason: str = ""
    tracking_code: str | None = None
    failed_recipients: tuple[str, ...] = ()
    message_id_synthesised: bool = False
    # What had to be repaired or guessed (bad base64, unknown charset …), for the record.
    defects: tuple[str, ...] = ()

    @property
    def is_automatic(self) -> bool:
        return self.classification != Classification.NORMAL

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this message answers: In-Reply-To first, then References newest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [ref for ref in reversed(self.references) if ref not in ids]
        return tuple(ids)


# --- Charsets -------------------------------------------------------------------------

# Labels that mean "some GB encoding": GB18030 is a superset of all of them, and mailers
# routinely label GBK (and GB18030) text as gb2312.
_GB_LABELS = {
    "gb2312",
    "gbk",
    "x-gbk",
    "cp936",
    "ms936",
    "windows-936",
    "eucgb2312_cn",
    "euc-cn",
    "euccn",
    "x-euc-cn",
    "csgb2312",
    "gb_2312-80",
    "gb2312-80",
    "chinese",
    "iso-ir-58",
    "gb18030",
}
_BIG5_LABELS = {"big5", "big-5", "x-big5", "csbig5", "cn-big5", "big5-hkscs", "big5hkscs", "cp950"}
_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-sjis": "shift_jis",
    "x-user-defined": "latin-1",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
}


def _charset_chain(label: str | None) -> tuple[str, ...]:
    """The codecs to try, in order, for a declared charset label ("" if unknown)."""
    name = (label or "").strip().strip("\"'").lower()
    if not name:
        return ()
    if name in _GB_LABELS:
        return ("gb18030",)
    if name in _BIG5_LABELS:
        return ("big5hkscs", "cp950")
    name = _ALIASES.get(name, name)
    try:
        return (codecs.lookup(name).name,)
    except (LookupError, ValueError):
        return ()


def _is_7bit_codec(codec: str) -> bool:
    return codec in {"utf-7", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_kr", "hz"}


@functools.cache
def _common_cjk() -> frozenset[str]:
    """The most frequent Chinese characters: GB2312 level 1 and Big5 level 1 (~9,000)."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):  # GB2312 level 1
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([lead, trail]).decode("gb2312"))
    for lead in range(0xA4, 0xC7):  # Big5 level 1
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([lead, trail]).decode("big5"))
    return frozenset(chars)


def _readability(text: str) -> int:
    """A rough score of how much ``text`` reads like real text rather than mojibake.

    Used only to choose between charsets that all decode the bytes without error: GB18030
    "decodes" Big5 and UTF-8 bytes (and they each other's) into rare characters, kana,
    Greek, box drawing, private-use or C1 characters, or CJK wedged inside Latin words,
    while the right charset gives common characters.
    """
    common = _common_cjk()
    score = 0
    sample = text[:4000]
    for index, char in enumerate(sample):
        code = ord(char)
        if code < 0x80:
            continue
        before = sample[index - 1] if index else " "
        after = sample[index + 1] if index + 1 < len(sample) else " "
        latin_before = before.isascii() and before.isalpha()
        if char in common or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
            score += -2 if latin_before and after.isascii() and after.isalpha() else 2
        elif 0x4E00 <= code <= 0x9FFF:
            pass  # a rare character: possible, but no evidence either way
        elif 0xC0 <= code <= 0x24F:
            score += 1 if latin_before or (after.isascii() and after.isalpha()) else -1
        elif code == 0xFFFD or 0x80 <= code <= 0xBF:
            score -= 3
        elif (
            0x0370 <= code <= 0x04FF  # Greek, Cyrillic
            or 0x2500 <= code <= 0x25FF  # box drawing, shapes
            or 0x3040 <= code <= 0x30FF  # kana
            or 0x3400 <= code <= 0x4DBF  # CJK extension A: rare characters
            or 0xE000 <= code <= 0xF8FF  # private use
            or 0xF900 <= code <= 0xFAFF
        ):
            score -= 1
    return score


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_bytes(data: bytes, declared: str | None = None, hints: Sequence[str] = ()) -> str:
    """Text from bytes in a charset that may be missing, unknown or wrong. Never raises.

    Pure ASCII is decoded with the declared charset only when that is a 7-bit encoding
    (UTF-7, ISO-2022-JP). Otherwise the candidates are UTF-8, the declared charset and the
    hints (the message's other charsets) — whichever decode without error; if none does,
    GB18030, Big5 and Latin-1 join them. Among several candidates the one that reads best
    wins (ties go to the declared charset): a GB2312 label on UTF-8 bytes is common, and
    GB18030 "decodes" those into mojibake without an error, as UTF-8 does to short GBK.
    """
    if not data:
        return ""
    declared_chain = _charset_chain(declared)
    if data.isascii():
        for codec in declared_chain:
            if _is_7bit_codec(codec) and (text := _strict(data, codec)) is not None:
                return text
        return data.decode("ascii")
    if data.startswith(codecs.BOM_UTF8) and (text := _strict(data[3:], "utf-8")) is not None:
        return text
    order: list[str] = []
    for codec in (*declared_chain, "utf-8", *(c for h in hints for c in _charset_chain(h))):
        if codec not in order and codec != "ascii":
            order.append(codec)
    candidates = [(codec, text) for codec in order if (text := _strict(data, codec)) is not None]
    mostly_utf8 = data.decode("utf-8", errors="replace")
    if not any(codec == "utf-8" for codec, _ in candidates):
        # A few broken sequences in otherwise UTF-8 text (a cut multi-byte character).
        broken = mostly_utf8.count("\ufffd")
        if broken * 50 <= sum(1 for c in mostly_utf8 if ord(c) >= 0x80):
            candidates.append(("utf-8", mostly_utf8))
    if not candidates:
        for codec in ("gb18030", "big5hkscs", "cp950", "latin-1"):
            if codec not in order and (text := _strict(data, codec)) is not None:
                candidates.append((codec, text))
        candidates.append(("utf-8", mostly_utf8))
    if len(candidates) == 1:
        return candidates[0][1]
    ranked = [(_readability(text), -rank, text) for rank, (_, text) in enumerate(candidates)]
    return max(ranked)[2]


# --- Headers --------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")


def _to_bytes(value: str) -> bytes:
    """The original bytes of a header or payload string from the bytes parser."""
    # The bytes parser keeps 8-bit bytes as lone surrogates (surrogateescape).
    return value.encode("utf-8", "surrogateescape")


def _b64_lenient(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 forgiving stray characters, missing padding and one extra symbol.

    Returns the bytes and whether anything had to be forgiven.
    """
    cleaned = re.sub(rb"[^A-Za-z0-9+/=]", b"", data)
    forgiven = len(cleaned) != len(re.sub(rb"\s", b"", data))
    out = bytearray()
    # Concatenated base64 (padding in the middle) is decoded chunk by chunk.
    for chunk in re.split(rb"=+", cleaned):
        if not chunk:
            continue
        if len(chunk) % 4 == 1:  # one stray symbol: it cannot encode a byte
            chunk = chunk[:-1]
            forgiven = True
        chunk += b"=" * (-len(chunk) % 4)
        try:
            out += binascii.a2b_base64(chunk)
        except binascii.Error:
            forgiven = True
    return bytes(out), forgiven


def _q_word(text: bytes) -> bytes:
    text = text.replace(b"_", b" ")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text)


def decode_header_value(value: str | None, hints: Sequence[str] = ()) -> str:
    """A header's text: RFC 2047 words decoded (also inside quotes and when split across
    adjacent words of one charset), raw 8-bit bytes decoded by the fallback chain."""
    if not value:
        return ""
    value = _FOLD.sub(" ", str(value))
    pieces: list[tuple[str | None, bytes]] = []  # (charset of an encoded word | None, bytes)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
        joins_words = between.strip() == "" and bool(pieces) and pieces[-1][0] is not None
        if between and not joins_words:
            pieces.append((None, _to_bytes(between)))
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        encoded = match.group(3).encode("ascii", "ignore")
        data = _b64_lenient(encoded)[0] if match.group(2) in "bB" else _q_word(encoded)
        if pieces and pieces[-1][0] is not None and pieces[-1][0].lower() == charset.lower():
            # One character's bytes may be split across two words: join before decoding.
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + data)
        else:
            pieces.append((charset, data))
        position = match.end()
    if position < len(value):
        pieces.append((None, _to_bytes(value[position:])))
    return "".join(decode_bytes(data, charset, hints) for charset, data in pieces)


def _one_line(text: str) -> str:
    """One line of text: control characters and line breaks become single spaces."""
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", text).strip()


class _Headers:
    """A part's headers as the raw strings the parser kept, looked up by lower-case name."""

    def __init__(self, part: Message, hints: Sequence[str] = ()) -> None:
        self.raw: dict[str, list[str]] = {}
        self.hints = hints
        try:
            items: Iterable[tuple[str, object]] = part.raw_items()
        except Exception:  # a broken header list must not stop the parse
            items = ()
        for name, value in items:
            self.raw.setdefault(str(name).strip().lower(), []).append(str(value))

    def get_raw(self, name: str) -> str:
        values = self.raw.get(name.lower())
        return _FOLD.sub(" ", values[0]).strip() if values else ""

    def has(self, name: str) -> bool:
        return name.lower() in self.raw

    def text(self, name: str) -> str:
        return _one_line(decode_header_value(self.get_raw(name), self.hints))


def _split_params(value: str) -> tuple[str, list[tuple[str, str]]]:
    """``type/sub; a=1; b="x; y"`` → ("type/sub", [("a", "1"), ("b", "x; y")])."""
    parts: list[str] = []
    current, quoted, escaped = [], False, False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            current.append(char)
            escaped = True
        elif char == '"':
            quoted = not quoted
            current.append(char)
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    head = parts[0].strip().lower()
    params = []
    for item in parts[1:]:
        name, sep, raw = item.partition("=")
        if not sep:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.append((name.strip().lower(), raw))
    return head, params


def _param(params: list[tuple[str, str]], wanted: str, hints: Sequence[str]) -> str:
    """One parameter's value, joining RFC 2231 continuations and decoding its charset."""
    plain = [value for name, value in params if name == wanted]
    pattern = re.compile(rf"^{re.escape(wanted)}\*(\d+)?(\*)?$")
    segments: list[tuple[int, bool, str]] = []
    for name, value in params:
        if match := pattern.match(name):
            # name* and name*N* are percent-encoded; name*N is plain.
            extended = bool(match.group(2)) or not match.group(1)
            segments.append((int(match.group(1) or 0), extended, value))
    if segments:
        segments.sort(key=lambda s: s[0])
        charset = ""
        data = bytearray()
        for index, (_, extended, value) in enumerate(segments):
            if extended:
                if index == 0 and value.count("'") >= 2:
                    charset, _language, value = value.split("'", 2)
                data += re.sub(
                    rb"%([0-9A-Fa-f]{2})",
                    lambda m: bytes([int(m.group(1), 16)]),
                    _to_bytes(value),
                )
            else:
                data += _to_bytes(value)
        return _one_line(decode_bytes(bytes(data), charset or None, hints))
    if plain:
        return _one_line(decode_header_value(plain[0], hints))
    return ""


# --- Addresses ------------------------------------------------------------------------

_ADDRESS_IN_TEXT = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")


def _addresses(raw: str, hints: Sequence[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, names decoded."""
    if not raw:
        return []
    pairs: list[tuple[str, str]] = []
    try:
        # Parsed before decoding: a decoded name may contain commas or angle brackets.
        parsed = getaddresses([raw])
    except Exception:  # a malformed header falls back to a plain search
        parsed = []
    for name, address in parsed:
        address = decode_bytes(_to_bytes(address), None, hints).strip()
        if "@" not in address:
            continue
        name = _one_line(decode_header_value(name, hints)).strip("'\" ")
        pairs.append((name, address))
    if not pairs:
        pairs = [("", found) for found in _ADDRESS_IN_TEXT.findall(decode_header_value(raw, hints))]
    return pairs


def _list_address(headers: _Headers) -> str:
    match = re.search(r"mailto:([^>\s?]+)", headers.get_raw("list-post"), re.IGNORECASE)
    return match.group(1).lower() if match else ""


_VIA_LIST = re.compile(r"^(?P<name>.*?)\s+via\s+\S.*$", re.IGNORECASE)
_NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster)@", re.IGNORECASE)


def _choose_sender(headers: _Headers) -> tuple[str, str, str, str]:
    """(sender name, sender address, From name, From address) of the person to answer."""
    hints = headers.hints
    from_list = _addresses(headers.get_raw("from"), hints)
    from_name, from_address = from_list[0] if from_list else ("", "")
    reply_to = _addresses(headers.get_raw("reply-to"), hints)
    list_address = _list_address(headers)
    via = _VIA_LIST.match(from_name)
    rewritten = bool(via) or (bool(list_address) and from_address.lower() == list_address)
    # Reply-To names one person (lists add themselves beside the author, or alone).
    people = [
        (rt_name, rt_address)
        for rt_name, rt_address in reply_to
        if rt_address.lower() != list_address and not _NO_REPLY.match(rt_address)
    ]
    if len(people) == 1:
        rt_name, rt_address = people[0]
        if rewritten or rt_address.lower() != from_address.lower():
            name = rt_name or (via.group("name") if via else from_name)
            return name, rt_address, from_name, from_address
    name = via.group("name") if via else from_name
    if from_address:
        return name, from_address, from_name, from_address
    # No From at all: the Sender header, then the envelope sender if the MTA recorded it.
    for header in ("sender", "return-path"):
        for fallback_name, fallback_address in _addresses(headers.get_raw(header), hints):
            return fallback_name, fallback_address, "", ""
    return "", "", "", ""


# --- Message-IDs and dates ------------------------------------------------------------

_MSGID = re.compile(r"<([^<>\s]+)>")


def _message_ids(raw: str) -> list[str]:
    found = [f"<{m}>" for m in _MSGID.findall(raw)]
    if not found and raw.strip():
        # Some mailers leave out the angle brackets.
        found = [f"<{token.strip('<>')}>" for token in raw.split() if "@" in token]
    return [ident for ident in found if len(ident) <= 998]


_DATE_ZONE = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*(?P<zone>[^\s(]+)?")
_ZONE_NAMES = {"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"}


def _parse_date(raw: str) -> datetime | None:
    """The Date header as an aware datetime, or None when it is missing or malformed.

    A date whose zone cannot be read (corpus 25: ``H0500``) is malformed: the library
    would silently take it as UTC.
    """
    raw = re.sub(r"\([^)]*\)", " ", raw or "")  # comments: "00:19:00 (EDT) -0400"
    match = _DATE_ZONE.search(raw)
    zone = (match.group("zone") or "") if match else ""
    if not (re.fullmatch(r"[+-]\d{4}", zone) or zone.upper() in _ZONE_NAMES):
        return None
    try:
        parts = parsedate_tz(raw)
        if parts is None:
            return None
        year, month, day, hour, minute, second = parts[:6]
        offset = dt_timezone(timedelta(seconds=parts[9] or 0))
        return datetime(year, month, day, hour, minute, second, tzinfo=offset).astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        return None


# --- Bodies ---------------------------------------------------------------------------


def _uudecode(data: bytes) -> bytes:
    out = bytearray()
    started = False
    for line in data.splitlines():
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`"):
            if line.strip() == b"end":
                break
            continue
        if not line.strip():
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Trailing garbage on a line, as the old uu module tolerated it.
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                continue
    return bytes(out) if started else data


def _looks_like_base64(data: bytes) -> bool:
    """False for plain text mislabelled base64 (corpus 33): words with spaces inside lines."""
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    if not lines:
        return True
    spaced = sum(1 for line in lines if b" " in line or b"\t" in line)
    return spaced * 2 < len(lines)


def _payload(part: Message, cte: str, label: str, notes: list[str]) -> bytes:
    """The part's content bytes after its transfer encoding, decoded leniently."""
    # The raw payload, not get_payload(): that decodes 8-bit text with the declared
    # charset and "replace", destroying exactly the bytes mislabelled mail needs.
    payload = getattr(part, "_payload", None)
    if isinstance(payload, list):
        return b""
    if isinstance(payload, bytes):
        raw = payload
    else:
        raw = _to_bytes(payload if isinstance(payload, str) else str(payload or ""))
    encoding = cte.strip().lower()
    if encoding == "base64":
        if not _looks_like_base64(raw):
            notes.append(f"{label}: not base64 despite its label, kept as sent")
            return raw
        data, forgiven = _b64_lenient(raw)
        if forgiven:
            notes.append(f"{label}: invalid base64 decoded leniently")
        return data
    if encoding == "quoted-printable":
        return binascii.a2b_qp(raw)
    if encoding in {"x-uuencode", "uuencode", "x-uue", "uue"}:
        return _uudecode(raw)
    if encoding not in {"", "7bit", "8bit", "binary"}:
        notes.append(f"{label}: unknown transfer encoding {encoding!r}, kept as sent")
    return raw


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines."""
    lines: list[str] = []
    carry = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        if line.endswith(" ") and line != "-- ":
            carry += line[:-1] if delsp else line
            continue
        lines.append(carry + line)
        carry = ""
    if carry:
        lines.append(carry)
    return "\n".join(lines)


class _HTMLText(HTMLParser):
    """HTML → readable plain text: paragraphs and line breaks kept, scripts/styles dropped."""

    _SKIP = {"script", "style", "head", "title", "noscript", "template", "xml", "svg"}
    _BLOCK = {
        "p", "div", "table", "tr", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer",
        "address", "center", "form", "fieldset", "figure", "main", "nav", "aside",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "br":
            self._out.append("\n")
        elif tag == "li":
            self._out.append("\n- ")
        elif tag in ("td", "th"):
            self._out.append(" ")
        elif tag in self._BLOCK:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            return  # <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._out.append(data if self._pre else re.sub(r"[ \t\r\n\f\v]+", " ", data))

    def text(self) -> str:
        text = "".join(self._out).replace("\xa0", " ")
        lines = [line.strip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (stdlib only; never raises)."""
    converter = _HTMLText()
    try:
        converter.feed(html)
        converter.close()
    except Exception:  # malformed markup: keep what was converted
        logger.debug("HTML conversion stopped early", exc_info=True)
    return converter.text()


@dataclass
class _Walk:
    """What walking the MIME tree collects."""

    hints: Sequence[str]
    attachments: list[EmailAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    report_types: list[str] = field(default_factory=list)
    counter: int = 0


@dataclass
class _Segment:
    plain: str = ""
    html: str = ""

    def readable(self) -> str:
        return self.plain if self.plain.strip() else html_to_text(self.html)


def _join(segments: Iterable[_Segment]) -> _Segment:
    chosen = [s for s in segments if s.plain.strip() or s.html.strip()]
    return _Segment(
        plain="\n\n".join(s.readable().strip("\n") for s in chosen),
        html="\n".join(s.html for s in chosen if s.html),
    )


def _content_type(headers: _Headers, part: Message) -> tuple[str, list[tuple[str, str]]]:
    raw = headers.get_raw("content-type")
    if not raw:
        return part.get_default_type(), []
    ctype, params = _split_params(raw)
    if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ctype):
        ctype = "text/plain"  # as RFC 2045 says for an invalid Content-Type
    return ctype, params


# Real mail nests a few levels (mixed → alternative → related); far deeper is an attack.
_MAX_DEPTH = 40


def _walk(part: Message, state: _Walk, in_related: bool = False, depth: int = 0) -> list[_Segment]:
    """The readable segments of a part; attachments are collected into ``state``."""
    if depth > _MAX_DEPTH:
        state.notes.append("MIME parts nested too deeply; the innermost were skipped")
        return []
    try:
        return _walk_part(part, state, in_related, depth)
    except Exception as error:  # one broken part must not lose the rest
        logger.warning("Skipped an unreadable MIME part", exc_info=True)
        state.notes.append(f"unreadable part skipped: {type(error).__name__}")
        return []


def _walk_part(part: Message, state: _Walk, in_related: bool, depth: int) -> list[_Segment]:
    headers = _Headers(part, state.hints)
    ctype, params = _content_type(headers, part)
    payload = part.get_payload() if part.is_multipart() else None
    children = [c for c in payload if isinstance(c, Message)] if isinstance(payload, list) else None

    if children is not None and ctype.startswith("multipart/"):
        if ctype == "multipart/report":
            report = _param(params, "report-type", state.hints).lower()
            state.report_types.append(report or "unknown")
        if ctype == "multipart/alternative":
            branches = [_join(_walk(child, state, in_related, depth + 1)) for child in children]
            plain = next((b.plain for b in branches if b.plain.strip() and not b.html), "")
            html = next((b.html for b in reversed(branches) if b.html.strip()), "")
            if not plain:
                plain = next((b.plain for b in branches if b.plain.strip()), "")
            return [_Segment(plain=plain, html=html)]
        if ctype == "multipart/related":
            # The body (usually the first part) and the images and styles it refers to,
            # which are attachments marked inline.
            segments: list[_Segment] = []
            for child in children:
                segments += _walk(child, state, True, depth + 1)
            return segments
        segments = []
        for child in children:
            segments += _walk(child, state, in_related, depth + 1)
        return segments

    if ctype == "message/delivery-status":
        _collect_failed_recipients(part, state)
        return []
    if ctype == "message/rfc822" or children is not None:
        _attach_message(part, headers, params, state)
        return []

    label = f"part {state.counter + 1}"
    disposition, disposition_params = _split_params(headers.get_raw("content-disposition"))
    filename = _param(disposition_params, "filename", state.hints) or _param(
        params, "name", state.hints
    )
    cte = headers.get_raw("content-transfer-encoding")
    charset = _param(params, "charset", state.hints) or None
    if ctype.startswith("multipart/"):
        # A multipart without a usable boundary (corpus 43): its body is plain text.
        ctype = "text/plain"
    is_body_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
    if is_body_text and not filename:
        data = _payload(part, cte, label, state.notes)
        text = decode_bytes(data, charset, state.hints).replace("\r\n", "\n").replace("\r", "\n")
        if ctype == "text/html":
            state.html.append(text)
            return [_Segment(html=text)]
        if _param(params, "format", state.hints).lower() == "flowed":
            text = _unflow(text, _param(params, "delsp", state.hints).lower() == "yes")
        return [_Segment(plain=text)]

    state.counter += 1
    data = _payload(part, cte, filename or label, state.notes)
    content_id = headers.get_raw("content-id").strip().strip("<>")
    inline = (
        bool(content_id) and disposition != "attachment" and (in_related or disposition == "inline")
    )
    state.attachments.append(
        EmailAttachment(
            name=filename or _fallback_name(ctype, state.counter),
            content_type=ctype,
            data=data,
            inline=inline,
            content_id=content_id,
        )
    )
    return []


def _collect_failed_recipients(part: Message, state: _Walk) -> None:
    """The Final-Recipient fields of a delivery-status report."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the parser splits the report into header blocks
        text = "\n".join(
            f"final-recipient: {value}"
            for block in payload
            if isinstance(block, Message)
            for value in _Headers(block).raw.get("final-recipient", [])
        )
    else:
        text = decode_bytes(_to_bytes(str(payload or "")))
    for match in re.finditer(r"(?im)^final-recipient:\s*[^;\n]*;\s*(\S+)", text):
        state.failed_recipients.append(match.group(1).strip("<>"))


def _fallback_name(ctype: str, counter: int) -> str:
    extension = mimetypes.guess_extension(ctype, strict=False) or ".bin"
    return f"attachment-{counter}{extension}"


def _attach_message(
    part: Message, headers: _Headers, params: list[tuple[str, str]], state: _Walk
) -> None:
    """A forwarded message/rfc822 part is kept whole, as an .eml attachment."""
    state.counter += 1
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    data = b""
    subject = ""
    if isinstance(inner, Message):
        subject = _Headers(inner, state.hints).text("subject")
        try:
            data = inner.as_bytes(policy=email_policy.compat32)
        except Exception:  # regenerate as text if the bytes path fails
            data = _to_bytes(inner.as_string())
    elif isinstance(payload, str):
        data = _to_bytes(payload)
    _, disposition_params = _split_params(headers.get_raw("content-disposition"))
    name = _param(disposition_params, "filename", state.hints) or _param(
        params, "name", state.hints
    )
    if not name:
        stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", subject).strip()[:80]
        name = f"{stem or f'message-{state.counter}'}.eml"
    state.attachments.append(EmailAttachment(name=name, content_type="message/rfc822", data=data))


# --- Automatic mail -------------------------------------------------------------------

# Subjects are matched only in the exact forms mailers write, with the colon, so that a
# person's "Out of office hours noise" or "Undelivered parcel" stays a complaint.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(自动回复|自動回覆|自动答复|自動回復|automatic reply|auto[- ]?reply|autoreply|"
    r"auto[- ]?response|out of (the )?office( auto ?reply)?|abwesenheitsnotiz|"
    r"réponse automatique)\s*[:：]",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(退信\s*[:：]|系统退信|退信通知|undeliverable\s*:|undelivered mail returned to sender|"
    r"delivery status notification \(|mail delivery failed\s*:|failure notice$|"
    r"returned mail\s*:|delivery failure notification|non[- ]?delivery report\s*:)"
    r"|来自\S*postmaster\S*的退信",
    re.IGNORECASE,
)
_RECALL_SUBJECT = re.compile(r"^\s*(撤回|召回|recall)\s*[:：]", re.IGNORECASE)
_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailer|mdaemon)@", re.IGNORECASE)


def _classify(
    headers: _Headers,
    subject: str,
    from_address: str,
    report_types: Sequence[str],
    top_type: str,
) -> tuple[str, str]:
    """(classification, reason) from the headers that mark machine-made mail."""
    if "disposition-notification" in report_types:
        return Classification.READ_RECEIPT, "multipart/report; disposition-notification"
    if "delivery-status" in report_types:
        return Classification.BOUNCE, "multipart/report; delivery-status"
    if _DAEMON.match(from_address):
        return Classification.BOUNCE, f"sent by {from_address.split('@', 1)[0].lower()}"
    if headers.has("x-failed-recipients"):
        return Classification.BOUNCE, "X-Failed-Recipients"
    if _BOUNCE_SUBJECT.search(subject):
        return Classification.BOUNCE, "subject names a delivery failure"
    if top_type == "multipart/report" or report_types:
        return Classification.BOUNCE, "multipart/report"
    if _RECALL_SUBJECT.match(subject):
        return Classification.RECALL, "subject names a recall request"

    auto_submitted = headers.get_raw("auto-submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return Classification.AUTO_REPLY, f"Auto-Submitted: {auto_submitted[:60]}"
    if headers.has("x-auto-response-suppress"):
        return Classification.AUTO_REPLY, "X-Auto-Response-Suppress"
    precedence = headers.get_raw("precedence").lower()
    # "list" alone is not noise: real people write to us through mailing lists.
    if precedence in {"bulk", "junk", "auto_reply", "auto-reply"}:
        return Classification.AUTO_REPLY, f"Precedence: {precedence}"
    if headers.get_raw("x-qq-auto-reply").lower() in {"true", "yes", "1"}:
        return Classification.AUTO_REPLY, "X-QQ-AUTO-REPLY"
    if headers.get_raw("x-apple-action").lower() == "vacation":
        return Classification.AUTO_REPLY, "X-Apple-Action: VACATION"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        if headers.has(name) and headers.get_raw(name).lower() not in {"no", "false", "0"}:
            return Classification.AUTO_REPLY, name
    if _AUTO_REPLY_SUBJECT.match(subject):
        return Classification.AUTO_REPLY, "subject names an automatic reply"
    return_path = headers.get_raw("return-path")
    if return_path and re.fullmatch(r"<\s*>", return_path) and _NO_REPLY.match(from_address):
        return Classification.BOUNCE, "empty Return-Path from a system sender"
    return Classification.NORMAL, ""


# --- Putting it together --------------------------------------------------------------

_TRACKING = re.compile(
    r"(?<![A-Za-z0-9])TS[\s\-_]*\d{4}[\s\-_]*[0-9A-Za-z]{8}(?![A-Za-z0-9])", re.IGNORECASE
)


def find_tracking_code(text: str) -> str | None:
    for match in _TRACKING.finditer(text or ""):
        if code := normalize_tracking_code(match.group(0)):
            return code
    return None


def _declared_charsets(message: Message) -> list[str]:
    """Every charset the message declares, used as hints for unlabelled 8-bit headers."""
    found: list[str] = []
    for part in _parts(message):
        raw = _Headers(part).get_raw("content-type")
        for name, value in _split_params(raw)[1] if raw else ():
            if name == "charset" and value.lower() not in found:
                found.append(value.lower())
    return [c for c in found if c not in {"us-ascii", "ascii", "utf-8"}]


def _parts(message: Message) -> list[Message]:
    """Every part, breadth first and without recursion (``Message.walk`` recurses)."""
    found: list[Message] = []
    queue = [message]
    while queue and len(found) < 10_000:
        part = queue.pop(0)
        found.append(part)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            queue += [child for child in payload if isinstance(child, Message)]
    return found


def synthetic_message_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()}@sutong.invalid>"


def parse_message(raw: bytes) -> ParsedEmail:
    """Parse raw message bytes. Never raises; see the module docstring."""
    raw = bytes(raw or b"")
    try:
        return _parse(raw)
    except RecursionError:
        # The standard library's MIME parser recurses once per nesting level.
        logger.warning("E-mail nested too deeply to parse; keeping its raw text")
        return _unparsed(raw, "MIME structure nested too deeply; body is the raw text")
    except Exception:  # the last line of defence: keep the bytes readable
        logger.exception("E-mail parser failed; falling back to the raw text")
        return _unparsed(raw, "parser failed; body is the raw text")


def _unparsed(raw: bytes, defect: str) -> ParsedEmail:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    return ParsedEmail(
        message_id=synthetic_message_id(raw),
        message_id_synthesised=True,
        text=decode_bytes(body or head).strip(),
        defects=(defect,),
    )


def _parse(raw: bytes) -> ParsedEmail:
    message = message_from_bytes(raw, policy=email_policy.compat32)
    hints = _declared_charsets(message)
    headers = _Headers(message, hints)

    ids = _message_ids(headers.get_raw("message-id"))
    message_id = ids[0] if ids else synthetic_message_id(raw)
    subject = headers.text("subject")
    sender_name, sender_address, from_name, from_address = _choose_sender(headers)
    in_reply_to = next(iter(_message_ids(headers.get_raw("in-reply-to"))), "")

    state = _Walk(hints=hints)
    body = _join(_walk(message, state))
    text = body.readable().strip("\n")
    top_type, _ = _content_type(headers, message)
    classification, reason = _classify(
        headers, subject, from_address or sender_address, state.report_types, top_type
    )
    failed = list(state.failed_recipients)
    failed += [a for _, a in _addresses(headers.get_raw("x-failed-recipients"), hints)]
    defects = [type(d).__name__ for p in _parts(message) for d in getattr(p, "defects", [])]
    return ParsedEmail(
        message_id=message_id,
        message_id_synthesised=not ids,
        subject=subject,
        sender_name=sender_name,
        sender_address=sender_address,
        from_name=from_name,
        from_address=from_address,
        date=_parse_date(headers.get_raw("date")),
        in_reply_to=in_reply_to,
        references=tuple(_message_ids(headers.get_raw("references"))),
        text=text,
        html="\n".join(state.html),
        attachments=tuple(state.attachments),
        classification=classification,
        classification_reason=reason,
        tracking_code=find_tracking_code(subject),
        failed_recipients=tuple(dict.fromkeys(failed)),
        defects=tuple(dict.fromkeys([*defects, *state.notes])),
    )


# --- Text for people ------------------------------------------------------------------

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|tr|antw|回复|回覆|答复|答覆|转发|轉發|转寄|轉寄)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_LIST_TAG = re.compile(r"^(\[[^\]]{1,60}\])\s*(.*)$")


def clean_subject(subject: str) -> str:
    """The subject without reply and forward prefixes (also after a ``[list]`` tag)."""
    text = _REPLY_PREFIX.sub("", subject or "").strip()
    if match := _LIST_TAG.match(text):
        text = f"{match.group(1)} {_REPLY_PREFIX.sub('', match.group(2))}".strip()
    return text or (subject or "").strip()


# Lines that start the quoted history of a reply, as common mailers write them.
_QUOTE_START = [
    re.compile(
        r"^-{2,}\s*(original message|邮件原件|原始邮件|原始郵件|原郵件)\s*-{2,}$", re.IGNORECASE
    ),
    re.compile(r"^在.{1,200}(写道|寫道)\s*[:：]$"),
    re.compile(r"^.{1,200}于\s*\d{4}\s*年.{1,100}(写道|寫道)\s*[:：]$"),
    re.compile(r"^on\s.{1,300}\swrote\s*:$", re.IGNORECASE),
]
_HEADER_FROM = re.compile(r"^\*?(发件人|寄件者|寄件人|from)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\*?(发送时间|發送時間|寄件日期|日期|时间|sent|date)\s*\*?\s*[:：]", re.IGNORECASE
)


def _quote_start(lines: Sequence[str]) -> int | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue  # inline-quoted lines are left alone: replies may be interleaved
        pair = f"{stripped} {lines[index + 1].strip()}" if index + 1 < len(lines) else stripped
        if any(p.match(stripped) or p.match(pair) for p in _QUOTE_START):
            return index
        if _HEADER_FROM.match(stripped) and any(
            _HEADER_SENT.match(following.strip()) for following in lines[index + 1 : index + 4]
        ):
            # An Outlook header block, often after a line of underscores.
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            if above >= 0 and re.fullmatch(r"_{10,}", lines[above].strip()):
                return above
            return index
    return None


def strip_quoted_reply(text: str) -> str:
    """The new part of a reply: the quoted history cut where a mailer clearly marked it.

    Deliberately conservative: only unquoted marker lines count, and if the cut would
    leave nothing (the reply is interleaved, or the marker is at the top) the whole text
    is kept. Runs of blank lines are squeezed either way.
    """
    lines = (text or "").split("\n")
    cut = _quote_start(lines)
    kept = "\n".join(lines[:cut]) if cut is not None else text
    if not kept.strip():
        kept = text
    kept = re.sub(r"[ \t]+\n", "\n", kept or "")
    return re.sub(r"\n{3,}", "\n\n", kept).strip()
