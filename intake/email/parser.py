"""Raw RFC 5322 / MIME bytes → one ``ParsedEmail``, whatever the bytes are.

Real mail is messy: Chinese mailers label GBK text "gb2312", Big5 and GB18030 appear as
raw 8-bit bytes in headers, boundaries go missing, base64 carries stray characters, and
auto-replies announce themselves in a dozen different ways. ``parse_message`` therefore
never raises: every step degrades to "keep what we can" (raw bytes, replacement
characters, a synthesised Message-ID) rather than losing the message.

The standard library's ``email`` package, with the lenient ``compat32`` policy, builds
the MIME tree; everything that interprets bytes — header words, charsets, transfer
encodings, parameters — is done in this package, because the library's own decoding
either raises or guesses wrong for the mail we receive (see the corpus in
``../shared/mail-corpus``).

This module owns the result (``ParsedEmail``), the MIME walk and attachments, and
``parse_message``; the helpers live beside it: ``charsets`` (bytes and header words →
text), ``headers`` (parameters, addresses, Message-IDs, dates), ``transfer`` (transfer
encodings), ``htmltext`` (HTML → text), ``automail`` (classification) and ``replies``
(subjects and quoted history, for ``ingest``).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message

from complaints.tracking import normalize_tracking_code
from intake.email.automail import Classification, _classify
from intake.email.charsets import _to_bytes, decode_bytes
from intake.email.headers import (
    _addresses,
    _choose_sender,
    _Headers,
    _message_ids,
    _param,
    _parse_date,
    _split_params,
)
from intake.email.htmltext import html_to_text
from intake.email.transfer import _payload, _unflow

logger = logging.getLogger(__name__)


# --- The result -----------------------------------------------------------------------


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


# --- The MIME walk ------------------------------------------------------------------


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
