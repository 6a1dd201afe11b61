"""One raw e-mail in, exactly one recorded outcome out.

``ingest`` is what the MTA pipe (``manage.py ingest_email``) and the IMAP poller call.
For each message it:

1. parses it (``parser.parse_message`` never raises);
2. claims its Message-ID with an ``InboundEmail`` row — the unique constraint makes a
   second delivery, even a concurrent one, a no-op that reports the first outcome;
3. ignores automatic mail (auto-replies, bounces, read receipts, recalls), recorded and
   never answered, so two robots cannot talk to each other through us;
4. threads replies: a tracking code in the subject, or In-Reply-To/References naming an
   earlier message that made a complaint, adds to that complaint;
5. otherwise submits a new complaint through ``intake.services.submit``.

Steps 2–5 are one transaction: "accepted" means the complaint and its ``InboundEmail``
row are committed together. What still fails is kept whole as a ``DeadLetter`` (an
administrator can retry it), so ``ingest`` never raises — except that a database it
cannot reach is reported as ``RETRY_LATER``: then nothing can be stored, and the caller
must keep the message (the MTA retries, the IMAP poller leaves it in the mailbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.files import Upload, UploadRejected, check_upload
from complaints.models import Complaint, ContactPreference
from intake import services
from intake.email.parser import (
    EmailAttachment,
    ParsedEmail,
    parse_message,
    synthetic_message_id,
)
from intake.email.replies import clean_subject, strip_quoted_reply
from intake.models import DeadLetter, InboundEmail
from intake.submission import Submission

logger = logging.getLogger(__name__)

CHANNEL = Complaint.Channel.EMAIL
ACTOR_LABEL = "channel:email"
# Not an InboundEmail outcome: nothing was recorded, the caller must keep the message.
RETRY_LATER = "retry_later"
# Complaint.external_ref holds 255 characters; longer Message-IDs are stored hashed.
_EXTERNAL_REF_MAX = 255


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # an InboundEmail.Outcome value, or RETRY_LATER
    complaint: Complaint | None = None
    inbound: InboundEmail | None = None
    dead_letter: DeadLetter | None = None
    # True when the message had been seen before: ``outcome`` is the first delivery's.
    duplicate: bool = False
    error: str = ""

    @property
    def tracking_code(self) -> str:
        return self.complaint.tracking_code if self.complaint else ""

    @property
    def stored(self) -> bool:
        """The message is safe in the database (as a complaint, record or dead letter)."""
        return self.outcome != RETRY_LATER


class NoSender(Exception):
    """The message names nobody: no From, Sender or envelope sender."""


class _Duplicate(Exception):
    """Control flow: the Message-ID was taken in before."""


def _unreachable(error: BaseException) -> bool:
    """Errors that mean "the database is not there right now", not "this message is bad"."""
    return isinstance(error, OperationalError | InterfaceError)


# --- Entry points -----------------------------------------------------------------------


def ingest(raw: bytes, *, received_at: datetime | None = None) -> IngestResult:
    """Process one raw message; see the module docstring. Never raises."""
    raw = bytes(raw)
    parsed: ParsedEmail | None = None
    try:
        parsed = parse_message(raw)
        try:
            return _ingest(parsed, received_at or timezone.now(), retry_of=None)
        except _Duplicate:
            return _duplicate_of(parsed)
    except Exception as error:  # every failure ends in a dead letter
        if _unreachable(error):
            logger.warning("Database unavailable; e-mail left for a retry: %s", error)
            return IngestResult(outcome=RETRY_LATER, error=str(error))
        if isinstance(error, NoSender):
            logger.warning("E-mail without a sender kept as a dead letter: %s", error)
        else:
            logger.exception("E-mail could not be processed; keeping it as a dead letter")
        return _dead_letter(raw, parsed, error)


def retry_dead_letter(dead_letter: DeadLetter) -> IngestResult:
    """Run a dead letter through intake again; on success it is marked resolved.

    Every attempt is counted; a failed one keeps the letter with the new error.
    """
    if dead_letter.resolved_at is not None:
        inbound = _inbound_for(dead_letter)
        return IngestResult(
            outcome=inbound.outcome if inbound else InboundEmail.Outcome.DEAD_LETTER,
            complaint=dead_letter.complaint,
            inbound=inbound,
            dead_letter=dead_letter,
            duplicate=True,
        )
    raw = dead_letter.as_bytes()
    now = timezone.now()
    # The complaint counts from when the message first arrived, not from the retry.
    received_at = dead_letter.created_at or now
    try:
        parsed = parse_message(raw)
        with transaction.atomic():
            # Locked, so that two people pressing "retry" at once process it once.
            locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
            if locked.resolved_at is not None:
                dead_letter.refresh_from_db()
                return retry_dead_letter(dead_letter)
            try:
                result = _ingest(parsed, received_at, retry_of=dead_letter)
            except _Duplicate:
                result = _duplicate_of(parsed)
            DeadLetter.objects.filter(pk=dead_letter.pk).update(
                attempts=F("attempts") + 1,
                last_attempt_at=now,
                resolved_at=now,
                complaint=result.complaint,
            )
    except Exception as error:  # the letter stays, with the new error
        if _unreachable(error):
            return IngestResult(outcome=RETRY_LATER, dead_letter=dead_letter, error=str(error))
        logger.exception("Retry of dead letter %s failed", dead_letter.pk)
        DeadLetter.objects.filter(pk=dead_letter.pk).update(
            attempts=F("attempts") + 1, last_attempt_at=now, error=_describe(error)
        )
        dead_letter.refresh_from_db()
        return IngestResult(
            outcome=InboundEmail.Outcome.DEAD_LETTER,
            inbound=_inbound_for(dead_letter),
            dead_letter=dead_letter,
            error=str(error),
        )
    dead_letter.refresh_from_db()
    return IngestResult(
        outcome=result.outcome,
        complaint=result.complaint,
        inbound=result.inbound,
        dead_letter=dead_letter,
        duplicate=result.duplicate,
    )


# --- The unit of work -------------------------------------------------------------------


def _ingest(
    parsed: ParsedEmail, received_at: datetime, retry_of: DeadLetter | None
) -> IngestResult:
    message_id = parsed.message_id
    if retry_of is None and InboundEmail.objects.filter(message_id=message_id).exists():
        raise _Duplicate
    with transaction.atomic():
        inbound = _claim(parsed, received_at, retry_of)
        if parsed.is_automatic:
            inbound.outcome = InboundEmail.Outcome.IGNORED
            inbound.reason = f"{parsed.classification}: {parsed.classification_reason}"[:200]
            inbound.save(update_fields=["outcome", "reason"])
            return IngestResult(outcome=inbound.outcome, inbound=inbound)
        if not parsed.sender_address:
            raise NoSender(_("The message has no sender address (no From header)."))

        target = _thread_target(parsed)
        if target is not None:
            return _supplement(parsed, inbound, _current(target))
        return _create(parsed, inbound, received_at)


def _claim(parsed: ParsedEmail, received_at: datetime, retry_of: DeadLetter | None) -> InboundEmail:
    """The InboundEmail row for this message, created now (or taken over on a retry)."""
    if retry_of is not None:
        known = InboundEmail.objects.select_for_update().filter(message_id=parsed.message_id)
        inbound = known.first()
        if inbound is not None:
            if inbound.outcome != InboundEmail.Outcome.DEAD_LETTER:
                raise _Duplicate  # delivered again, and processed, since it failed
            return inbound
    try:
        # A savepoint, so that losing the race leaves the transaction usable (PostgreSQL).
        with transaction.atomic():
            return InboundEmail.objects.create(
                message_id=parsed.message_id,
                outcome=InboundEmail.Outcome.DEAD_LETTER,  # until it is decided below
                sender=parsed.sender_address[:320],
                subject=parsed.subject[:998],
                received_at=received_at,
            )
    except IntegrityError as error:
        # Another delivery of the same message claimed it first and has committed.
        raise _Duplicate from error


def _thread_target(parsed: ParsedEmail) -> Complaint | None:
    """The complaint this message answers: by tracking code, else by the thread."""
    if parsed.tracking_code:
        complaint = Complaint.objects.filter(tracking_code=parsed.tracking_code).first()
        if complaint is not None:
            return complaint
        logger.info("E-mail names unknown tracking code %s", parsed.tracking_code)
    if parsed.thread_ids:
        earlier = (
            InboundEmail.objects.filter(message_id__in=parsed.thread_ids, complaint__isnull=False)
            .select_related("complaint")
            .order_by("-received_at", "-id")
            .first()
        )
        if earlier is not None:
            return earlier.complaint
    return None


def _current(complaint: Complaint) -> Complaint:
    """The complaint itself, or the one it was merged into (where the work goes on)."""
    for _hop in range(10):  # merges cannot loop, but a bound costs nothing
        if complaint.merged_into_id is None:
            break
        complaint = Complaint.objects.get(pk=complaint.merged_into_id)
    return complaint


def _supplement(parsed: ParsedEmail, inbound: InboundEmail, complaint: Complaint) -> IngestResult:
    uploads, dropped = _uploads(parsed.attachments)
    text = strip_quoted_reply(parsed.text)
    petitioner_email = (complaint.petitioner.email if complaint.petitioner else "") or ""
    if parsed.sender_address.lower() != petitioner_email.lower():
        # Someone other than the petitioner (a relative, a copied office) wrote: say who.
        who = f"{parsed.sender_name} <{parsed.sender_address}>".strip()
        text = _("From: %(sender)s") % {"sender": who} + "\n\n" + text
    if dropped:
        text += "\n\n" + _("Attachments not accepted: %(files)s") % {
            "files": "; ".join(f"{d['name']} ({d['reason']})" for d in dropped)
        }
    if not text.strip() and not uploads:
        inbound.outcome = InboundEmail.Outcome.IGNORED
        inbound.reason = "empty reply"
        inbound.complaint = complaint
        inbound.save(update_fields=["outcome", "reason", "complaint"])
        return IngestResult(outcome=inbound.outcome, complaint=complaint, inbound=inbound)
    try:
        with transaction.atomic():
            services.add_supplement(
                complaint_id=complaint.pk,
                text=text,
                uploads=uploads,
                actor=None,
                actor_label=ACTOR_LABEL,
            )
    except UploadRejected as error:
        # The pre-check passed but the service refused: keep the words, drop the files.
        names = ", ".join(upload.name for upload in uploads)
        text += "\n\n" + _("Attachments not accepted: %(files)s") % {"files": f"{names} ({error})"}
        services.add_supplement(
            complaint_id=complaint.pk, text=text, actor=None, actor_label=ACTOR_LABEL
        )
    inbound.outcome = InboundEmail.Outcome.SUPPLEMENT
    inbound.reason = f"added to {complaint.tracking_code}"
    inbound.complaint = complaint
    inbound.save(update_fields=["outcome", "reason", "complaint"])
    complaint.refresh_from_db()
    return IngestResult(outcome=inbound.outcome, complaint=complaint, inbound=inbound)


def _create(parsed: ParsedEmail, inbound: InboundEmail, received_at: datetime) -> IngestResult:
    uploads, dropped = _uploads(parsed.attachments)
    email = _usable_address(parsed.sender_address)
    submission = Submission(
        channel=CHANNEL,
        title=clean_subject(parsed.subject)[:200],
        content=strip_quoted_reply(parsed.text).replace("\x00", ""),
        name=parsed.sender_name[:100],
        email=email,
        contact_preference=ContactPreference.EMAIL if email else "",
        external_ref=_external_ref(parsed.message_id),
        received_at=received_at,
        uploads=tuple(uploads),
        channel_data=_channel_data(parsed, dropped),
    )
    try:
        with transaction.atomic():
            receipt = services.submit(submission, actor=None, actor_label=ACTOR_LABEL)
    except UploadRejected as error:
        # The pre-check passed but the service refused a file: never lose the message
        # for its attachments — submit it without them, and say which were dropped.
        dropped += [{"name": upload.name, "reason": str(error)} for upload in uploads]
        submission = replace(submission, uploads=(), channel_data=_channel_data(parsed, dropped))
        receipt = services.submit(submission, actor=None, actor_label=ACTOR_LABEL)
    inbound.outcome = InboundEmail.Outcome.CREATED
    inbound.reason = "" if receipt.created else "complaint already registered"
    if receipt.missing:
        inbound.reason = f"waiting for: {', '.join(receipt.missing)}"
    inbound.complaint = receipt.complaint
    inbound.save(update_fields=["outcome", "reason", "complaint"])
    return IngestResult(outcome=inbound.outcome, complaint=receipt.complaint, inbound=inbound)


# --- Pieces -----------------------------------------------------------------------------


def _uploads(attachments: tuple[EmailAttachment, ...]) -> tuple[list[Upload], list[dict[str, str]]]:
    """The attachments intake will accept, and the names and reasons of those it won't.

    Checked here, one by one, with the same rules ``submit`` applies, so that one refused
    file drops only itself. Files the sender attached go before inline images when there
    are more than the allowed number.
    """
    limit = int(getattr(settings, "ATTACHMENT_MAX_COUNT", 10))
    ordered = sorted(attachments, key=lambda a: a.inline)
    accepted: list[Upload] = []
    dropped: list[dict[str, str]] = []
    for attachment in ordered:
        try:
            check_upload(attachment.name, attachment.data)
        except UploadRejected as error:
            dropped.append({"name": attachment.name, "reason": str(error)})
            continue
        if len(accepted) >= limit:
            dropped.append({"name": attachment.name, "reason": str(_("too many files"))})
            continue
        accepted.append(
            Upload(
                name=attachment.name,
                data=attachment.data,
                content_type=attachment.content_type,
                inline=attachment.inline,
                content_id=attachment.content_id,
            )
        )
    return accepted, dropped


def _usable_address(address: str) -> str:
    """The sender's address if intake can reply to it, else "" (the complaint then waits
    for a way to reply instead of failing)."""
    try:
        return services.normalize_email(address)
    except ValueError:
        return ""


def _external_ref(message_id: str) -> str:
    if len(message_id) <= _EXTERNAL_REF_MAX:
        return message_id
    return synthetic_message_id(message_id.encode("utf-8", "surrogatepass"))


def _channel_data(parsed: ParsedEmail, dropped: list[dict[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "message_id": parsed.message_id,
        "from": _address_text(parsed.from_name, parsed.from_address),
        # Who replies go to: Reply-To when From is a list's rewrite or names someone else.
        "sender": _address_text(parsed.sender_name, parsed.sender_address),
        "subject": parsed.subject,
    }
    if parsed.date is not None:
        data["sent_at"] = parsed.date.isoformat()
    if parsed.tracking_code:
        # A code that matched no complaint: staff may want to link them by hand.
        data["mentions_tracking_code"] = parsed.tracking_code
    if dropped:
        data["dropped_attachments"] = dropped
    if parsed.defects:
        data["defects"] = list(parsed.defects)[:20]
    return data


def _address_text(name: str, address: str) -> str:
    return f"{name} <{address}>" if name and address else address


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:5000]


def _duplicate_of(parsed: ParsedEmail | None) -> IngestResult:
    inbound = (
        InboundEmail.objects.select_related("complaint")
        .filter(message_id=parsed.message_id)
        .first()
        if parsed is not None
        else None
    )
    if inbound is None:  # cannot happen: a duplicate has a row; be safe anyway
        return IngestResult(outcome=RETRY_LATER, error="duplicate without a record")
    dead_letter = None
    if inbound.outcome == InboundEmail.Outcome.DEAD_LETTER:
        dead_letter = _dead_letter_for(inbound.message_id)
    return IngestResult(
        outcome=inbound.outcome,
        complaint=inbound.complaint,
        inbound=inbound,
        dead_letter=dead_letter,
        duplicate=True,
    )


def _dead_letter_for(message_id: str) -> DeadLetter | None:
    return (
        DeadLetter.objects.filter(channel=CHANNEL, message_id=message_id)
        .order_by("-created_at")
        .first()
    )


def _inbound_for(dead_letter: DeadLetter) -> InboundEmail | None:
    if not dead_letter.message_id:
        return None
    return InboundEmail.objects.filter(message_id=dead_letter.message_id).first()


def _dead_letter(raw: bytes, parsed: ParsedEmail | None, error: BaseException) -> IngestResult:
    """Keep the whole message for a retry, and its Message-ID as processed (dead letter)."""
    message_id = parsed.message_id if parsed else synthetic_message_id(raw)
    sender = parsed.sender_address if parsed else ""
    subject = parsed.subject if parsed else ""
    summary = " — ".join(part for part in (sender, subject) if part) or message_id
    try:
        with transaction.atomic():
            letter = DeadLetter.objects.create(
                channel=CHANNEL,
                raw=raw,
                error=_describe(error),
                summary=summary[:300],
                message_id=message_id[:998],
            )
            inbound, _created = InboundEmail.objects.get_or_create(
                message_id=message_id,
                defaults={
                    "outcome": InboundEmail.Outcome.DEAD_LETTER,
                    "reason": _describe(error)[:200],
                    "sender": sender[:320],
                    "subject": subject[:998],
                },
            )
    except Exception as store_error:  # even the dead letter could not be stored
        # The caller must keep the message (the MTA retries, IMAP leaves it in place).
        logger.exception("Could not store a dead letter")
        return IngestResult(outcome=RETRY_LATER, error=str(store_error))
    return IngestResult(
        outcome=InboundEmail.Outcome.DEAD_LETTER,
        inbound=inbound,
        dead_letter=letter,
        error=str(error),
    )
