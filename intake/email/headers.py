"""Header interpretation: a part's raw headers, parameters, addresses, Message-IDs, dates.

Owns ``_Headers`` (raw values by lower-case name), Content-Type style parameters with
RFC 2231 continuations, choosing the sender to answer (Reply-To, mailing-list rewrites,
fallbacks), Message-ID lists and the Date header. Text decoding is ``charsets``' job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from email.message import Message
from email.utils import getaddresses, parsedate_tz

from intake.email.charsets import _FOLD, _to_bytes, decode_bytes, decode_header_value


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
