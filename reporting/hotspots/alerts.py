"""Early warning to supervisors: one message per spike and day, in the console and by e-mail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from complaints.people import supervisors
from notifications.services import Notice, Recipient, notify_many
from reporting.hotspots.spikes import Spike, spikes

KIND = "reporting.hotspot"


def alert_supervisors(*, now: datetime | None = None) -> int:
    """Tell the supervisors (else administrators) about every spike; how many messages.

    Each value — a category, keyword or area — is told about at most once a day, with its
    most unusual window, whatever the number of runs: the notification key names the
    kind, the value and the local date, and the outbox stores a key only once.
    """
    now = now or timezone.now()
    found = spikes(now=now)
    if not found:
        return 0
    recipients = supervisors()
    day = timezone.localdate(now).isoformat()
    channels = settings.HOTSPOT_ALERT_CHANNELS
    url = reverse("reporting:hotspots")
    notices = [
        Notice(
            recipients=recipients,
            kind=KIND,
            compose=_composer(spike),
            key=f"{KIND}:{spike.dimension}:{spike.key}:{day}",
            channels=channels,
            url=url,
        )
        for spike in found
    ]
    with transaction.atomic():
        return notify_many(notices)


def _composer(spike: Spike) -> Callable[[User | Recipient], tuple[str, str]]:
    def compose(recipient: User | Recipient) -> tuple[str, str]:
        # Runs in the recipient's language: the category's name and the words follow it.
        worst = spike.worst
        values = {
            "dimension": spike.dimension_label,
            "label": spike.label,
            "count": worst.count,
            "window": worst.window.label,
            "usual": f"{worst.usual:.1f}",
        }
        subject = _("Early warning: %(count)s complaints about “%(label)s” in the %(window)s") % (
            values
        )
        body = (
            _(
                "%(dimension)s “%(label)s”: %(count)s complaints in the %(window)s, where about "
                "%(usual)s would be usual. Please look at the hotspots page."
            )
            % values
        )
        return subject, body

    return compose
