"""Retention: when a finished complaint's time is up, its personal data goes; the case stays.

A complaint is kept for ``RETENTION_DAYS`` after it finished (closed, rejected, merged,
withdrawn, archived) — the statistics, the audit and a petitioner coming back need it —
and is then anonymised by the periodic sweep (``anonymise_due``), or earlier when an
erasure request is granted (``complaints.rights``). Nothing is deleted: every row stays,
only what identifies a person is emptied or redacted, so counts, durations, satisfaction
and SLA figures stay true.

**What stays:** kind, channel, category, priority, department and handler, every state
and timestamp, the events (kind, actor, states, time), the number and size and media type
of attachments, replies and their dates, survey ratings and outcomes, SLA rows, the
petitioner's type and language, whether they asked to stay anonymous.

**What goes:**

* the petitioner's name, organisation, phone, e-mail, ID number and address;
* the complaint's content (replaced by a notice), location and coordinates, an e-mail
  Message-ID used as channel reference, and channel data beyond the non-personal keys;
* in every other text — title, event details, replies, approvers' comments, delivery
  records, co-handling tasks, extension reasons, notifications, inbound e-mail subjects —
  phone numbers, e-mail addresses, ID numbers and the petitioner's known values are
  redacted; the petitioner's own words (supplied details, survey comments) go entirely;
* attachment files (received and sent), their names (``attachment-3.jpg``), hashes and
  content ids; the raw message of a dead letter; petitioner addresses in the outbox.

Petitioner rows are shared: intake attaches a returning petitioner's new complaint to the
same row. The row is blanked when every complaint on it is anonymised; until then the
complaint moves to a new blank row of the same type and language, and the shared row
keeps serving the complaints still within their retention period. The row is locked
first, so two complaints of one person anonymised at once cannot both leave it behind.

Events are append-only in the database too; migration 0014 lets exactly one change
through — the payload rewritten with the marker ``"anonymised": true``, every other column
unchanged, once — and ``_rewrite_payload`` here is the only code that makes it.

Text is redacted in the site's default language (``[已删除]``): the result is stored, read
later by anyone, and should not depend on who happened to trigger the sweep.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import Storage
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from complaints import scanning, services
from complaints.contacts import normalize_phone
from complaints.errors import GuardFailed, NotFound
from complaints.models import (
    FINISHED_STATES,
    Attachment,
    CoHandlingTask,
    Complaint,
    DataRequest,
    Event,
    Petitioner,
    Reply,
    ReplyApproval,
    Survey,
)

logger = logging.getLogger(__name__)

# The key a rewritten event payload carries; the database trigger checks for it.
MARKER = "anonymised"
# States in which a complaint is over; only these are ever anonymised.
DONE_STATES = (*FINISHED_STATES, Complaint.Status.ARCHIVED)
# The reason the sweep gives on the timeline.
RETENTION_REASON = "retention_period"
# Channel data that says nothing about the person: the Open311 service and the client.
KEPT_CHANNEL_DATA = ("service_code", "client")
PETITIONER_FIELDS = ("name", "organisation", "phone", "email", "id_number", "address")


# --- Redaction --------------------------------------------------------------------------

# Tried in this order at each position; a tracking code is matched first so that it is
# kept whole (its digits would otherwise look like a local phone number).
_PATTERNS = re.compile(
    r"""
    (?P<code>TS-\d{4}-[0-9A-Z]{8})
    | (?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)
    | (?P<id>(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z]))
    | (?P<mobile>(?<![0-9A-Za-z+])(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d))
    | (?P<international>(?<![0-9A-Za-z])\+\d{1,3}(?:[\s.\-]?\(?\d{1,4}\)?){2,5}(?!\d))
    | (?P<landline>(?<![0-9A-Za-z])(?:\(0\d{2,3}\)|0\d{2,3})[\s\-]?\d{7,8}(?!\d))
    | (?P<local>(?<![0-9A-Za-z.\-])[2-9]\d{6,7}(?![0-9A-Za-z]))
    """,
    re.VERBOSE,
)
_CJK_NAME = re.compile(r"[\u3400-\u9fff]{2,4}")
_CN_HOUSE_NUMBER = re.compile(r"\d+(?:[-－]\d+)?[号號弄]")
_HONORIFICS = "先生|女士|小姐|同志|老师|师傅|阿姨|大爷|大妈"
# Event details written in the petitioner's own words: removed whole, not redacted.
_OWN_WORDS = {"details", "content"}


def _phone_pattern(phone: str) -> str:
    """The number however it is written: +86 or not, with spaces, dashes or brackets."""
    try:
        digits = normalize_phone(phone).lstrip("+")
    except ValueError:
        digits = re.sub(r"\D", "", phone)
    if len(digits) < 5:
        return ""
    separated = r"[\s\-().]*".join(digits)
    return rf"(?:(?:\+|00)?86[\s\-]*)?{separated}"


def _name_patterns(name: str) -> list[str]:
    """The full name; for a Chinese name also "张先生", for a Latin one each longer part."""
    name = name.strip()
    if len(name) < 2:
        return []
    patterns = [re.escape(name)]
    if _CJK_NAME.fullmatch(name):
        surnames = {name[0], name[:2]} if len(name) == 4 else {name[0]}
        patterns += [rf"{re.escape(s)}(?:{_HONORIFICS})" for s in surnames]
    else:
        patterns += [rf"\b{re.escape(part)}\b" for part in name.split() if len(part) >= 3]
    return patterns


@dataclass
class Redactor:
    """Redacts one complaint's texts: its petitioner's values, and any contact or ID."""

    marker: str
    # (regex, replacement) for the petitioner's known values and the attachment names.
    known: list[tuple[str, str]] = field(default_factory=list)
    # Whole strings replaced as a whole (attachment names as listed in event details).
    exact: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Longest first, so that "张伟" inside a longer known value does not win over it.
        ordered = sorted(self.known, key=lambda item: -len(item[0]))
        self._replacements = [replacement for _pattern, replacement in ordered]
        source = "|".join(f"(?P<k{i}>{pattern})" for i, (pattern, _r) in enumerate(ordered))
        self._known = re.compile(source, re.IGNORECASE) if source else None

    @classmethod
    def for_complaint(cls, person: Petitioner | None, attachment_names: dict[str, str]) -> Redactor:
        marker = _("[removed]")
        known: list[tuple[str, str]] = []
        if person is not None:
            known += [(p, marker) for p in _name_patterns(person.name)]
            for value in (person.organisation, person.email, person.id_number, person.address):
                if len(value.strip()) >= 2:
                    known.append((re.escape(value.strip()), marker))
            if match := _CN_HOUSE_NUMBER.search(person.address):
                known.append((re.escape(person.address[: match.end()]), marker))
            if pattern := _phone_pattern(person.phone):
                known.append((pattern, marker))
        # File names are personal too ("张伟身份证.jpg"): they become the neutral name.
        known += [
            (re.escape(original), neutral)
            for original, neutral in attachment_names.items()
            if len(original) >= 5
        ]
        return cls(marker=marker, known=known, exact=dict(attachment_names))

    def text(self, value: str) -> str:
        if not value:
            return value
        if value in self.exact:
            return self.exact[value]
        if self._known is not None:
            value = self._known.sub(self._known_replacement, value)
        return _PATTERNS.sub(self._pattern_replacement, value)

    def _known_replacement(self, match: re.Match[str]) -> str:
        assert match.lastgroup is not None
        return self._replacements[int(match.lastgroup[1:])]

    def _pattern_replacement(self, match: re.Match[str]) -> str:
        return match.group(0) if match.lastgroup == "code" else self.marker

    def value(self, value: Any) -> Any:
        """Any JSON value with every string in it redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value

    def payload(self, kind: str, payload: Any) -> dict[str, Any]:
        """An event's details, redacted and marked; the petitioner's own words removed."""
        if not isinstance(payload, dict):
            return {"value": self.value(payload), MARKER: True}
        own_words = _OWN_WORDS | ({"comment"} if kind.startswith("survey.") else set())
        redacted = {
            key: self.marker if key in own_words and value else self.value(value)
            for key, value in payload.items()
        }
        redacted[MARKER] = True
        return redacted


def neutral_name(number: int, attachment: Attachment) -> str:
    """``attachment-3.jpg``: the position and the type of file, nothing the sender chose."""
    suffix = PurePosixPath(attachment.original_name).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = mimetypes.guess_extension(attachment.content_type or "") or ""
    return f"attachment-{number}{suffix}"


# --- Anonymising one complaint ----------------------------------------------------------


@dataclass
class _Work:
    """What one anonymisation changed, counted for the event (never the values)."""

    complaint: Complaint
    redactor: Redactor
    counts: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[Storage, str]] = field(default_factory=list)

    def count(self, what: str, number: int = 1) -> None:
        if number:
            self.counts[what] = self.counts.get(what, 0) + number


def anonymise(complaint_id: int, *, reason: str, actor: User | None = None) -> bool:
    """Remove the personal data of one finished complaint; False if it already was.

    Atomic: every row changes, or none. Sets ``anonymised_at``, bumps the version (a page
    left open gets a conflict instead of writing old text back) and writes the event
    ``personal_data.anonymised`` with ``reason`` (a code such as ``retention_period`` or
    ``data_request:12`` — never personal data) and how many values of each kind were
    removed. Stored files are deleted after commit. Callers check who may ask for this
    (the sweep, or a granted erasure request); open complaints are refused.
    """
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
        if complaint is None:
            raise NotFound(_("No such complaint."))
        if complaint.anonymised_at is not None:
            return False
        if complaint.status not in DONE_STATES:
            raise GuardFailed(
                _("%(code)s is still being handled; only finished matters are anonymised.")
                % {"code": complaint.tracking_code}
            )
        with translation.override(settings.LANGUAGE_CODE):
            _anonymise_locked(complaint, reason=reason, actor=actor)
    return True


def _anonymise_locked(complaint: Complaint, *, reason: str, actor: User | None) -> None:
    """The work of ``anonymise``, on the locked row, in the site's default language."""
    person = (
        Petitioner.objects.select_for_update().get(pk=complaint.petitioner_id)
        if complaint.petitioner_id
        else None
    )
    attachments = list(complaint.attachments.order_by("pk"))
    names = {a.original_name: neutral_name(n, a) for n, a in enumerate(attachments, 1)}
    work = _Work(complaint, Redactor.for_complaint(person, names))

    _anonymise_events(work)
    _anonymise_attachments(work, attachments)
    _anonymise_replies(work)
    _anonymise_related_texts(work)
    _anonymise_outbox_and_mail(work)
    _anonymise_complaint(work)
    if person is not None:
        _anonymise_petitioner(work, person)
    _redact_admin_log(work, complaint, complaint.pk)

    complaint.anonymised_at = timezone.now()
    complaint.version += 1
    complaint.save(
        update_fields=[
            "title",
            "content",
            "location",
            "latitude",
            "longitude",
            "external_ref",
            "channel_data",
            "petitioner",
            "anonymised_at",
            "version",
            "updated_at",
        ]
    )
    services.record_event(
        complaint_id=complaint.pk,
        kind="personal_data.anonymised",
        actor=actor,
        payload={"reason": work.redactor.text(reason), "removed": work.counts},
    )
    files = list(work.files)
    transaction.on_commit(lambda: _delete_files(files), robust=True)


def _rewrite_payload(event: Event, payload: dict[str, Any]) -> None:
    """The one sanctioned change to an event: its details, anonymised, marked as such.

    ``EventQuerySet.update`` refuses every update; this calls Django's own
    ``QuerySet.update`` past it, for the payload alone, and the database trigger accepts
    the row only because nothing else changes and the marker is there.
    """
    if payload.get(MARKER) is not True:
        raise ValueError("an anonymised payload carries the marker")
    models.QuerySet.update(Event.objects.filter(pk=event.pk), payload=payload)


def _anonymise_events(work: _Work) -> None:
    for event in work.complaint.events.order_by("pk"):
        payload = event.payload
        if isinstance(payload, dict) and payload.get(MARKER) is True:
            continue  # already anonymised: frozen
        redacted = work.redactor.payload(event.kind, payload)
        without_marker = {k: v for k, v in redacted.items() if k != MARKER}
        if without_marker != payload:
            _rewrite_payload(event, redacted)
            work.count("events")


def _anonymise_attachments(work: _Work, attachments: Iterable[Attachment]) -> None:
    for number, attachment in enumerate(attachments, 1):
        if attachment.file.name:
            # A quarantined file lives in its own storage: it is erased like the others.
            work.files.append((scanning.storage_of(attachment), attachment.file.name))
            work.count("files")
        attachment.original_name = neutral_name(number, attachment)
        attachment.sha256 = ""
        attachment.content_id = ""
        attachment.file = ""
        attachment.save(update_fields=["original_name", "sha256", "content_id", "file"])
        work.count("attachments")


def _redact_fields(work: _Work, row: models.Model, fields: Iterable[str], what: str) -> None:
    """Redact text fields of one row; saved and counted when anything changed."""
    changed = []
    for name in fields:
        before = getattr(row, name)
        after = work.redactor.text(before)
        if after != before:
            setattr(row, name, after)
            changed.append(name)
    if changed:
        row.save(update_fields=changed)
        work.count(what)


def _anonymise_replies(work: _Work) -> None:
    for reply in Reply.objects.filter(complaint=work.complaint):
        _redact_fields(work, reply, ("body", "returned_comment", "delivery_note"), "replies")
    for approval in ReplyApproval.objects.filter(reply__complaint=work.complaint):
        _redact_fields(work, approval, ("comment",), "approval_comments")
    commented = Survey.objects.filter(complaint=work.complaint).exclude(comment="")
    work.count("survey_comments", commented.update(comment=""))


def _anonymise_related_texts(work: _Work) -> None:
    for task in CoHandlingTask.objects.filter(complaint=work.complaint):
        _redact_fields(work, task, ("task", "result"), "co_handling_tasks")
    # Handlers' reasons for more time may quote the petitioner; the SLA rows themselves stay.
    extension_model = apps.get_model("sla", "ExtensionRequest")
    for extension in extension_model.objects.filter(deadline__complaint=work.complaint):
        _redact_fields(work, extension, ("reason", "decision_note"), "extension_requests")


def _anonymise_outbox_and_mail(work: _Work) -> None:
    """The outbox and the e-mail channel's records, reached by name (no import cycle)."""
    redact = work.redactor.text
    notification_model = apps.get_model("notifications", "Notification")
    outbox = notification_model.objects.filter(complaint=work.complaint)
    # A message to the petitioner still waiting has nowhere to go now; guarded, so a row a
    # worker is sending right now is left to it.
    outbox.filter(user__isnull=True, status="pending").update(status="failed", next_attempt_at=None)
    for notification in outbox:
        if notification.user_id is None:
            notification.address = ""
        notification.subject = redact(notification.subject)[:300]
        notification.body = redact(notification.body)
        notification.last_error = redact(notification.last_error)
        notification.headers = {}
        notification.save(update_fields=["address", "subject", "body", "last_error", "headers"])
        work.count("notifications")

    inbound_model = apps.get_model("intake", "InboundEmail")
    for inbound in inbound_model.objects.filter(complaint=work.complaint):
        inbound.sender = ""
        inbound.subject = redact(inbound.subject)[:998]
        inbound.reason = redact(inbound.reason)[:200]
        # Unique, so it cannot be blank; a Message-ID names the sender's host, often them.
        inbound.message_id = f"{MARKER}:{inbound.pk}"
        inbound.save(update_fields=["sender", "subject", "reason", "message_id"])
        work.count("inbound_emails")

    dead_letter_model = apps.get_model("intake", "DeadLetter")
    for letter in dead_letter_model.objects.filter(complaint=work.complaint):
        letter.raw = b""
        letter.message_id = ""
        letter.summary = redact(letter.summary)[:300]
        letter.error = redact(letter.error)
        letter.save(update_fields=["raw", "message_id", "summary", "error"])
        work.count("dead_letters")


def _anonymise_complaint(work: _Work) -> None:
    complaint, redact = work.complaint, work.redactor.text
    complaint.title = redact(complaint.title)[:200] or "—"
    complaint.content = _("This text was removed when the matter's personal data was anonymised.")
    complaint.location = ""
    complaint.latitude = None
    complaint.longitude = None
    if complaint.channel == Complaint.Channel.EMAIL or "@" in complaint.external_ref:
        complaint.external_ref = ""
    data = complaint.channel_data if isinstance(complaint.channel_data, dict) else {}
    complaint.channel_data = {key: data[key] for key in KEPT_CHANNEL_DATA if key in data}


def _anonymise_petitioner(work: _Work, person: Petitioner) -> None:
    complaint = work.complaint
    shared = person.complaints.exclude(pk=complaint.pk).filter(anonymised_at__isnull=True).exists()
    if shared:
        # Still the petitioner of complaints within their retention period: leave the row
        # to them, and give this complaint a blank one that keeps the type and language.
        complaint.petitioner = Petitioner.objects.create(type=person.type, language=person.language)
        work.counts["petitioner"] = "detached"
        return
    work.count("petitioner_fields", sum(1 for f in PETITIONER_FIELDS if getattr(person, f)))
    # How identity was checked for a data request may name the person too (an ID number).
    for data_request in DataRequest.objects.filter(petitioner=person):
        _redact_fields(work, data_request, ("verified_by", "note", "refusal_reason"), "requests")
    for name in PETITIONER_FIELDS:
        setattr(person, name, "")
    person.save(update_fields=list(PETITIONER_FIELDS))
    _redact_admin_log(work, person, person.pk)
    work.counts["petitioner"] = "blanked"


def _redact_admin_log(work: _Work, model: models.Model, pk: int) -> None:
    """The back-office history names the object as it read then ("TS-… 张伟's complaint")."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry

    content_type = ContentType.objects.get_for_model(model)
    for entry in LogEntry.objects.filter(content_type=content_type, object_id=str(pk)):
        _redact_fields(work, entry, ("object_repr",), "admin_log")


def _delete_files(files: list[tuple[Storage, str]]) -> None:
    """After commit: a rolled-back anonymisation must not have lost the files."""
    for storage, name in files:
        try:
            storage.delete(name)
        except Exception:  # OSError on disk; botocore's own errors from an S3 bucket.
            # The row no longer points to it; an operator must remove it by hand.
            logger.exception("anonymised attachment file %s could not be deleted", name)


# --- The sweep --------------------------------------------------------------------------


def due_for_anonymisation(now: datetime | None = None) -> models.QuerySet[Complaint]:
    """Finished complaints whose retention period is over and that still hold personal data.

    The period runs from ``closed_at`` (set by closing, rejecting, merging, withdrawing),
    or from ``archived_at`` for a complaint without one.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)
    return Complaint.objects.filter(anonymised_at__isnull=True, status__in=DONE_STATES).filter(
        Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, archived_at__lt=cutoff)
    )


def anonymise_due(now: datetime | None = None, limit: int = 500) -> int:
    """Anonymise up to ``limit`` complaints past their retention period; how many were.

    Safe to run in several workers at once: each complaint is claimed in its own
    transaction with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so a worker passes
    over what another is working on, and ``anonymise`` checks again under the lock. (SQLite
    runs one writer at a time anyway.) A complaint that fails is logged and skipped for
    the rest of this run, so one bad row cannot stop the others.
    """
    due = due_for_anonymisation(now).order_by(Coalesce("closed_at", "archived_at"), "pk")
    failed: set[int] = set()
    done = 0
    for _attempt in range(limit):
        claimed: int | None = None
        try:
            with transaction.atomic():
                claimed = (
                    due.exclude(pk__in=failed)
                    .select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)
                    .first()
                )
                if claimed is None:
                    break
                if anonymise(claimed, reason=RETENTION_REASON):
                    done += 1
        except Exception:
            if claimed is None:
                raise
            logger.exception("complaint %s could not be anonymised", claimed)
            failed.add(claimed)
    return done
