"""Automatic mail: telling auto-replies, bounces, read receipts and recalls from people.

Owns ``Classification`` and ``_classify``, which reads the report types, sender and
headers (Auto-Submitted, Precedence, vendor flags) and the subject forms mailers write.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from intake.email.headers import _NO_REPLY, _Headers


class Classification:
    """What kind of message this is; only ``NORMAL`` mail is meant for a person."""

    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    READ_RECEIPT = "read_receipt"
    RECALL = "recall"


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
