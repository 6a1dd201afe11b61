"""Reads of complaints that are more than a one-liner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.utils.translation import gettext as _

from complaints.models import Complaint, Event, Petitioner, Reply

# What a petitioner may see of the timeline, and what of each event's details.
PUBLIC_EVENTS = {
    "complaint.received": (),
    "complaint.info_requested": ("question",),
    "complaint.info_supplied": ("details",),
    "complaint.supplemented": ("details",),
    "complaint.classified": (),
    "complaint.assigned": (),
    "complaint.transferred": (),
    "complaint.accepted": (),
    "complaint.replied": ("body",),
    "complaint.reopened": (),
    "complaint.closed": (),
    "complaint.rejected": ("reason",),
    "complaint.merged": ("into",),
    "complaint.withdrawn": (),
    "complaint.archived": (),
}


@dataclass(frozen=True)
class PublicEvent:
    at: datetime
    label: str
    text: str
    attachments: tuple[str, ...]


def public_timeline(complaint: Complaint) -> list[PublicEvent]:
    """The timeline as the petitioner sees it: no internal notes, no names of staff."""
    events = Event.objects.filter(complaint=complaint, kind__in=PUBLIC_EVENTS).order_by(
        "created_at", "id"
    )
    timeline = []
    for event in events:
        shown = PUBLIC_EVENTS[event.kind]
        text = "\n".join(str(event.payload.get(key, "")) for key in shown if event.payload.get(key))
        if event.kind == "complaint.merged" and text:
            text = _("Handled together with %(code)s.") % {"code": text}
        timeline.append(
            PublicEvent(
                at=event.created_at,
                label=event.kind_label,
                text=text,
                attachments=tuple(event.payload.get("attachments") or ()),
            )
        )
    return timeline


def sent_replies(complaint: Complaint) -> list[Reply]:
    return list(complaint.replies.filter(sent_at__isnull=False).order_by("sent_at"))


def open_question(complaint: Complaint) -> str:
    """What the petitioner was last asked, while the complaint waits for them."""
    if complaint.status != Complaint.Status.NEEDS_INFO:
        return ""
    asked = complaint.events.filter(kind="complaint.info_requested").order_by("-id").first()
    return str(asked.payload.get("question", "")) if asked else ""


# --- The same person --------------------------------------------------------------------

_IDENTIFYING = ("phone", "email", "id_number")


def same_petitioner(complaint: Complaint) -> Q:
    """Complaints from the same person: the same record, or a shared phone, e-mail or ID."""
    petitioner = complaint.petitioner
    if petitioner is None:
        return Q(pk__in=[])
    same = Q(pk=petitioner.pk)
    for field in _IDENTIFYING:
        if value := getattr(petitioner, field):
            same |= Q(**{field: value})
    # The people first, each identifying value by its index, then their complaints: an OR
    # across the join would read every complaint (a second at a million).
    return Q(petitioner__in=Petitioner.objects.filter(same).values("pk"))


def same_person(one: Petitioner | None, two: Petitioner | None) -> bool:
    """The in-memory twin of ``same_petitioner``."""
    if one is None or two is None:
        return False
    return one.pk == two.pk or any(
        getattr(one, field) and getattr(one, field) == getattr(two, field) for field in _IDENTIFYING
    )


def earlier_petitions(complaint: Complaint) -> int:
    """How many times this petitioner complained before (any subject)."""
    return (
        Complaint.objects.filter(same_petitioner(complaint), received_at__lt=complaint.received_at)
        .exclude(pk=complaint.pk)
        .count()
    )


# --- Replies that worked ----------------------------------------------------------------


@dataclass(frozen=True)
class GoodReply:
    complaint: Complaint
    reply: Reply
    rating: int
    similarity: float


# Candidates change slowly (a few new good ratings an hour): read once per category for
# a few minutes, not on every page view of every handler.
_CANDIDATES_FOR = 600  # seconds
_CANDIDATES = 300


def well_rated_replies(complaint: Complaint, *, limit: int = 3) -> list[GoodReply]:
    """Replies to similar past complaints that their petitioners rated well (4–5, resolved).

    Candidates share the category (or, without one, the kind); the most recent few hundred
    are compared with this complaint's text by character-bigram similarity, and the most
    similar are offered to the handler as a starting point.
    """
    from complaints.models import Survey
    from complaints.text import bigrams, cosine

    mine = bigrams(f"{complaint.title}\n{complaint.content}")
    if not mine:
        return []
    scored = []
    for survey_id, complaint_id, rating, text in _well_rated_candidates(complaint):
        if complaint_id == complaint.pk:
            continue
        score = cosine(mine, bigrams(text))
        if score >= 0.2:
            scored.append((score, rating, survey_id))
    scored.sort(reverse=True)
    best = scored[:limit]
    # The few chosen, read in full now: one anonymised meanwhile is left out.
    found = Survey.objects.filter(
        pk__in=[survey_id for _s, _r, survey_id in best], complaint__anonymised_at__isnull=True
    ).select_related("complaint", "reply")
    surveys = {survey.pk: survey for survey in found}
    return [
        GoodReply(surveys[pk].complaint, surveys[pk].reply, rating, score)
        for score, rating, pk in best
        if pk in surveys
    ]


def _well_rated_candidates(complaint: Complaint) -> list[tuple[int, int, int, str]]:
    """(survey, complaint, rating, text) of the newest well-rated replies of its kind."""
    from complaints.models import Survey

    if complaint.category_id is not None:
        key, same = (
            f"category:{complaint.category_id}",
            Q(complaint__category_id=complaint.category_id),
        )
    else:
        key, same = f"kind:{complaint.kind}", Q(complaint__kind=complaint.kind)
    key = f"complaints:well-rated:{key}"
    found = cache.get(key)
    if found is None:
        rows = (
            Survey.objects.filter(
                same, rating__gte=4, resolved=True, complaint__anonymised_at__isnull=True
            )
            .order_by("-answered_at")
            .values_list("pk", "complaint_id", "rating", "complaint__title", "complaint__content")
        )
        found = [
            (pk, cid, rating or 0, f"{title}\n{body}")
            for pk, cid, rating, title, body in rows[:_CANDIDATES]
        ]
        cache.set(key, found, _CANDIDATES_FOR)
    return list(found)
