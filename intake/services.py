"""One way in: every channel's submission becomes exactly one complaint.

``submit`` validates and normalises what a channel sent, finds or creates the
petitioner, checks every file by its bytes, creates the complaint (idempotently, by the
channel's own reference) and, when the content or a way to reply is missing, accepts it
anyway into ``needs_info`` with the missing fields named. Routing and notifications hear
of it after commit through ``complaints.signals.complaint_changed``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import User
from complaints import services as complaint_services
from complaints.contacts import normalize_phone
from complaints.errors import GuardFailed
from complaints.files import CheckedUpload, Upload, UploadRejected, checked_files
from complaints.models import Complaint, ContactPreference, Petitioner
from intake.models import ClientSubmission
from intake.submission import Submission

__all__ = [
    "Receipt",
    "Submission",
    "Upload",
    "add_supplement",
    "normalize_email",
    "normalize_phone",
    "submit",
]


class InvalidSubmission(GuardFailed):
    """The submission cannot be accepted as sent; ``errors`` maps field → messages."""

    code = "invalid_submission"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(" ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


@dataclass(frozen=True)
class Receipt:
    complaint: Complaint
    # The citizen's secret in clear, to show or send once; None on an idempotent replay.
    secret: str | None
    created: bool
    # Fields the petitioner is asked for (the complaint waits in needs_info): "content",
    # "contact".
    missing: tuple[str, ...] = ()


# --- Normalising ------------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """An address with its domain in lower case, or "" if none was given.

    Deliberately lenient about the local part: real senders use internationalised
    addresses (RFC 6532) that strict validators refuse, and refusing would lose mail.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip().strip("<>")
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or re.search(r"[\s,;<>\"]", text):
        raise ValueError(raw)
    if len(text) > 254:
        raise ValueError(raw)
    return f"{local}@{domain.lower()}"


# One-line fields end up in e-mail headers and SMS; a line break there is an injection.
_SINGLE_LINE = ("title", "name", "organisation", "phone", "email", "id_number", "location")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _clean(submission: Submission) -> tuple[str, str, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    for name in _SINGLE_LINE:
        if _CONTROL.search(getattr(submission, name)):
            errors.setdefault(name, []).append(
                _("Line breaks and control characters are not allowed here.")
            )
    if "\x00" in submission.content:
        errors.setdefault("content", []).append(_("The text contains a NUL character."))
    phone = email = ""
    try:
        phone = normalize_phone(submission.phone)
    except ValueError:
        errors.setdefault("phone", []).append(_("Enter a valid phone number."))
    try:
        email = normalize_email(submission.email)
    except ValueError:
        errors.setdefault("email", []).append(_("Enter a valid e-mail address."))
    if submission.channel not in Complaint.Channel.values:
        errors.setdefault("channel", []).append(_("Unknown channel."))
    if submission.kind not in Complaint.Kind.values:
        errors.setdefault("kind", []).append(_("Choose what kind of matter this is."))
    if submission.petitioner_type not in Petitioner.Type.values:
        errors.setdefault("petitioner_type", []).append(_("Choose who is writing."))
    if submission.contact_preference and (
        submission.contact_preference not in ContactPreference.values
    ):
        errors.setdefault("contact_preference", []).append(_("Choose how to contact you."))
    if submission.occurred_at and submission.occurred_at > timezone.now():
        errors.setdefault("occurred_at", []).append(_("The date cannot be in the future."))
    if len(submission.uploads) > settings.ATTACHMENT_MAX_COUNT:
        errors.setdefault("attachments", []).append(
            _("Attach at most %(count)d files.") % {"count": settings.ATTACHMENT_MAX_COUNT}
        )
    for label, value in (("latitude", submission.latitude), ("longitude", submission.longitude)):
        bound = 90 if label == "latitude" else 180
        if value is not None and not -bound <= value <= bound:
            errors.setdefault(label, []).append(_("This is not a valid coordinate."))
    return phone, email, errors


def _missing(submission: Submission, phone: str, email: str) -> tuple[str, ...]:
    missing = []
    if not submission.content.strip():
        missing.append("content")
    # Anonymous petitioners follow their complaint with its tracking code and secret.
    reachable = phone or email or (submission.address and submission.contact_preference == "post")
    if not submission.anonymous and not reachable:
        missing.append("contact")
    return tuple(missing)


def describe_missing(missing: Sequence[str]) -> str:
    """The missing fields as words for people, in the active language."""
    asks = {
        "content": _("a description of what happened"),
        "contact": _("a phone number or e-mail address so that we can reply"),
    }
    return pgettext("between phrases of a list", "; ").join(asks[m] for m in missing)


def _question(missing: Sequence[str], language: str) -> str:
    with translation.override(language or settings.LANGUAGE_CODE):
        return _("To handle your matter we still need: %(items)s.") % {
            "items": describe_missing(missing)
        }


# --- Petitioners ------------------------------------------------------------------------


def _find_or_create_petitioner(
    submission: Submission, phone: str, email: str
) -> tuple[Petitioner | None, list[str]]:
    """The petitioner this submission comes from: an earlier one with the same phone or
    e-mail and a compatible name, else a new one. Missing details are filled in; the names
    of the fields filled in on an earlier petitioner come second."""
    name = submission.name.strip()[:100]
    if not (name or phone or email or submission.organisation or submission.id_number):
        return None, []
    known = None
    for lookup in ({"phone": phone} if phone else None, {"email": email} if email else None):
        if lookup is None:
            continue
        candidates = Petitioner.objects.filter(**lookup).order_by("-id")
        known = next((p for p in candidates[:20] if not name or not p.name or p.name == name), None)
        if known:
            break
    details = {
        "name": name,
        "type": submission.petitioner_type,
        "organisation": submission.organisation.strip()[:200],
        "phone": phone,
        "email": email,
        "id_number": submission.id_number.strip()[:32],
        "address": submission.address.strip()[:300],
        "language": submission.language if submission.language in dict(settings.LANGUAGES) else "",
    }
    if known is None:
        return Petitioner.objects.create(**details), []
    changed = [field for field, value in details.items() if value and not getattr(known, field)]
    for field in changed:
        setattr(known, field, details[field])
    if changed:
        known.save(update_fields=changed)
    return known, changed


# --- Files ------------------------------------------------------------------------------


# --- Use cases --------------------------------------------------------------------------


def submit(submission: Submission, *, actor: User | None = None, actor_label: str = "") -> Receipt:
    """Turn a channel's submission into one complaint (or find the one it already made).

    received → needs_info at once when content or a way to reply is missing. Raises
    ``InvalidSubmission`` for fields that are wrong (not missing) and ``UploadRejected``
    for a file that may not be stored; either way nothing is stored.
    """
    phone, email, errors = _clean(submission)
    if errors:
        raise InvalidSubmission(errors)
    if submission.external_ref and (
        known := complaint_services.find_by_reference(submission.channel, submission.external_ref)
    ):
        return Receipt(complaint=known, secret=None, created=False)
    files = checked_files(submission.uploads)
    missing = _missing(submission, phone, email)
    try:
        return _store(submission, phone, email, files, missing, actor, actor_label)
    except _Replay as replay:
        # A retry of the same submission committed first: everything we began is undone.
        return Receipt(complaint=replay.complaint, secret=None, created=False)


def _note_client(submission: Submission) -> Callable[[Complaint], None] | None:
    """Remember which channel client sent the complaint (its "own" complaints)."""
    if submission.client is None:
        return None
    client = submission.client

    def note(complaint: Complaint) -> None:
        ClientSubmission.objects.create(client=client, complaint=complaint)

    return note


class _Replay(Exception):
    def __init__(self, complaint: Complaint) -> None:
        self.complaint = complaint


def _store(
    submission: Submission,
    phone: str,
    email: str,
    files: list[CheckedUpload],
    missing: tuple[str, ...],
    actor: User | None,
    actor_label: str,
) -> Receipt:
    with transaction.atomic():
        petitioner, completed = _find_or_create_petitioner(submission, phone, email)
        created = complaint_services.submit_complaint(
            title=submission.title,
            content=submission.content,
            channel=submission.channel,
            kind=submission.kind,
            petitioner=petitioner,
            location=submission.location,
            external_ref=submission.external_ref,
            received_at=submission.received_at,
            attachments=files,
            actor=actor,
            actor_label=actor_label,
            details={
                "latitude": submission.latitude,
                "longitude": submission.longitude,
                "occurred_at": submission.occurred_at,
                "is_anonymous": submission.anonymous,
                "contact_preference": submission.contact_preference,
                "privacy_consent_at": timezone.now() if submission.privacy_consent else None,
                "channel_data": submission.channel_data,
            },
            on_created=_note_client(submission),
            reference_checked=True,  # by submit(), a moment ago
        )
        if not created.created:
            raise _Replay(created.complaint)
        complaint = created.complaint
        if completed:
            # An earlier petitioner's details changed: on the timeline of the complaint
            # that brought them (field names only), like any change of personal data.
            complaint_services.record_event(
                complaint_id=complaint.pk,
                kind="petitioner.updated",
                actor=actor,
                actor_label=actor_label,
                payload={
                    "petitioner_id": petitioner.pk if petitioner else None,
                    "fields": completed,
                },
            )
        if missing:
            complaint = complaint_services.request_info(
                complaint_id=complaint.pk,
                question=_question(missing, submission.language),
                fields=missing,
                actor=None,
                actor_label="system",
            )
    return Receipt(complaint=complaint, secret=created.secret, created=True, missing=missing)


def add_supplement(
    *,
    complaint_id: int,
    text: str,
    uploads: Sequence[Upload] = (),
    actor: User | None = None,
    actor_label: str = "petitioner",
) -> Complaint:
    """The petitioner's further text and files, checked like a submission's."""
    if len(uploads) > settings.ATTACHMENT_MAX_COUNT:
        raise UploadRejected(
            _("Attach at most %(count)d files.") % {"count": settings.ATTACHMENT_MAX_COUNT}
        )
    return complaint_services.add_supplement(
        complaint_id=complaint_id,
        text=text,
        attachments=checked_files(uploads),
        actor=actor,
        actor_label=actor_label,
    )
