"""What people are told about limits, composed in each reader's language."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from sla.models import Stage


def staff_url(complaint_id: int) -> str:
    return _staff_url_pattern().format(complaint_id)


@functools.cache
def _staff_url_pattern() -> str:
    # reverse() once: the sweep builds thousands of these links in one batch.
    return reverse("console:complaint", args=[0]).replace("/0/", "/{}/")


def _when(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _stage(stage: str) -> str:
    return str(Stage(stage).label)


def warning(code: str, title: str, stage: str, due_at: datetime) -> tuple[str, str]:
    subject = _("%(code)s: “%(stage)s” is due at %(due)s") % {
        "code": code,
        "stage": _stage(stage),
        "due": _when(due_at),
    }
    body = _(
        "The time limit for “%(stage)s” of %(code)s (%(title)s) runs out at %(due)s. "
        "Please act before then, or ask for an extension."
    ) % {"stage": _stage(stage), "code": code, "title": title, "due": _when(due_at)}
    return subject, body


def escalation(code: str, title: str, stage: str, due_at: datetime, level: int) -> tuple[str, str]:
    subject = _("Overdue, escalated to you (level %(level)s): %(code)s “%(stage)s”") % {
        "level": level,
        "code": code,
        "stage": _stage(stage),
    }
    body = _(
        "The time limit for “%(stage)s” of %(code)s (%(title)s) passed at %(due)s. "
        "It has been escalated to you (level %(level)s) and is now supervised. "
        "Please see that it is dealt with."
    ) % {
        "stage": _stage(stage),
        "code": code,
        "title": title,
        "due": _when(due_at),
        "level": level,
    }
    return subject, body


def emergency(code: str, title: str, location: str) -> tuple[str, str]:
    subject = _("EMERGENCY: critical complaint %(code)s") % {"code": code}
    body = _(
        "A critical complaint needs immediate attention: %(code)s, “%(title)s”%(where)s. "
        "You are alerted as an on-call leader."
    ) % {
        "code": code,
        "title": title,
        "where": (_(", at %(location)s") % {"location": location}) if location else "",
    }
    return subject, body


def extension_requested(
    code: str, stage: str, until: datetime, who: str, reason: str
) -> tuple[str, str]:
    subject = _("%(who)s asks for more time on %(code)s") % {"who": who, "code": code}
    body = _(
        "%(who)s asks to move the limit for “%(stage)s” of %(code)s to %(until)s. "
        "Reason: %(reason)s"
    ) % {"who": who, "stage": _stage(stage), "code": code, "until": _when(until), "reason": reason}
    return subject, body


def extension_decided(
    code: str, stage: str, approved: bool, until: datetime, note: str
) -> tuple[str, str]:
    params: dict[str, Any] = {"code": code, "stage": _stage(stage), "until": _when(until)}
    if approved:
        subject = _("Extension approved: %(code)s") % params
        body = _("The limit for “%(stage)s” of %(code)s is now %(until)s.") % params
    else:
        subject = _("Extension refused: %(code)s") % params
        body = _("The limit for “%(stage)s” of %(code)s stays as it was.") % params
    if note:
        body += "\n" + _("Note: %(note)s") % {"note": note}
    return subject, body
