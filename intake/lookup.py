"""Finding a complaint by tracking code and secret: slow for guessers, and watched.

Three fixed-window counters in the shared cache (``intake.ratelimit``) stand between a
visitor and the database:

* every look-up of one visitor (client address): ``LOOKUPS_PER_VISITOR`` per 10 minutes;
* failed look-ups of one code, from any address: ``FAILURES_PER_CODE`` per hour, so a
  code's secret cannot be guessed from many addresses either;
* failed and refused look-ups, per address and per code, over
  ``TRACKING_ALERT_WINDOW_MINUTES``: the one that reaches ``TRACKING_ALERT_FAILURES``
  raises the alarm — an audit entry ``tracking.enumeration_suspected`` and a message to
  the supervisors — once per subject and window, however long the run goes on. A person
  who mistyped a code gives up long before; a script walking codes does not.

A wrong code, a wrong secret and a limited visitor are told apart by nothing but the
limit itself: the code's own counter is kept whether the code exists or not, and the
secret is compared either way. When the cache is unreachable the counters let the
look-up through (``ratelimit.count`` logs it): the secret still has to be right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts import audit
from accounts.lockout import client_ip
from accounts.models import AuditEntry
from complaints import tracking
from complaints.models import Complaint
from complaints.people import supervisors
from intake import ratelimit
from notifications.services import notify

LOOKUPS_PER_VISITOR = 20
VISITOR_WINDOW = 600
FAILURES_PER_CODE = 10
CODE_WINDOW = 3600
ALERT = "tracking.enumeration_suspected"


@dataclass(frozen=True)
class Limited:
    """Refused before looking: too many attempts. ``retry_after`` in seconds."""

    retry_after: int


def look_up(request: HttpRequest, raw_code: str, secret: str) -> Complaint | Limited | None:
    """The complaint, None for "no match", or ``Limited`` when too many tries were made."""
    visitor = client_ip(request) or "unknown"
    code = tracking.normalize_tracking_code(raw_code) or raw_code.strip().upper()[:40]
    if not ratelimit.hit(
        "track-visitor", visitor, limit=LOOKUPS_PER_VISITOR, window=VISITOR_WINDOW
    ):
        # Refused before the code is considered: it counts against the address only, and
        # a walk through codes leaves no counter per code behind it in the cache.
        _failed(request, visitor, None)
        return Limited(ratelimit.window_left(VISITOR_WINDOW))
    if ratelimit.exceeded("track-code", code, limit=FAILURES_PER_CODE, window=CODE_WINDOW):
        _failed(request, visitor, code)
        return Limited(ratelimit.window_left(CODE_WINDOW))
    complaint = (
        Complaint.objects.filter(tracking_code=code)
        .only("pk", "tracking_code", "secret_hash")
        .first()
    )
    # Compare even without a complaint, so timing does not tell a known code apart.
    stored = complaint.secret_hash if complaint else tracking.hash_secret("-")
    if tracking.secret_matches(secret, stored) and complaint is not None:
        return complaint
    ratelimit.hit("track-code", code, limit=FAILURES_PER_CODE, window=CODE_WINDOW)
    _failed(request, visitor, code)
    return None


def _failed(request: HttpRequest, visitor: str, code: str | None) -> None:
    """Count a failed or refused look-up; raise the alarm when one reaches the threshold.

    Exactly one attempt per subject and window sees the count equal the threshold (the
    cache's increment is atomic), so the alarm goes once. A cache may still lose a
    counter (the embedded file cache culls entries when full) and count again; the alarm
    then finds its audit entry of this window and stays silent, and the outbox's key
    stores the message once. One address hammering one code moves both counts together:
    the address's alarm then stands for both.
    """
    threshold = settings.TRACKING_ALERT_FAILURES
    if threshold <= 0:
        return  # 0 turns the alarm off
    window = settings.TRACKING_ALERT_WINDOW_MINUTES * 60
    subjects: list[tuple[Literal["address", "code"], str]] = [("address", visitor)]
    if code is not None:
        subjects.append(("code", code))
    for kind, subject in subjects:
        if ratelimit.count(f"track-failed-{kind}", subject, window=window) == threshold:
            _alarm(request, kind, subject, threshold, window)
            return


def _alarm(
    request: HttpRequest,
    kind: Literal["address", "code"],
    subject: str,
    failures: int,
    window: int,
) -> None:
    """The audit entry and the supervisors' message for one suspected run of guesses."""
    minutes = window // 60
    target = f"address:{subject}" if kind == "address" else f"tracking_code:{subject}"
    values = {"subject": subject, "count": failures, "minutes": minutes}

    def compose(_recipient: object) -> tuple[str, str]:
        # Runs in the recipient's language (notify switches to it).
        if kind == "address":
            body = _(
                "%(count)s failed or refused look-ups on the tracking page came from the "
                "address %(subject)s within %(minutes)s minutes: someone may be trying "
                "tracking codes one after another. Its look-ups are refused for now; the "
                "audit log has the entry “tracking.enumeration_suspected”."
            )
        else:
            body = _(
                "%(count)s failed or refused look-ups of the tracking code %(subject)s came "
                "within %(minutes)s minutes, from one or more addresses: someone may be "
                "guessing its secret. Look-ups of this code are refused for now; the audit "
                "log has the entry “tracking.enumeration_suspected”."
            )
        return _("Tracking page: possible guessing of codes"), body % values

    period = int(time.time() // window)
    began = datetime.fromtimestamp(period * window, tz=UTC)
    if AuditEntry.objects.filter(action=ALERT, target=target, at__gte=began).exists():
        return  # raised already in this window (its counter was lost and counted again)
    with transaction.atomic():
        audit.record(
            ALERT, request=request, target=target, failures=failures, window_minutes=minutes
        )
        notify(
            supervisors(),
            kind=ALERT,
            compose=compose,
            key=f"{ALERT}:{target}:{period}",
            channels=settings.TRACKING_ALERT_CHANNELS,
        )
