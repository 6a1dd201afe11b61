"""Satisfaction surveys (回访): their tokens, opening one with each reply, finding one.

A survey's link carries a token derived from the survey's id and the site's secret key
(HMAC), so the link can be printed again later — on a reply letter, on the tracking page
— without keeping the token itself; only its SHA-256 is stored, to find the survey.
Answering, closing and reopening are use cases in ``complaints.services``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from complaints.models import Complaint, Reply, Survey

_SALT = "sutong.complaints.survey"


def token_for(survey_id: int) -> str:
    return salted_hmac(_SALT, str(survey_id), algorithm="sha256").hexdigest()[:32]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_survey(complaint: Complaint, reply: Reply) -> tuple[Survey, str]:
    """The survey of this round of handling, open for SURVEY_WINDOW_DAYS; and its token."""
    now = timezone.now()
    survey = Survey.objects.create(
        complaint=complaint,
        round=complaint.reopen_count + 1,
        reply=reply,
        # A placeholder that cannot clash: the real digest needs the id.
        token_hash=f"pending:{complaint.pk}:{complaint.reopen_count + 1}",
        sent_at=now,
        closes_at=now + timedelta(days=settings.SURVEY_WINDOW_DAYS),
    )
    token = token_for(survey.pk)
    survey.token_hash = _digest(token)
    survey.save(update_fields=["token_hash"])
    return survey, token


def find(token: str) -> Survey | None:
    """The survey a link's token opens, or None."""
    if not token or len(token) > 64:
        return None
    return (
        Survey.objects.select_related("complaint", "reply")
        .filter(token_hash=_digest(token))
        .first()
    )


def current(complaint: Complaint) -> Survey | None:
    """The survey waiting for an answer on a replied complaint, if any."""
    if complaint.status != Complaint.Status.REPLIED:
        return None
    return complaint.surveys.filter(outcome="").order_by("-round").first()


def is_dissatisfied(resolved: bool | None, rating: int | None) -> bool:
    """Rating 1–2 or "not resolved" means not satisfied (DESIGN: reopen, 二次办理)."""
    return resolved is False or (rating is not None and rating <= 2)
