"""Charsets: bytes in a missing, unknown or wrong charset → text, never raising.

Owns the charset labels and aliases (GB2312 read as GB18030, the Big5 family), the
fallback chain that picks the most readable decoding, and RFC 2047 encoded words in
header values (with lenient base64 and raw 8-bit bytes decoded by the same chain).
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import functools
import re
from collections.abc import Sequence

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


# --- RFC 2047 header words ---------------------------------------------------------

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
