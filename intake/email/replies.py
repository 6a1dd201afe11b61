"""Text for people: subjects without reply prefixes, replies without quoted history."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
