"""A leaf part's content bytes: transfer encodings decoded leniently, format=flowed joined.

Owns base64 (also when mislabelled or broken), quoted-printable and uuencode decoding of
a part's raw payload, with notes on what had to be forgiven, and RFC 3676 unflowing.
"""

from __future__ import annotations

import binascii
from email.message import Message

from intake.email.charsets import _b64_lenient, _to_bytes


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
