"""The login lockout: repeated failures lock a username, and throttle a client address.

A username is locked for ``LOGIN_LOCKOUT_MINUTES`` once ``LOGIN_MAX_FAILURES`` failed
logins for it fall within that many minutes; a client address likewise after
``LOGIN_IP_MAX_FAILURES``, whatever usernames it tried, so one address cannot spray
guesses over many accounts. Failures are ``LoginFailure`` rows in the database, so every
web process counts the same ones (the embedded cache is per host, not per deployment).

While a lock holds no password is checked and no failure is counted: the right password
gets the same answer as a wrong one, and the lock ends on time. A successful login
deletes that username's failures; an address's failures only age out, so logging in to
one account does not reset the count of an address spraying others.

``accounts.backends.LockoutBackend`` applies this to every door that authenticates;
``accounts.forms`` turns a lock into the message the console and the back-office show.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

from accounts.models import LoginFailure

logger = logging.getLogger(__name__)


def _window() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: from ``LOGIN_CLIENT_IP_HEADER`` behind a proxy, else the peer.

    Of a list (X-Forwarded-For) the last entry counts: the one our own proxy appended; the
    entries before it are whatever the client chose to send.
    """
    if request is None:
        return None
    header = settings.LOGIN_CLIENT_IP_HEADER
    value = request.META.get(header, "") if header else ""
    value = value.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _locked_until(failures: QuerySet[LoginFailure], limit: int, now: datetime) -> datetime | None:
    """The end of the lock these failures impose, if it is still in force.

    Only the latest ``limit`` failures matter: no failure is counted during a lock, so the
    run that started the current lock, if any, is the latest one.
    """
    window = _window()
    times = list(
        failures.filter(at__gt=now - 2 * window)
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if limit < 1 or len(times) < limit or times[0] - times[-1] > window:
        return None
    until = times[0] + window
    return until if until > now else None


def locked_until(*, username: str, ip: str | None) -> datetime | None:
    """When the lock on this username or this address ends; None when neither is locked."""
    now = timezone.now()
    locks = [
        _locked_until(
            LoginFailure.objects.filter(username=username), settings.LOGIN_MAX_FAILURES, now
        )
    ]
    if ip is not None:
        locks.append(
            _locked_until(LoginFailure.objects.filter(ip=ip), settings.LOGIN_IP_MAX_FAILURES, now)
        )
    return max((until for until in locks if until is not None), default=None)


def record_failure(*, username: str, ip: str | None) -> None:
    """Count one failed login; log a warning when it locks the username or the address.

    Called only while neither is locked, so a lock found afterwards began with this one.
    """
    now = timezone.now()
    LoginFailure.objects.create(username=username, ip=ip, at=now)
    LoginFailure.objects.filter(at__lt=now - 2 * _window()).delete()
    user_lock = _locked_until(
        LoginFailure.objects.filter(username=username), settings.LOGIN_MAX_FAILURES, now
    )
    from accounts import audit  # audit imports client_ip from here

    if user_lock is not None:
        audit.login_locked(username=username, ip=ip, until=user_lock, by="username")
        logger.warning(
            "Login locked for username %r until %s: %d failed attempts (last from %s)",
            username,
            user_lock.isoformat(),
            settings.LOGIN_MAX_FAILURES,
            ip,
        )
    if ip is not None:
        ip_lock = _locked_until(
            LoginFailure.objects.filter(ip=ip), settings.LOGIN_IP_MAX_FAILURES, now
        )
        if ip_lock is not None:
            audit.login_locked(username=username, ip=ip, until=ip_lock, by="address")
            logger.warning(
                "Login locked for address %s until %s: %d failed attempts (last for %r)",
                ip,
                ip_lock.isoformat(),
                settings.LOGIN_IP_MAX_FAILURES,
                username,
            )


def clear_failures(*, username: str) -> None:
    """Forget a username's failures after a successful login."""
    LoginFailure.objects.filter(username=username).delete()


def lockout_message(until: datetime) -> str:
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
