"""A petitioner's rights over their personal data: a copy of it, and its erasure.

**Whose complaints.** Petitioner rows are stored per submission (intake reuses a row only
for a returning phone or e-mail with a compatible name), so one person may stand behind
several rows. A request covers the complaints of every row that shares, with the
requester's row, at least one identifier:

* the phone number, compared in its normalised form (``contacts.normalize_phone``: +86,
  spaces and dashes do not matter);
* the e-mail address, without regard to case;
* the ID number, without regard to case (the check letter X).

Names and addresses never match on their own — 张伟 is the most common name in China, and
a family shares an address. A row whose ID number differs from the requester's (both
known) is somebody else even when the phone matches (a shared family phone). Matching is
one step from the requester's row, not transitive, so a chain of shared phones cannot pull
in strangers. Staff see the matched complaints on the request before deciding, and refuse
what is not the requester's. Complaints already anonymised hold nothing to match.

**Requests.** Staff record a request after checking identity (``record_data_request``) and
an administrator decides it (``decide_data_request``). An approved copy is produced when
it is downloaded (``export_data``; each download is on the timelines), so no second copy
of the data is kept anywhere. An approved erasure anonymises every matched complaint
(``complaints.retention``); open ones block it, because handling needs the contact — the
petitioner withdraws them first, or staff refuse with a reason (a legal duty to keep the
record). Every step writes an event on each matched complaint.

A petitioner may also download this one complaint's data at once from the tracking page
(``export_complaint``), and ask for erasure there.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from complaints import permissions, retention, selectors, services
from complaints.contacts import normalize_phone
from complaints.errors import GuardFailed, NotFound, PermissionDenied
from complaints.models import Complaint, DataRequest, Petitioner

__all__ = [
    "complaints_of",
    "decide_data_request",
    "export_complaint",
    "export_data",
    "export_pdf",
    "matching_petitioners",
    "record_data_request",
]


def export_pdf(data: dict[str, Any]) -> bytes:
    """The export as a PDF (``complaints.documents``)."""
    # reportlab (about 15 MB) is loaded by the first PDF, not by every web worker.
    from complaints import documents

    return documents.export_pdf(data)


def organisation_name() -> str:
    from complaints import documents

    return documents.organisation_name()


ADD_PERMISSION = "complaints.add_datarequest"
DECIDE_PERMISSION = "complaints.decide_datarequest"
EXPORT_FORMATS = ("json", "pdf")


# --- Whose complaints -------------------------------------------------------------------


def matching_petitioners(petitioner: Petitioner) -> QuerySet[Petitioner]:
    """The rows that stand for the same person as ``petitioner`` (see the module's rule)."""
    same = Q(pk=petitioner.pk)
    if phone := petitioner.phone.strip():
        try:
            variants = {phone, normalize_phone(phone)}
        except ValueError:
            variants = {phone}
        same |= Q(phone__in=variants)
    if email := petitioner.email.strip():
        same |= Q(email__iexact=email)
    if id_number := petitioner.id_number.strip():
        same |= Q(id_number__iexact=id_number)
    rows = Petitioner.objects.filter(same)
    if id_number:
        rows = rows.filter(Q(pk=petitioner.pk) | Q(id_number="") | Q(id_number__iexact=id_number))
    return rows


def complaints_of(petitioner: Petitioner) -> QuerySet[Complaint]:
    """The person's complaints that still hold personal data, oldest first."""
    return (
        Complaint.objects.filter(
            petitioner__in=matching_petitioners(petitioner), anonymised_at__isnull=True
        )
        .select_related("category", "department", "petitioner")
        .order_by("received_at", "pk")
    )


def blocking_erasure(complaints: QuerySet[Complaint] | list[Complaint]) -> list[Complaint]:
    """Those still being handled: an erasure waits until they are finished."""
    return [c for c in complaints if c.status not in retention.DONE_STATES]


# --- The copy ---------------------------------------------------------------------------


def export_data(
    petitioner: Petitioner,
    *,
    actor: User | None = None,
    actor_label: str = "",
    request_id: int | None = None,
    file_format: str = "json",
) -> dict[str, Any]:
    """Everything kept about the person, JSON-serialisable; an event on each complaint.

    Per complaint: the tracking code, dates, kind, channel, category, department, status,
    what they wrote, the replies sent, their survey answers, attachment names and the
    public timeline — not internal notes, plans or staff names. The events
    (``personal_data.exported``, with the format and the request) make each export visible
    in the audit log.
    """
    return _export(
        petitioner,
        list(complaints_of(petitioner)),
        actor=actor,
        actor_label=actor_label,
        audit={"format": file_format, **({"request_id": request_id} if request_id else {})},
    )


def export_complaint(
    complaint: Complaint, *, actor_label: str = "petitioner", file_format: str = "json"
) -> dict[str, Any]:
    """The same copy for one complaint, for the petitioner on its tracking page."""
    return _export(
        complaint.petitioner,
        [complaint],
        actor=None,
        actor_label=actor_label,
        audit={"format": file_format, "via": "tracking_page"},
    )


def _export(
    petitioner: Petitioner | None,
    complaints: list[Complaint],
    *,
    actor: User | None,
    actor_label: str,
    audit: dict[str, Any],
) -> dict[str, Any]:
    data = {
        "generated_at": _iso(timezone.now()),
        "organisation": organisation_name(),
        "petitioner": _petitioner_record(petitioner),
        "complaints": [_complaint_record(c) for c in complaints],
    }
    with transaction.atomic():
        for complaint in complaints:
            services.record_event(
                complaint_id=complaint.pk,
                kind="personal_data.exported",
                actor=actor,
                actor_label=actor_label,
                payload=audit,
            )
    return data


def _iso(value: Any) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _petitioner_record(person: Petitioner | None) -> dict[str, Any]:
    if person is None:
        return {}
    return {
        "type": person.type,
        "name": person.name,
        "organisation": person.organisation,
        "phone": person.phone,
        "email": person.email,
        "id_number": person.id_number,
        "address": person.address,
        "language": person.language,
    }


def _complaint_record(complaint: Complaint) -> dict[str, Any]:
    received = complaint.attachments.filter(reply__isnull=True).order_by("pk")
    return {
        "tracking_code": complaint.tracking_code,
        "received_at": _iso(complaint.received_at),
        "occurred_at": _iso(complaint.occurred_at),
        "replied_at": _iso(complaint.replied_at),
        "closed_at": _iso(complaint.closed_at),
        "kind": complaint.kind,
        "channel": complaint.channel,
        "category": str(complaint.category) if complaint.category else "",
        "department": str(complaint.department) if complaint.department else "",
        "status": complaint.status,
        "title": complaint.title,
        "content": complaint.content,
        "location": complaint.location,
        "latitude": float(complaint.latitude) if complaint.latitude is not None else None,
        "longitude": float(complaint.longitude) if complaint.longitude is not None else None,
        "anonymous": complaint.is_anonymous,
        "contact_preference": complaint.contact_preference,
        "petitioner": _petitioner_record(complaint.petitioner),
        "replies": [
            {
                "sent_at": _iso(reply.sent_at),
                "body": reply.body,
                "attachments": [a.original_name for a in reply.attachments.order_by("pk")],
            }
            for reply in selectors.sent_replies(complaint)
        ],
        "surveys": [
            {
                "round": survey.round,
                "sent_at": _iso(survey.sent_at),
                "answered_at": _iso(survey.answered_at),
                "resolved": survey.resolved,
                "rating": survey.rating,
                "comment": survey.comment,
                "outcome": survey.outcome,
            }
            for survey in complaint.surveys.order_by("round")
        ],
        "attachments": [a.original_name for a in received],
        "timeline": [
            {
                "at": _iso(event.at),
                "event": event.label,
                "text": event.text,
                "attachments": list(event.attachments),
            }
            for event in selectors.public_timeline(complaint)
        ],
    }


# --- Requests ---------------------------------------------------------------------------


def record_data_request(
    *,
    complaint_id: int,
    kind: str,
    verified_by: str,
    note: str = "",
    actor: User | None = None,
    actor_label: str = "",
) -> DataRequest:
    """Record that the petitioner of ``complaint_id`` asks for a copy or for erasure.

    ``verified_by`` says how their identity was checked (the tracking code and secret, an
    ID card seen at the window). Staff need ``add_datarequest`` and the complaint within
    their reach (else it does not exist for them); ``actor=None`` is for the tracking page,
    which proved access itself. One open request of a kind per petitioner: a second one is
    refused with the number of the first. Writes ``data_request.received`` on each of the
    person's complaints.
    """
    verified_by = (verified_by or "").strip()
    if kind not in DataRequest.Kind.values:
        raise GuardFailed(_("Choose what the petitioner asks for."))
    if not verified_by:
        raise GuardFailed(_("Say how the requester's identity was checked."))
    if actor is not None and not actor.has_perm(ADD_PERMISSION):
        raise PermissionDenied(_("You are not allowed to record personal data requests."))
    with transaction.atomic():
        complaint = Complaint.objects.filter(pk=complaint_id).first()
        if complaint is None or (actor is not None and not permissions.in_scope(actor, complaint)):
            raise NotFound(_("No such complaint."))
        if complaint.petitioner_id is None or complaint.anonymised_at is not None:
            raise GuardFailed(
                _("%(code)s holds no details of a petitioner to copy or erase.")
                % {"code": complaint.tracking_code}
            )
        # Locked, so two clicks on "send" cannot both open a request.
        person = Petitioner.objects.select_for_update().get(pk=complaint.petitioner_id)
        already = DataRequest.objects.filter(
            petitioner=person, kind=kind, status=DataRequest.Status.OPEN
        ).first()
        if already is not None:
            raise GuardFailed(
                _("This request was already received (number %(number)s) and waits for a decision.")
                % {"number": already.pk}
            )
        request = DataRequest.objects.create(
            kind=kind,
            petitioner=person,
            verified_by=verified_by[:200],
            note=(note or "").strip(),
            received_by=actor,
        )
        for matched in complaints_of(person):
            services.record_event(
                complaint_id=matched.pk,
                kind="data_request.received",
                actor=actor,
                actor_label=actor_label,
                payload={"request_id": request.pk, "kind": kind},
            )
    return request


def decide_data_request(
    request_id: int, *, approve: bool, refusal_reason: str = "", actor: User
) -> DataRequest:
    """open → done (approved) or refused, by someone holding ``decide_datarequest``.

    A refusal needs its reason (the petitioner sees it). Approving a copy makes it
    downloadable; approving an erasure anonymises every matched complaint, and is refused
    while any of them is still being handled. Writes ``data_request.decided`` on each.
    """
    refusal_reason = (refusal_reason or "").strip()
    if not actor.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied(_("You are not allowed to decide personal data requests."))
    if not approve and not refusal_reason:
        raise GuardFailed(_("Give the reason for refusing; the petitioner will see it."))
    with transaction.atomic():
        request = (
            DataRequest.objects.select_for_update()
            .select_related("petitioner")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            raise NotFound(_("No such request."))
        if request.status != DataRequest.Status.OPEN:
            raise GuardFailed(_("This request was already decided."))
        complaints = list(complaints_of(request.petitioner))
        erase = approve and request.kind == DataRequest.Kind.ERASURE
        if erase and (still_open := blocking_erasure(complaints)):
            raise GuardFailed(
                _(
                    "%(codes)s still being handled. The petitioner can withdraw them first; "
                    "otherwise refuse the request with the reason (for example a legal duty "
                    "to keep the records)."
                )
                % {"codes": ", ".join(c.tracking_code for c in still_open)}
            )
        request.status = DataRequest.Status.DONE if approve else DataRequest.Status.REFUSED
        request.refusal_reason = "" if approve else refusal_reason
        request.decided_at = timezone.now()
        request.decided_by = actor
        request.save(update_fields=["status", "refusal_reason", "decided_at", "decided_by"])
        for complaint in complaints:
            services.record_event(
                complaint_id=complaint.pk,
                kind="data_request.decided",
                actor=actor,
                payload={
                    "request_id": request.pk,
                    "kind": request.kind,
                    "decision": request.status,
                    **({"reason": refusal_reason} if not approve else {}),
                },
            )
        if erase:
            for complaint in complaints:
                retention.anonymise(complaint.pk, reason=f"data_request:{request.pk}", actor=actor)
    return request


def verified_on_tracking_page(code: str) -> str:
    """What the tracking page writes as the identity check, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Tracking code and secret of %(code)s, on the tracking page") % {"code": code}
